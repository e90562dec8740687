#!/usr/bin/env bash
# Cold starts of the five Lambda bootstraps against a local Runtime API (tests/bench/runtime_api.py):
# init time (spawn -> first GET .../invocation/next), first-event latency (event delivered -> response
# or error posted; the AWS calls go to a seeded moto server), peak RSS, and the bootstrap sizes.
#
#   bash tests/bench/functions.sh                    # 20 cold starts per function, ~1-2 min once built
#   bash tests/bench/functions.sh --quick            # 3 per function (smoke, e.g. for CI)
#   bash tests/bench/functions.sh --iterations 50 --functions build-failed-header,load-order
#
# Binaries: package.sh deploys arm64, which cannot run here, so this builds the same packages with
# the same release profile for x86_64 with cargo lambda into target/bench-lambda/<name>/bootstrap
# (a no-op when up to date; without cargo-lambda, `cargo build --release`). Sizes: the measured
# x86_64 bootstrap and, when present, the deployed one (target/lambda, flagged if older than the
# sources). Targets (issue 6): init <= 5 ms median, bootstrap <= 4 MB, peak RSS <= 16 MB.
# Not part of the CI test command (tests/run.sh). Needs .tools/moto (tests/tools/install-moto.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD

iterations=20
build=1
functions=(load-order build-failed-header save-order log-attempt notify-failure)
while (($#)); do
    case $1 in
        --quick) iterations=3 ;;
        --iterations) iterations=$2; shift ;;
        --functions) IFS=, read -r -a functions <<<"$2"; shift ;;
        --no-build) build=0 ;;
        *) echo "usage: $0 [--quick] [--iterations N] [--functions a,b] [--no-build]" >&2; exit 2 ;;
    esac
    shift
done
[[ -x .tools/moto/bin/python ]] || { echo "functions: .tools/moto missing: bash tests/tools/install-moto.sh" >&2; exit 2; }
target=${CARGO_TARGET_DIR:-$root/target}

elf_arch() { # the ELF machine of $1: x86_64, aarch64 or other
    python3 -c 'import sys
with open(sys.argv[1], "rb") as f: h = f.read(20)
m = int.from_bytes(h[18:20], "little") if h[:4] == b"\x7fELF" else 0
print({0x3E: "x86_64", 0xB7: "aarch64"}.get(m, "other"))' "$1"
}
host=$(uname -m)

declare -A bin
packages=()
for f in "${functions[@]}"; do packages+=(--package "$f"); done
# Always (re)build: cargo does nothing when the sources have not changed, and a stale binary
# would measure old code. The deployed arm64 bootstraps (package.sh) cannot run on this host.
start=$SECONDS
if ((build)) && [[ -x .tools/static-lambda/bin/cargo-lambda ]]; then
    echo "functions: cargo lambda build --release --x86-64 (${functions[*]}) into $target/bench-lambda"
    PATH=$root/.tools/static-lambda/bin:$PATH cargo lambda build --release --x86-64 \
        --lambda-dir "$target/bench-lambda" "${packages[@]}" 2>"$target/bench-lambda.log" ||
        { tail -30 "$target/bench-lambda.log" >&2; exit 1; }
    echo "functions: built in $((SECONDS - start))s"
elif ((build)); then
    echo "functions: cargo-lambda not installed (tests/tools/install-static.sh); cargo build --release"
    cargo build --release "${packages[@]}"
    mkdir -p "$target/bench-lambda"
    for f in "${functions[@]}"; do mkdir -p "$target/bench-lambda/$f" && cp "$target/release/$f" "$target/bench-lambda/$f/bootstrap"; done
fi
for f in "${functions[@]}"; do
    bin[$f]=$target/bench-lambda/$f/bootstrap
    [[ -x ${bin[$f]} ]] || { echo "functions: ${bin[$f]} missing (run without --no-build)" >&2; exit 1; }
    [[ $(elf_arch "${bin[$f]}") == "$host" ]] || { echo "functions: ${bin[$f]} is not a $host binary" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/tools/moto.sh
source tests/tools/moto.sh >/dev/null 2>"$work/moto-start.log" || { cat "$work/moto-start.log" >&2; exit 1; }
.tools/moto/bin/python tests/bench/seed_moto.py --endpoint "$MOTO_ENDPOINT" >"$work/env"
envargs=()
while IFS= read -r kv; do envargs+=(--env "$kv"); done <"$work/env"

# The floor: the same harness with the smallest possible Runtime API client (C, if cc exists).
names=()
mkdir -p "$work/floor"
if command -v cc >/dev/null && cc -O2 -o "$work/floor/bootstrap" tests/bench/floor.c 2>/dev/null; then
    bin[floor]=$work/floor/bootstrap
    names+=(floor)
fi
names+=("${functions[@]}")

# Round robin (one cold start of each, N rounds) rather than N in a row: load from anything else
# on the machine then hits every function alike, and init - floor can be paired per round.
echo "functions: $iterations rounds of cold starts on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 0; i < iterations; i++)); do
    for f in "${names[@]}"; do
        event=events/functions/$f.json unique=()
        case $f in
            floor) event=events/functions/build-failed-header.json ;;
            log-attempt | notify-failure) unique=(--unique attemptId --first-index "$i") ;;
        esac
        python3 tests/bench/runtime_api.py --bootstrap "${bin[$f]}" --name "$f" --event "$event" \
            --iterations 1 "${unique[@]}" "${envargs[@]}" --json >>"$work/$f.jsonl" || true
    done
done

python3 - "$work" "$target" "${names[@]}" <<'PY'
import json, os, statistics, sys
work, target, names = sys.argv[1], sys.argv[2], sys.argv[3:]
def arch(p):
    with open(p, "rb") as f:
        h = f.read(20)
    return {0x3E: "x86_64", 0xB7: "arm64"}.get(int.from_bytes(h[18:20], "little"), "?")
def load(f):
    try:
        lines = [json.loads(l) for l in open(f"{work}/{f}.jsonl") if l.strip()]
    except OSError:
        return None
    runs = [r for l in lines for r in l["runs"]]
    return {"runs": runs, "bytes": lines[0]["bootstrap_bytes"] if lines else 0}
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
data = {f: load(f) for f in names}
floor = data.get("floor")
print()
print(f"{'function':<22}{'init ms':>9}{'-floor':>8}{'(max)':>8}{'1st event ms':>14}{'peak RSS MB':>13}{'bootstrap MB':>14}{'deployed MB':>21}  outcomes")
ok, verdicts = True, []
for f in names:
    d = data[f]
    if not d or not d["runs"]:
        print(f"{f:<22} no result (the bootstrap never reached the Runtime API)")
        ok = False
        continue
    runs = d["runs"]
    init = med(r["init_ms"] for r in runs)
    paired = None
    if floor and f != "floor":
        paired = med(a["init_ms"] - b["init_ms"] for a, b in zip(runs, floor["runs"])
                     if a["init_ms"] is not None and b["init_ms"] is not None)
    rss = max((r["rss_kb"] for r in runs if r["rss_kb"] is not None), default=None)
    outcomes = {}
    for r in runs:
        key = r["outcome"] + (f":{r['errorType']}" if r.get("errorType") else "")
        outcomes[key] = outcomes.get(key, 0) + 1
    deployed = f"{target}/lambda/{f}/bootstrap"
    measured = f"{target}/bench-lambda/{f}/bootstrap"
    fresh = f != "floor" and os.path.exists(deployed) and os.path.getmtime(deployed) >= os.path.getmtime(measured) - 600
    dep = (f"{os.path.getsize(deployed) / 1e6:.2f} {arch(deployed)}{'' if fresh else ' (stale)'}"
           if f != "floor" and os.path.exists(deployed) else "-")
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    print(f"{f:<22}{fmt(init, '.2f'):>9}{fmt(paired, '.2f'):>8}{fmt(max((r['init_ms'] or 0) for r in runs), '.1f'):>8}"
          f"{fmt(med(r['first_event_ms'] for r in runs), '.2f'):>14}{fmt(rss and rss / 1024, '.1f'):>13}"
          f"{d['bytes'] / 1e6:>14.2f}{dep:>21}  {', '.join(f'{k} x{v}' for k, v in sorted(outcomes.items()))}")
    if f != "floor":
        size = max(d["bytes"], os.path.getsize(deployed) if fresh else 0)
        met = lambda c: "met" if c else "MISSED"
        verdicts.append(f"functions: {f}: init {met(init is not None and init <= 5)} (<= 5 ms median), "
                        f"RSS {met(rss is not None and rss <= 16 * 1024)} (<= 16 MB), size {met(size <= 4_000_000)} (<= 4 MB)")
print()
print("\n".join(verdicts))
print("functions: medians over the rounds; '-floor' = median of per-round (init - the floor's init), i.e. the")
print("functions: function's own start-up without the harness's spawn and HTTP costs.")
sys.exit(0 if ok else 1)
PY
