#!/usr/bin/env bash
# Conformance ratchet: run the engine's asl-run over the AWS-recorded corpus and fail if any case
# listed in passing.txt no longer passes. `--update` rewrites passing.txt from this run.
# Usage: tests/conformance/ratchet.sh [--update]   (CARGO_TARGET_DIR is honoured)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cases_dir="${ASL_CONFORMANCE_DIR:-$root/../shared/asl-conformance}"
target="${CARGO_TARGET_DIR:-$root/target}"
passing="$here/passing.txt"
report="$(mktemp /tmp/asl-ratchet-report.XXXXXX.jsonl)"
trap 'rm -f "$report"' EXIT

update=0
case "${1:-}" in
  --update) update=1 ;;
  "") ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

(cd "$root" && cargo build --release -p asl --bin asl-run)

# "Deploy" the corpus's trivial Lambda functions in-process: each case names its functions and
# their handler files; asl-run maps the handler file to an in-process handler (see lambdas.rs).
lambdas="$(mktemp /tmp/asl-ratchet-lambdas.XXXXXX.json)"
trap 'rm -f "$report" "$lambdas"' EXIT
python3 - "$cases_dir/cases.jsonl" "$lambdas" <<'PY'
import json, sys
m = {}
for line in open(sys.argv[1]):
    for f in json.loads(line).get("lambda_functions") or []:
        m[f["func_name"]] = f["handler_file"]
json.dump(m, open(sys.argv[2], "w"))
PY
export ASL_RUN_LAMBDAS="$lambdas"

python3 "$cases_dir/run_cases.py" --cases "$cases_dir/cases.jsonl" \
  --cmd "$target/release/asl-run" --jobs "${JOBS:-2}" --report "$report"

if [ "$update" = 1 ]; then
  python3 - "$report" "$passing" <<'PY'
import json, sys
ids = sorted(json.loads(l)["id"] for l in open(sys.argv[1]) if json.loads(l)["result"] == "pass")
open(sys.argv[2], "w").write("".join(i + "\n" for i in ids))
print("passing.txt: %d cases" % len(ids))
PY
  exit 0
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
newly = sum(1 for i, r in results.items() if r["result"] == "pass") - (len(expected) - len(regressed))
print("ratchet: %d listed, %d regressed, %d newly passing (run with --update to record them)" % (len(expected), len(regressed), newly))
sys.exit(1 if regressed else 0)
PY
