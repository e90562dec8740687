#!/usr/bin/env python3
"""Score the corpus's TestState (mode=test_state) and ValidateStateMachineDefinition (mode=validate)
cases with the whole recorded request (run_cases.py leaves out stateConfiguration), through one of:

  --cmd ASL_RUN         asl-run (--test-state ... --state-configuration FILE, --validate)
  --cli ENDPOINT        the AWS CLI against `sfn-local serve` at ENDPOINT: its driver
                        (awscli.clidriver, what the `aws` command runs) called once per case in
                        this process; run this script with the CLI's own Python (.tools/awscli)
  --answers FILE        answers another client wrote (JSON Lines {"id", "answer"} with the API's
                        answer, or {"id", "refused": {"code", "message"}} for an API error;
                        aws-sdk-sfn in tests/tests/api_test_state.rs)

A TestState answer is scored by the corpus's own run_cases.compare; a validate answer must equal
AWS's. inspectionData is not scored by run_cases.py: it is compared here too, reported apart
("inspectionData agrees") and never fails a case.

Usage: request_cases.py --cases CASES.jsonl (--cmd X | --cli URL | --answers F) --report R.jsonl
       [--requests OUT.jsonl]   also write each case's API request (what the SDK test sends)
Appends to --report one line per case: {"id", "category", "result", ...} (as run_cases.py).
"""

import argparse
import contextlib
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile

# The role asl-run's TestState runs with; the API clients pass it as roleArn, so both see the same.
ROLE_ARN = "arn:aws:iam::111111111111:role/StepFunctionsRole"


def load_corpus_scorer(cases_path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(cases_path)))
    import run_cases  # noqa: E402  (the corpus's scorer: compare, wildcards)
    import extract  # noqa: E402

    return run_cases, extract


def request_of(case):
    """The API request a case recorded: TestState's or ValidateStateMachineDefinition's members."""
    if case["mode"] == "validate":
        text = case["definition_text"] if "definition_text" in case else json.dumps(case["definition"])
        return {"definition": text}
    p = case.get("test_state_params", {})
    r = {"definition": json.dumps(case["definition"]), "input": json.dumps(case["input"]), "roleArn": ROLE_ARN}
    for k in ("stateName", "inspectionLevel", "mock", "stateConfiguration"):
        if k in p:
            r[k] = p[k]
    for k in ("variables", "context"):
        if k in p:
            r[k] = json.dumps(p[k])
    return r


def parse_json_members(answer):
    """An API TestState answer in asl-run's shape: output and inspectionData's members as JSON."""
    out = dict(answer)
    if isinstance(out.get("output"), str):
        out["output"] = json.loads(out["output"])
    data = out.get("inspectionData")
    if isinstance(data, dict):
        for k, v in list(data.items()):
            if isinstance(v, str):
                try:
                    data[k] = json.loads(v)
                except ValueError:
                    pass
    return out


def refused(code, message):
    """An API error in asl-run's shape (asl-run prints a refused request so)."""
    if code == "InvalidDefinition":
        return {"status": "INVALID_DEFINITION", "error": "States.Runtime", "cause": message}
    return {"status": "VALIDATION_EXCEPTION", "error": code, "cause": message}


# ------------------------------------------------------------------------------------ backends
def run_asl_run(cmd, case):
    req = request_of(case)
    with tempfile.TemporaryDirectory() as td:
        def put(name, text):
            path = os.path.join(td, name)
            with open(path, "w") as fh:
                fh.write(text)
            return path

        argv = shlex.split(cmd) + ["--definition", put("definition.json", req["definition"])]
        if case["mode"] == "validate":
            argv.append("--validate")
        else:
            argv += ["--input", put("input.json", req["input"]), "--test-state"]
            if "stateName" in req:
                argv += ["--state-name", req["stateName"]]
            if "inspectionLevel" in req:
                argv += ["--inspection-level", req["inspectionLevel"]]
            for k, flag in (("variables", "--variables"), ("context", "--context")):
                if k in req:
                    argv += [flag, put(k + ".json", req[k])]
            for k, flag in (("mock", "--mock"), ("stateConfiguration", "--state-configuration")):
                if k in req:
                    argv += [flag, put(k + ".json", json.dumps(req[k]))]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return None, "exit %d: %s" % (p.returncode, p.stderr.strip()[-300:])
    return json.loads(p.stdout), None


class Cli:
    """The AWS CLI's driver, as the `aws` command runs it, once per case."""

    def __init__(self, endpoint):
        from awscli.clidriver import create_clidriver

        self.driver = create_clidriver()
        self.endpoint = endpoint

    def __call__(self, case):
        req = request_of(case)
        if case["mode"] == "validate":
            args = ["validate-state-machine-definition", "--definition", req["definition"]]
        else:
            args = ["test-state"]
            for k, v in req.items():
                flag = "--" + "".join("-" + c.lower() if c.isupper() else c for c in k)
                args += [flag, v if isinstance(v, str) else json.dumps(v)]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = self.driver.main(["stepfunctions"] + args + ["--endpoint-url", self.endpoint, "--output", "json"])
        if rc == 0:
            answer = json.loads(out.getvalue())
            return (answer if case["mode"] == "validate" else parse_json_members(answer)), None
        # "An error occurred (Code) when calling the TestState operation: message"
        text = err.getvalue().strip()
        if text.startswith("An error occurred (") and "operation: " in text:
            code = text[len("An error occurred ("):text.index(")")]
            return refused(code, text.split("operation: ", 1)[1]), None
        return None, "aws exited %d: %s" % (rc, text[-300:])


# ------------------------------------------------------------------------------------- scoring
def inspection_agrees(extract, case, actual):
    exp = case["expected"].get("inspectionData")
    if exp is None or not isinstance(actual, dict):
        return None
    got = parse_json_members({"inspectionData": actual.get("inspectionData") or {}})["inspectionData"]
    exp = parse_json_members({"inspectionData": json.loads(json.dumps(exp))})["inspectionData"]
    lits = extract.wildcard_literals(case) if not case.get("exact") else ()
    return extract.wildcard_equal(exp, extract.snapshot_normalize(got), lits)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--cmd")
    g.add_argument("--cli")
    g.add_argument("--answers")
    ap.add_argument("--report", required=True)
    ap.add_argument("--requests", help="write each case's API request here (JSON Lines) and stop")
    args = ap.parse_args()
    run_cases, extract = load_corpus_scorer(args.cases)
    cases = [c for c in map(json.loads, open(args.cases)) if c["mode"] in ("test_state", "validate")]
    if args.requests:
        with open(args.requests, "w") as fh:
            for c in cases:
                fh.write(json.dumps({"id": c["id"], "mode": c["mode"], "request": request_of(c)}) + "\n")
        return 0
    if args.cmd:
        backend = lambda c: run_asl_run(args.cmd, c)  # noqa: E731
    elif args.cli:
        backend = Cli(args.cli)
    else:
        answers = {a["id"]: a for a in map(json.loads, open(args.answers))}

        def backend(c):
            a = answers.get(c["id"])
            if a is None:
                return None, "no answer"
            if "error" in a:
                return None, a["error"]
            if "refused" in a:
                return refused(a["refused"]["code"], a["refused"]["message"]), None
            return (a["answer"] if c["mode"] == "validate" else parse_json_members(a["answer"])), None

    results, inspected = [], [0, 0]
    for c in cases:
        r = {"id": c["id"], "category": c["category"]}
        actual, err = backend(c)
        if err:
            r.update(result="error", detail=err)
        elif c["mode"] == "validate":
            ok = actual == c["expected"]
            r.update(result="pass" if ok else "fail")
            if not ok:
                r.update(detail="validation answer differs", actual=actual, expected=c["expected"])
        else:
            ok, why = run_cases.compare(c, actual)
            r.update(result="pass" if ok else "fail")
            if not ok:
                r.update(detail=why, actual=actual, expected=c["expected"])
            agrees = inspection_agrees(extract, c, actual)
            if agrees is not None:
                inspected[0] += 1
                inspected[1] += bool(agrees)
                r["inspection"] = "agrees" if agrees else "differs"
        results.append(r)
    with open(args.report, "a") as fh:
        for r in results:
            fh.write(json.dumps(r) + "\n")
    for mode in ("test_state", "validate"):
        n = {k: sum(1 for r, c in zip(results, cases) if c["mode"] == mode and r["result"] == k)
             for k in ("pass", "fail", "error")}
        print("%-50s %s" % (mode + " (request_cases.py)", {k: v for k, v in n.items() if v}))
    print("inspectionData agrees with AWS: %d of %d recorded" % (inspected[1], inspected[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
