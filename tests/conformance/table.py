#!/usr/bin/env python3
"""Agreement tables for the README from a conformance run report.

Usage: python3 tests/conformance/table.py REPORT.jsonl [--cases CASES.jsonl]
REPORT is what `tests/conformance/ratchet.sh --report FILE` keeps (run_cases.py's JSON Lines).
Prints GitHub markdown: agreement by category, by offline class, and the failing cases grouped by
cause (reasons from failure-reasons.txt beside this script; unmatched ones show the scorer's detail).
"""

import argparse
import collections
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


def pct(a, n):
    return "%.1f%%" % (100.0 * a / n) if n else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report")
    ap.add_argument("--cases", default=os.path.join(HERE, "..", "..", "..", "shared",
                                                    "asl-conformance", "cases.jsonl"))
    ap.add_argument("--reasons", default=os.path.join(HERE, "failure-reasons.txt"))
    args = ap.parse_args()
    if not os.path.exists(args.cases):
        sys.exit("table.py: corpus not found at %s (pass --cases)" % args.cases)
    cases = {}
    for line in open(args.cases):
        c = json.loads(line)
        cases[c["id"]] = c
    results = [json.loads(line) for line in open(args.report)]

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

    print("| category | cases | agree with AWS | % |")
    print("| --- | ---: | ---: | ---: |")
    for k in CATEGORY_ORDER + sorted(set(by_cat) - set(CATEGORY_ORDER)):
        if k in by_cat:
            n = sum(by_cat[k].values())
            print("| %s | %d | %d | %s |" % (k, n, by_cat[k]["agree"], pct(by_cat[k]["agree"], n)))
    n = sum(tot.values())
    print("| **all** | **%d** | **%d** | **%s** |" % (n, tot["agree"], pct(tot["agree"], n)))
    print()
    print("| offline | expected value | mode | cases | agree with AWS | % |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    order = {"yes": 0, "with_lambda_handlers": 1, "with_mock": 2, "no": 3}
    for k in sorted(by_class, key=lambda k: (order.get(k[0], 9), k[1], k[2])):
        n = sum(by_class[k].values())
        print("| %s | %s | %s | %d | %d | %s |" % (k + (n, by_class[k]["agree"], pct(by_class[k]["agree"], n))))
    print()

    rules = load_reasons(args.reasons)
    groups = collections.OrderedDict()
    for r in sorted(results, key=lambda r: r["id"]):
        if r["result"] == "pass":
            continue
        reason = next((why for pat, why in rules if fnmatch.fnmatchcase(r["id"], pat)), None)
        if reason is None:
            reason = "not yet analysed (%s)" % r.get("detail", r["result"])
        groups.setdefault(reason, []).append(r)
    print("Failing cases (%d), grouped by cause:" % sum(len(v) for v in groups.values()))
    print()
    for reason, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        # README lines stay within 100 characters.
        print(textwrap.fill("- %s (%d):" % (reason, len(rs)), 100, subsequent_indent="  "))
        for r in rs:
            name = r["id"].split("@")[0].split("::")[-1]
            line = "  - `%s` (offline: %s)" % (name, cases[r["id"]]["offline"])
            print(line if len(line) <= 100 else "  - `%s`" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
