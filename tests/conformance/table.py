#!/usr/bin/env python3
"""The conformance report page (docs/conformance.md) from a conformance run report.

Usage: python3 tests/conformance/table.py REPORT.jsonl [--out FILE] [--cases CASES.jsonl]
REPORT is what `tests/conformance/ratchet.sh --report FILE` keeps (run_cases.py's JSON Lines).
Writes GitHub markdown (to FILE, or stdout): agreement by category, by offline class, and the
failing cases grouped by cause (reasons from failure-reasons.txt beside this script; unmatched ones
show the scorer's detail). The corpus is read from $ASL_CONFORMANCE_DIR (as ratchet.sh does), by
default ../shared/asl-conformance beside the repository.
"""

import argparse
import collections
import datetime
import fnmatch
import json
import os
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
CATEGORY_ORDER = ["choice", "intrinsics", "map/parallel", "context", "jsonata", "variables",
                  "basic", "lambda", "test_state", "validate", "integration (other)"]


def categories(case):
    """A case counts in every category its tags name (pure:jsonata+choice is jsonata and choice)."""
    cat = case["category"]
    out = set()
    if case["mode"] == "test_state":
        out.add("test_state")
    if cat == "validate":
        out.add("validate")
    elif cat == "integration:lambda":
        out.add("lambda")
    elif cat.startswith("integration:"):
        out.add("integration (other)")
    elif cat.startswith("pure:"):
        for tag in cat[len("pure:"):].split("+"):
            out.add("map/parallel" if tag == "map_parallel" else tag)
    return out


def load_reasons(path):
    rules = []
    if os.path.exists(path):
        for line in open(path):
            line = line.rstrip("\n")
            if line.strip() and not line.startswith("#"):
                pat, _, reason = line.partition("\t")
                rules.append((pat.strip(), reason.strip()))
    return rules


# Markdown lines stay within 100 characters.
WIDTH = 100


def wrap(text, indent=""):
    return textwrap.fill(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False,
                         break_long_words=False)


def short(case_id):
    """The test's own name: the corpus id without its file, class and snapshot key."""
    return case_id.split("@")[0].split("::")[-1]


def unique_names(case_ids):
    """Short names, made longer only where two cases would share one: the snapshot key (after @),
    then the test's class, are added as needed."""
    def forms(cid):
        path, _, key = cid.partition("@")
        parts = path.split("::")
        name = parts[-1]
        klass = parts[-2] + "::" + name if len(parts) > 1 else name
        at = "@" + key if key else ""
        return [name, name + at, klass, cid]
    names = {}
    for level in range(4):
        pending = [c for c in case_ids if c not in names]
        if not pending:
            break
        candidates = {c: forms(c)[level] for c in pending}
        taken = collections.Counter(candidates.values())
        for c, n in candidates.items():
            if taken[n] == 1 or level == 3:
                names[c] = n
    return names


def item(name, why):
    return wrap("- %s: %s" % (name, why), "  ")


def pct(a, n):
    return "%.1f%%" % (100.0 * a / n) if n else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report")
    corpus = os.environ.get("ASL_CONFORMANCE_DIR") or os.path.join(
        HERE, "..", "..", "..", "shared", "asl-conformance")
    ap.add_argument("--cases", default=os.path.join(corpus, "cases.jsonl"))
    ap.add_argument("--out", help="write the page to this file instead of stdout")
    ap.add_argument("--reasons", default=os.path.join(HERE, "failure-reasons.txt"))
    args = ap.parse_args()
    if not os.path.exists(args.cases):
        sys.exit("table.py: corpus not found at %s (set ASL_CONFORMANCE_DIR or pass --cases)" % args.cases)
    cases = {}
    for line in open(args.cases):
        c = json.loads(line)
        cases[c["id"]] = c
    results = [json.loads(line) for line in open(args.report)]
    reported = {r["id"] for r in results}
    # Not scored: skipped by the scorer, or left out of the run (run_cases.py drops a case whose
    # literal Wait exceeds its --max-wait, 5 s by default, without a line in the report).
    skipped = [(r["id"], r.get("detail", "skipped")) for r in results if r["result"] == "skip"]
    for cid, c in cases.items():
        if cid not in reported:
            wait = c.get("max_wait_seconds") or 0
            skipped.append((cid, "not run: its literal Wait of %s s exceeds the scorer's `--max-wait` "
                                 "(5 s by default)" % wait if wait > 5 else "not in the report"))
    results = [r for r in results if r["result"] != "skip"]

    by_cat = collections.defaultdict(collections.Counter)
    by_class = collections.defaultdict(collections.Counter)
    for r in results:
        c = cases[r["id"]]
        ok = "agree" if r["result"] == "pass" else "other"
        for k in categories(c):
            by_cat[k][ok] += 1
        klass = (c["offline"], "exact" if c["exact"] else "placeholders", c["mode"])
        by_class[klass][ok] += 1
    tot = collections.Counter("agree" if r["result"] == "pass" else "other" for r in results)

    # The run's date is the report's: regenerating from the same report gives the same page.
    ran = datetime.datetime.fromtimestamp(os.path.getmtime(args.report), datetime.timezone.utc)
    out = []
    emit = out.append
    emit("# Conformance with AWS Step Functions")
    emit("")
    emit(wrap("Generated by `tests/conformance/table.py` from a run of `tests/conformance/ratchet.sh "
              "--report` on %s; do not edit by hand. How to regenerate it: "
              "[testing.md](testing.md#conformance-with-aws-step-functions)." % ran.strftime("%Y-%m-%d")))
    emit("")
    emit(wrap("The offline engine (`local/asl`) against %d cases recorded on real AWS Step Functions "
              "(`../shared/asl-conformance`: definition, input and AWS's outcome, from LocalStack's "
              "AWS-validated snapshots, Apache-2.0). A case counts in every category its tags name "
              "(`pure:jsonata+choice` is jsonata and choice); a case's Lambda functions run their "
              "recorded handler source in Lambda's Python runtime (`local/lambda-local`)."
              % (len(results) + len(skipped))))
    if skipped:
        emit("")
        emit("Not scored (%d), not counted below:" % len(skipped))
        emit("")
        for cid, why in sorted(skipped):
            emit(item("`%s`" % short(cid), why))
    emit("")
    emit("## Agreement by category")
    emit("")
    emit("| category | cases | agree with AWS | % |")
    emit("| --- | ---: | ---: | ---: |")
    for k in CATEGORY_ORDER + sorted(set(by_cat) - set(CATEGORY_ORDER)):
        if k in by_cat:
            n = sum(by_cat[k].values())
            emit("| %s | %d | %d | %s |" % (k, n, by_cat[k]["agree"], pct(by_cat[k]["agree"], n)))
    n = sum(tot.values())
    emit("| **all** | **%d** | **%d** | **%s** |" % (n, tot["agree"], pct(tot["agree"], n)))
    emit("")
    emit("## Lambda integration, TestState and validation")
    emit("")
    lam = by_cat.get("lambda", collections.Counter())
    ts = by_cat.get("test_state", collections.Counter())
    va = by_cat.get("validate", collections.Counter())
    inspected = collections.Counter(r["inspection"] for r in results if "inspection" in r)
    emit(wrap("- Lambda integration: %d of %d cases agree with AWS, every handler being the case's "
              "own Python source run by lambda-local (one warm `python3` sandbox per function, its "
              "timeout enforced, Lambda's error document); the others differ for the scorer's "
              "reasons below." % (lam["agree"], sum(lam.values())), "  "))
    emit(wrap("- TestState: %d of %d cases agree through `asl-run` (each with its whole recorded "
              "request, `stateConfiguration` included: `tests/conformance/request_cases.py`); "
              "`inspectionData`, which run_cases.py does not score, agrees on %d of the %d cases "
              "that recorded it." % (ts["agree"], sum(ts.values()), inspected["agrees"],
                                      sum(inspected.values())), "  "))
    emit(wrap("- ValidateStateMachineDefinition: %d of %d." % (va["agree"], sum(va.values())), "  "))
    emit(wrap("- Through the API: the same TestState and validate cases agree with AWS when sent to "
              "`sfn-local serve` by the pinned AWS CLI and by aws-sdk-sfn, and no other "
              "(`tests/tests/api_test_state.rs` asserts both sets equal passing.txt's).", "  "))
    emit("")
    emit("## Agreement by offline class")
    emit("")
    emit("| offline | expected value | mode | cases | agree with AWS | % |")
    emit("| --- | --- | --- | ---: | ---: | ---: |")
    order = {"yes": 0, "with_lambda_handlers": 1, "with_mock": 2, "no": 3}
    for k in sorted(by_class, key=lambda k: (order.get(k[0], 9), k[1], k[2])):
        n = sum(by_class[k].values())
        emit("| %s | %s | %s | %d | %d | %s |" % (k + (n, by_class[k]["agree"], pct(by_class[k]["agree"], n))))
    emit("")

    rules = load_reasons(args.reasons)
    groups = collections.OrderedDict()
    for r in sorted(results, key=lambda r: r["id"]):
        if r["result"] == "pass":
            continue
        reason = next((why for pat, why in rules if fnmatch.fnmatchcase(r["id"], pat)), None)
        if reason is None:
            reason = "not yet analysed (%s)" % r.get("detail", r["result"])
        groups.setdefault(reason, []).append(r)
    names = unique_names([r["id"] for rs in groups.values() for r in rs])
    emit("## Cases that differ from AWS, by cause (%d)" % sum(len(v) for v in groups.values()))
    emit("")
    for reason, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        emit(wrap("- %s (%d):" % (reason, len(rs)), "  "))
        for r in rs:
            line = "  - `%s` (offline: %s)" % (names[r["id"]], cases[r["id"]]["offline"])
            emit(line if len(line) <= WIDTH else "  - `%s`" % names[r["id"]])
    emit("")
    emit(wrap("The \"scorer\" causes are limits of `run_cases.py`, not engine "
              "differences: LocalStack's snapshot transformers replaced some values by their key name "
              "(`\"RequestId\": \"RequestId\"`, `\"X-Amzn-Trace-Id\": \"X-Amzn-Trace-Id\"`, an "
              "HTTP `Date` by `\"date\"`, the role ARN by `snf_role_arn`), and AWS's Lambda error causes "
              "were recorded parsed. \"not offline\" cases call AWS services that `asl-run` does not "
              "emulate."))

    text = "\n".join(out) + "\n"
    if args.out:
        # Written whole then renamed: a failed run never leaves a half page behind.
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.out)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
