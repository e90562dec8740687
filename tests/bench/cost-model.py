#!/usr/bin/env python3
"""AWS cost model read from the definitions: walks statemachine/*.asl.json along the happy path of
one Pipe batch (BatchSize from template.yaml, every record a valid INSERT) and counts, per failed
order, the Standard-workflow state transitions (every state entered, incl. Map iterations' states
and the child execution's) and the Lambda requests (lambda:invoke tasks).

  python3 tests/bench/cost-model.py                 # happy path, batch size from template.yaml
  python3 tests/bench/cost-model.py --batch 1       # one record per batch (worst case)
  python3 tests/bench/cost-model.py --fail LoadOrder=OrderNotFound   # follow a Catch instead
  python3 tests/bench/cost-model.py --json          # machine-readable

Prices are the public us-east-1 list prices the README's "Cost per 1M failed orders" uses.
The walk evaluates the Choice operators the definitions use (IsPresent, IsString, StringEquals,
Not/And/Or) and simple JSONPath; it refuses anything else rather than guess.
"""
import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRICE_PER_1K_TRANSITIONS = 0.025
PRICE_PER_1M_LAMBDA_REQUESTS = 0.20
PRICE_PER_GB_S_ARM64 = 0.0000133334


class Walk:
    def __init__(self, fail):
        self.transitions = 0
        self.lambda_requests = 0
        self.children = 0
        self.fail = fail  # {state name: error name}
        self.trace = []


MISSING = object()


def get_path(path, data, ctx):
    if path.startswith("$$"):
        root, rest = ctx, path[2:]
    elif path.startswith("$"):
        root, rest = data, path[1:]
    else:
        raise SystemExit(f"cost-model: not a path: {path}")
    if rest and not re.fullmatch(r"(\.[A-Za-z0-9_]+)+", rest):
        raise SystemExit(f"cost-model: path not supported by this walker: {path}")
    cur = root
    for key in [k for k in rest.split(".") if k]:
        if not isinstance(cur, dict) or key not in cur:
            return MISSING
        cur = cur[key]
    return cur


def template(t, data, ctx):
    if isinstance(t, dict):
        out = {}
        for k, v in t.items():
            if k.endswith(".$"):
                # Intrinsics only feed names and counts here, never a Choice: keep them opaque.
                out[k[:-2]] = get_path(v, data, ctx) if v.startswith("$") else f"<{v}>"
            else:
                out[k] = template(v, data, ctx)
        return out
    if isinstance(t, list):
        return [template(x, data, ctx) for x in t]
    return t


def rule_matches(rule, data, ctx):
    if "Not" in rule:
        return not rule_matches(rule["Not"], data, ctx)
    if "And" in rule:
        return all(rule_matches(r, data, ctx) for r in rule["And"])
    if "Or" in rule:
        return any(rule_matches(r, data, ctx) for r in rule["Or"])
    v = get_path(rule["Variable"], data, ctx)
    if "IsPresent" in rule:
        return (v is not MISSING) == rule["IsPresent"]
    if v is MISSING:
        raise SystemExit(f"cost-model: comparison on a missing path {rule['Variable']} (AWS fails the execution)")
    if "IsString" in rule:
        return isinstance(v, str) == rule["IsString"]
    if "StringEquals" in rule:
        return v == rule["StringEquals"]
    raise SystemExit(f"cost-model: Choice operator not supported by this walker: {sorted(rule)}")


def set_result(data, result_path, result):
    if result_path is None:
        return data
    if result_path == "$":
        return result
    out = dict(data) if isinstance(data, dict) else {}
    keys = result_path[2:].split(".")
    cur = out
    for k in keys[:-1]:
        cur = cur.setdefault(k, {})
    cur[keys[-1]] = result
    return out


def child_definition(arn_placeholder):
    # ${ProcessUnpaidOrderStateMachineArn} -> statemachine/process-unpaid-order.asl.json
    name = arn_placeholder.strip("${}").removesuffix("StateMachineArn")
    kebab = re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower()
    path = ROOT / "statemachine" / f"{kebab}.asl.json"
    if not path.exists():
        raise SystemExit(f"cost-model: no definition {path} for {arn_placeholder}")
    return json.loads(path.read_text())


def run_machine(sm, data, walk, ctx, depth=0):
    name = sm["StartAt"]
    while True:
        st = sm["States"][name]
        walk.transitions += 1
        walk.trace.append("  " * depth + name)
        ty = st["Type"]
        if "InputPath" in st:
            eff = get_path(st["InputPath"], data, ctx)
        else:
            eff = data
        nxt = st.get("Next")
        if ty == "Choice":
            nxt = next((r["Next"] for r in st["Choices"] if rule_matches(r, eff, ctx)), st.get("Default"))
            if nxt is None:
                raise SystemExit(f"cost-model: no Choice matched at {name}")
            out = eff
        elif ty == "Pass":
            res = template(st["Parameters"], eff, ctx) if "Parameters" in st else st.get("Result", eff)
            out = set_result(data, st.get("ResultPath", "$"), res)
        elif ty == "Task":
            error = walk.fail.get(name)
            params = template(st.get("Parameters", {}), eff, ctx)
            res = st["Resource"]
            if res == "arn:aws:states:::lambda:invoke":
                walk.lambda_requests += 1
                result = {"Payload": {}}
            elif res.startswith("arn:aws:states:::states:startExecution"):
                walk.children += 1
                child = child_definition(st["Parameters"]["StateMachineArn"])
                child_input = params.get("Input", {})
                run_machine(child, child_input, walk, {"Execution": {"Name": params.get("Name")}}, depth + 1)
                result = {"ExecutionArn": "arn"}
            else:
                raise SystemExit(f"cost-model: resource not modelled: {res}")
            if error:
                catcher = next(
                    (c for c in st.get("Catch", []) if error in c["ErrorEquals"] or "States.ALL" in c["ErrorEquals"]),
                    None,
                )
                if catcher is None:
                    walk.trace.append("  " * depth + f"(execution fails with {error})")
                    return None
                nxt = catcher["Next"]
                out = set_result(data, catcher.get("ResultPath", "$"), {"Error": error, "Cause": ""})
            else:
                out = set_result(data, st.get("ResultPath", "$"), result)
        elif ty == "Map":
            items = get_path(st.get("ItemsPath", "$"), eff, ctx)
            proc = st.get("ItemProcessor") or st["Iterator"]
            sel = st.get("ItemSelector") or st.get("Parameters")
            results = []
            for i, item in enumerate(items):
                ictx = dict(ctx, Map={"Item": {"Index": i, "Value": item}})
                item_in = template(sel, eff, ictx) if sel else item
                results.append(run_machine(proc, item_in, walk, ictx, depth + 1))
            out = set_result(data, st.get("ResultPath", "$"), results)
        elif ty in ("Succeed", "Fail"):
            return eff
        else:
            raise SystemExit(f"cost-model: state type not modelled: {ty}")
        if st.get("End"):
            return out
        name, data = nxt, out


def pipe_batch_size():
    m = re.search(r"BatchSize:\s*(\d+)", (ROOT / "template.yaml").read_text())
    return int(m.group(1)) if m else 10


def record(i):
    return {
        "eventID": f"event-{i}",
        "eventName": "INSERT",
        "dynamodb": {"Keys": {"orderId": {"S": f"4925000{i:05d}"}}},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=None, help="records per Pipe batch (default: template.yaml BatchSize)")
    ap.add_argument("--fail", action="append", default=[], help="STATE=ERROR: that task raises ERROR (follow its Catch)")
    ap.add_argument("--lambda-ms", type=float, default=40.0, help="average billed duration per request, ms")
    ap.add_argument("--memory-mb", type=int, default=128)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--trace", action="store_true", help="print the states walked")
    a = ap.parse_args()
    batch = a.batch or pipe_batch_size()
    fail = dict(f.split("=", 1) for f in a.fail)
    sm = json.loads((ROOT / "statemachine" / "process-unpaid-orders.asl.json").read_text())
    walk = Walk(fail)
    run_machine(sm, [record(i) for i in range(batch)], walk, {"Execution": {"Name": "batch"}})
    per_order_t = walk.transitions / batch
    per_order_l = walk.lambda_requests / batch
    gb_s = per_order_l * a.lambda_ms / 1000 * a.memory_mb / 1024
    cost = {
        "transitions": per_order_t * 1e6 / 1000 * PRICE_PER_1K_TRANSITIONS,
        "lambda_requests": per_order_l * PRICE_PER_1M_LAMBDA_REQUESTS,
        "lambda_duration_arm64": gb_s * 1e6 * PRICE_PER_GB_S_ARM64,
    }
    out = {
        "batch_size": batch,
        "orders": batch,
        "child_executions": walk.children,
        "transitions_per_batch": walk.transitions,
        "transitions_per_order": per_order_t,
        "lambda_requests_per_order": per_order_l,
        "gb_s_per_order": gb_s,
        "usd_per_1M_orders": {**{k: round(v, 2) for k, v in cost.items()}, "total": round(sum(cost.values()), 2)},
    }
    if a.trace:
        print("\n".join(walk.trace), file=sys.stderr)
    if a.json:
        print(json.dumps(out, indent=2))
        return
    print(f"cost-model: batch of {batch} INSERT records, {walk.children} child executions, failures: {fail or 'none'}")
    print(f"cost-model: state transitions per batch        {walk.transitions}")
    print(f"cost-model: state transitions per failed order {per_order_t:.2f}  (per 1M: {per_order_t * 1e6:,.0f})")
    print(f"cost-model: Lambda requests per failed order   {per_order_l:.2f}  (per 1M: {per_order_l * 1e6:,.0f})")
    print(f"cost-model: Lambda GB-s per order at {a.memory_mb} MB, {a.lambda_ms:g} ms: {gb_s:.4f}")
    for k, v in out["usd_per_1M_orders"].items():
        print(f"cost-model: USD per 1M failed orders, {k:22s} {v:10.2f}")


if __name__ == "__main__":
    main()
