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
if command -v cc >/dev/null && cc -O2 -o "$work/floor" tests/bench/floor.c 2>/dev/null; then
    python3 tests/bench/runtime_api.py --bootstrap "$work/floor" --name floor --event events/functions/build-failed-header.json \
        --iterations "$iterations" --json >"$work/floor.json"
fi

echo "functions: $iterations cold starts per function on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for f in "${functions[@]}"; do
    unique=()
    case $f in log-attempt | notify-failure) unique=(--unique attemptId) ;; esac
    python3 tests/bench/runtime_api.py --bootstrap "${bin[$f]}" --name "$f" --event "events/functions/$f.json" \
        --iterations "$iterations" "${unique[@]}" "${envargs[@]}" --json >"$work/$f.json" || true
done

python3 - "$work" "$target" "${functions[@]}" <<'PY'
import json, os, sys
work, target, functions = sys.argv[1], sys.argv[2], sys.argv[3:]
def arch(p):
    with open(p, "rb") as f:
        h = f.read(20)
    return {0x3E: "x86_64", 0xB7: "arm64"}.get(int.from_bytes(h[18:20], "little"), "?")
rows, ok = [], True
print()
print(f"{'function':<22}{'init ms':>9}{'(max)':>8}{'1st event ms':>14}{'peak RSS MB':>13}{'bootstrap MB':>14}{'deployed MB':>20}  outcome")
names = (["floor"] if os.path.exists(f"{work}/floor.json") else []) + functions
for f in names:
    try:
        r = json.load(open(f"{work}/{f}.json"))
    except (OSError, ValueError):
        print(f"{f:<22} no result (the bootstrap never reached the Runtime API)")
        ok = False
        continue
    deployed = f"{target}/lambda/{f}/bootstrap"
    measured = f"{target}/bench-lambda/{f}/bootstrap" if f != "floor" else f"{work}/floor"
    fresh = f != "floor" and os.path.exists(deployed) and os.path.getmtime(deployed) >= os.path.getmtime(measured) - 600
    dep = (f"{os.path.getsize(deployed) / 1e6:.2f} {arch(deployed)}{'' if fresh else ' (stale)'}"
           if os.path.exists(deployed) else "-")
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    print(f"{f:<22}{fmt(r['init_ms_median'], '.2f'):>9}{fmt(r['init_ms_max'], '.1f'):>8}"
          f"{fmt(r['first_event_ms_median'], '.2f'):>14}{fmt(r['rss_kb_max'] and r['rss_kb_max'] / 1024, '.1f'):>13}"
          f"{r['bootstrap_bytes'] / 1e6:>14.2f}{dep:>20}  {','.join(r['outcomes'])}")
    if f != "floor":
        size = max(r["bootstrap_bytes"], os.path.getsize(deployed) if fresh else 0)
        rows.append((f, r["init_ms_median"], r["rss_kb_max"], size, r["outcomes"], r.get("first_failure")))
print()
for f, init, rss, size, outcomes, failure in rows:
    met = lambda c: "met" if c else "MISSED"
    print(f"functions: {f}: init {met(init is not None and init <= 5)} (<= 5 ms), "
          f"RSS {met(rss is not None and rss <= 16 * 1024)} (<= 16 MB), size {met(size <= 4_000_000)} (<= 4 MB)")
    if any(o.startswith(("error", "init_error")) for o in outcomes):
        print(f"functions: {f}: function errors: {', '.join(o for o in outcomes if o.startswith(('error', 'init_error')))}")
    if failure:
        print(f"functions: {f}: a cold start ended '{failure['outcome']}' (init {failure['init_ms']} ms)")
print("functions: medians over the cold starts; init and first event include the harness (the floor row).")
sys.exit(0 if ok else 1)
PY
