#!/usr/bin/env python3
"""Score the corpus's mode=validate cases (ValidateStateMachineDefinition), which run_cases.py
does not run: each definition text goes to `<cmd> --validate --definition FILE`, whose JSON
answer must equal AWS's recorded {result, diagnostics, truncated}.

Usage: validate_cases.py --cases CASES.jsonl --cmd ASL_RUN --report REPORT.jsonl (appends)
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--cmd", required=True)
    ap.add_argument("--report", required=True)
    args = ap.parse_args()
    results = []
    for line in open(args.cases):
        c = json.loads(line)
        if c["mode"] != "validate":
            continue
        text = c["definition_text"] if "definition_text" in c else json.dumps(c["definition"])
        with tempfile.TemporaryDirectory() as td:
            dp = os.path.join(td, "definition.json")
            with open(dp, "w") as fh:
                fh.write(text)
            p = subprocess.run(shlex.split(args.cmd) + ["--validate", "--definition", dp],
                               capture_output=True, text=True, timeout=20)
        r = {"id": c["id"], "category": c["category"]}
        if p.returncode != 0:
            r.update(result="error", detail="exit %d: %s" % (p.returncode, p.stderr.strip()[-300:]))
        else:
            try:
                actual = json.loads(p.stdout)
            except ValueError:
                actual = None
            if actual == c["expected"]:
                r["result"] = "pass"
            else:
                r.update(result="fail", detail="validation answer differs", actual=actual,
                         expected=c["expected"])
        results.append(r)
    with open(args.report, "a") as fh:
        for r in results:
            fh.write(json.dumps(r) + "\n")
    n = {k: sum(1 for r in results if r["result"] == k) for k in ("pass", "fail", "error")}
    print("%-50s %s" % ("validate (validate_cases.py)", {k: v for k, v in n.items() if v}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
