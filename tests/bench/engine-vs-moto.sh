#!/usr/bin/env bash
# Side by side, in one run: the same definitions (Pass chain, Choice loop, Map; no tasks) executed
# by this engine and by moto's Step Functions interpreter; prints medians and their ratio.
#
#   bash tests/bench/engine-vs-moto.sh           # full: ~2-4 min (builds the bench binary once)
#   bash tests/bench/engine-vs-moto.sh --quick   # smoke: small workloads, 3 moto runs each, ~1 min
#
# Columns: moto = StartExecution -> DescribeExecution no longer RUNNING (polled every 5 ms, boto3
# over HTTP, moto's interpreter thread); asl = Engine::run in-process (run-definition bench binary,
# no HTTP); asl-run = one asl-run process per execution (spawn, parse, run, print), the engine's
# closest analogue of a whole request. Both engines' outputs are compared (fidelity check).
# Not part of the CI test command (tests/run.sh): bounded, but timing-sensitive and slow.
# Needs .tools/moto (bash tests/tools/install-moto.sh). CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD

quick=0
for a in "$@"; do
    case $a in
        --quick) quick=1 ;;
        *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
    esac
done
if ((quick)); then
    workloads=(pass_chain:20 choice_loop:10 map:20)
    moto_iterations=3 asl_iterations=50 process_iterations=5 moto_budget=20
else
    workloads=(pass_chain:100 choice_loop:50 map:100 map:1000)
    moto_iterations=10 asl_iterations=200 process_iterations=20 moto_budget=60
fi

[[ -x .tools/moto/bin/python ]] || { echo "engine-vs-moto: .tools/moto missing: bash tests/tools/install-moto.sh" >&2; exit 2; }
export AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing

echo "engine-vs-moto: building the engine (bench profile = release, asl at opt-level 3)"
runner=$(cargo bench -p asl --bench run-definition --no-run --message-format=json 2>"${TMPDIR:-/tmp}/engine-vs-moto-build.log" |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "run-definition":
        print(m["executable"])')
cargo build --release -p asl-run --bin asl-run --quiet 2>>"${TMPDIR:-/tmp}/engine-vs-moto-build.log" || true
asl_run=${CARGO_TARGET_DIR:-$root/target}/release/asl-run
if [[ ! -x $runner || ! -x $asl_run ]]; then
    echo "engine-vs-moto: build failed:" >&2
    tail -20 "${TMPDIR:-/tmp}/engine-vs-moto-build.log" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
specs=$(IFS=,; echo "${workloads[*]}")
"$runner" --emit "$work" --emit-workloads "$specs" >/dev/null

# shellcheck source=tests/tools/moto.sh
source tests/tools/moto.sh >/dev/null 2>"$work/moto-start.log" || { cat "$work/moto-start.log" >&2; exit 1; }

echo "engine-vs-moto: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); moto $(.tools/moto/bin/python -c 'import moto; print(moto.__version__)')"
for w in "${workloads[@]}"; do
    stem=${w/:/-}
    def=$work/$stem.asl.json input=$work/$stem.input.json
    .tools/moto/bin/python tests/bench/moto_sfn.py --endpoint "$MOTO_ENDPOINT" --definition "$def" --input "$input" \
        --iterations "$moto_iterations" --max-seconds "$moto_budget" >"$work/$stem.moto.json" || true
    "$runner" --definition "$def" --input "$input" --iterations "$asl_iterations" --max-seconds 20 --print-output \
        >"$work/$stem.asl.json.out"
    python3 - "$asl_run" "$def" "$input" "$process_iterations" >"$work/$stem.process.json" <<'PY'
import json, statistics, subprocess, sys, time
exe, d, i, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
xs, out = [], None
budget = time.perf_counter() + 20  # bounded: at least one run, then at most ~20 s
for _ in range(n):
    if xs and time.perf_counter() > budget:
        break
    t = time.perf_counter()
    p = subprocess.run([exe, "--definition", d, "--input", i], capture_output=True, check=True)
    xs.append((time.perf_counter() - t) * 1000)
    out = json.loads(p.stdout)
print(json.dumps({"median_ms": statistics.median(xs), "status": out.get("status")}))
PY
done

python3 - "$work" "${workloads[@]}" <<'PY'
import json, sys
work, workloads = sys.argv[1], sys.argv[2:]
print()
print(f"{'workload':<18}{'transitions':>12}{'moto ms':>10}{'asl ms':>10}{'asl-run ms':>12}{'moto/asl':>10}{'moto/asl-run':>14}  outputs")
worst = None
for w in workloads:
    stem = w.replace(":", "-")
    asl = json.load(open(f"{work}/{stem}.asl.json.out"))
    proc = json.load(open(f"{work}/{stem}.process.json"))
    try:
        moto = json.load(open(f"{work}/{stem}.moto.json"))
    except (OSError, ValueError):
        moto = {"status": "NO RESULT", "median_ms": None}
    a_ms = asl["median_us"] / 1000
    if moto.get("status") != "SUCCEEDED" or moto.get("median_ms") is None:
        print(f"{w:<18}{asl['transitions']:>12}{'-':>10}{a_ms:>10.3f}{proc['median_ms']:>12.2f}  moto: {moto.get('status')} {moto.get('error')}")
        continue
    ratio = moto["median_ms"] / a_ms
    pratio = moto["median_ms"] / proc["median_ms"]
    same = "agree" if moto.get("output") == asl.get("output") else "DIFFER"
    worst = ratio if worst is None else min(worst, ratio)
    print(f"{w:<18}{asl['transitions']:>12}{moto['median_ms']:>10.1f}{a_ms:>10.3f}{proc['median_ms']:>12.2f}{ratio:>9.0f}x{pratio:>13.0f}x  {same}")
first = workloads[0].replace(":", "-")
moto_n = json.load(open(f"{work}/{first}.moto.json")).get("iterations", "?")
asl_n = json.load(open(f"{work}/{first}.asl.json.out"))["iterations"]
print()
if worst is None:
    print("engine-vs-moto: no moto result")
    sys.exit(1)
print(f"engine-vs-moto: medians of {moto_n} moto runs and {asl_n} asl runs per workload; "
      f"smallest ratio moto/asl = {worst:.0f}x (target >= 100x)")
PY
