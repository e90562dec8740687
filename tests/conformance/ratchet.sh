#!/usr/bin/env bash
# Conformance ratchet: run the engine's asl-run over the AWS-recorded corpus and fail if any case
# listed in passing.txt no longer passes (a ratchet, not a threshold).
# Usage: tests/conformance/ratchet.sh [--update] [--report FILE]
#   --update       rewrite passing.txt from this run (records newly passing cases)
#   --report FILE  keep the per-case run report (JSON Lines) for tests/conformance/table.py
# The corpus is read from $ASL_CONFORMANCE_DIR, by default ../shared/asl-conformance beside the
# repo. CARGO_TARGET_DIR and JOBS are honoured.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cases_dir="${ASL_CONFORMANCE_DIR:-$root/../shared/asl-conformance}"
target="${CARGO_TARGET_DIR:-$root/target}"
passing="$here/passing.txt"

update=0
keep_report=""
while [ $# -gt 0 ]; do
  case "$1" in
    --update) update=1; shift ;;
    --report)
      [ $# -ge 2 ] || { echo "usage: $0 [--update] [--report FILE]" >&2; exit 2; }
      keep_report="$2"; shift 2 ;;
    *) echo "usage: $0 [--update] [--report FILE]" >&2; exit 2 ;;
  esac
done

if [ ! -f "$cases_dir/cases.jsonl" ] || [ ! -f "$cases_dir/run_cases.py" ]; then
  echo "conformance ratchet: corpus not found: expected cases.jsonl and run_cases.py in" >&2
  echo "  $cases_dir" >&2
  echo "  (put the asl-conformance corpus there or set ASL_CONFORMANCE_DIR)" >&2
  exit 2
fi

report="$(mktemp /tmp/asl-ratchet-report.XXXXXX.jsonl)"
lambdas="$(mktemp /tmp/asl-ratchet-lambdas.XXXXXX.json)"
scored="$(mktemp /tmp/asl-ratchet-scored.XXXXXX.txt)"
runnable="$(mktemp /tmp/asl-ratchet-cases.XXXXXX.jsonl)"
trap 'rm -rf "$report" "$lambdas" "${lambdas%.json}.d" "$scored" "$runnable"' EXIT

(cd "$root" && cargo build --release -p asl-run --bin asl-run)

# "Deploy" the corpus's Lambda functions: each case names its functions and ships their handler
# source; asl-run runs each source in Lambda's Python runtime (lambda-local: one warm python3
# sandbox per function). LocalStack's test utility created them with Timeout 8 s
# (testutil.LAMBDA_TIMEOUT_SEC), which is why a 60 s handler meets a 5 s TimeoutSeconds first.
python3 - "$cases_dir/cases.jsonl" "$lambdas" <<'PY'
import json, os, sys
out = sys.argv[2]
sources = os.path.splitext(out)[0] + ".d"
os.makedirs(sources, exist_ok=True)
registry = {}
for line in open(sys.argv[1]):
    for f in json.loads(line).get("lambda_functions") or []:
        path = os.path.join(sources, f["func_name"] + ".py")
        with open(path, "w") as fh:
            fh.write(f["source"])
        registry[f["func_name"]] = {"source": path, "runtime": f["runtime"].replace("_", "."), "timeout": 8}
json.dump(registry, open(out, "w"), indent=1)
PY
export ASL_RUN_LAMBDAS="$lambdas"

# run_cases.py runs the executions. The TestState calls (mode=test_state) and the
# ValidateStateMachineDefinition cases (mode=validate) go through request_cases.py, which sends
# the whole recorded request (run_cases.py leaves out stateConfiguration) and scores TestState
# answers with run_cases.py's own compare; tests/tests/api_test_state.rs sends the same requests
# to `sfn-local serve` through the AWS CLI and aws-sdk-sfn.
python3 - "$cases_dir/cases.jsonl" "$runnable" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        if json.loads(line)["mode"] == "execution":
            out.write(line)
PY
python3 "$cases_dir/run_cases.py" --cases "$runnable" \
  --cmd "$target/release/asl-run" --jobs "${JOBS:-2}" --report "$report" >"$scored"
python3 "$here/request_cases.py" --cases "$cases_dir/cases.jsonl" \
  --cmd "$target/release/asl-run" --report "$report" >>"$scored"
# The scorer's per-category lines are informative; its total line ("N passed, M failed") counts
# cases that differ from AWS, not ratchet failures: the corpus total is printed from the report.
grep -Ev '^[0-9]+ passed, [0-9]+ failed, [0-9]+ errors, [0-9]+ skipped$' "$scored" || true
python3 - "$report" <<'PY'
import collections, json, sys
n = collections.Counter(json.loads(l)["result"] for l in open(sys.argv[1]))
print("corpus: %d agree with AWS, %d differ, %d harness errors, %d skipped"
      % (n["pass"], n["fail"], n["error"], n["skip"]))
PY

if [ -n "$keep_report" ]; then
  cp "$report" "$keep_report"
fi

if [ "$update" = 1 ]; then
  python3 - "$report" "$passing" <<'PY'
import json, sys
ids = sorted(json.loads(l)["id"] for l in open(sys.argv[1]) if json.loads(l)["result"] == "pass")
open(sys.argv[2], "w").write("".join(i + "\n" for i in ids))
print("passing.txt: %d cases recorded" % len(ids))
PY
fi

python3 - "$report" "$passing" <<'PY'
import json, sys
results = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    results[r["id"]] = r
expected = [l.strip() for l in open(sys.argv[2]) if l.strip()]
regressed = [i for i in expected if results.get(i, {}).get("result") != "pass"]
for i in regressed:
    r = results.get(i)
    print("REGRESSED: %s (%s)" % (i, r.get("detail") if r else "case not run"))
listed = set(expected)
newly = sum(1 for i, r in results.items() if r["result"] == "pass" and i not in listed)
if newly:
    print("%d passing cases not yet listed in passing.txt (run with --update to record them)" % newly)
print("conformance ratchet: %d passed, %d failed" % (len(expected) - len(regressed), len(regressed)))
sys.exit(1 if regressed else 0)
PY
