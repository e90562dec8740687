#!/usr/bin/env python3
"""AWS cost model measured on the real definitions: runs one Pipe batch (BatchSize from
template.yaml, every record a valid INSERT of an order that exists) through `sfn-local pipe` (the
real statemachine/*.asl.json, the real handlers, an embedded store in a temporary directory), then
counts from every execution's history, per failed order, the Standard-workflow state transitions
(StateEntered events: every state entered, Map iterations' states and the child executions'
included) and the Lambda requests (TaskScheduled of resource type lambda).

  python3 tests/bench/cost-model.py                 # happy path, batch size from template.yaml
  python3 tests/bench/cost-model.py --batch 1       # one record per batch (worst case)
  python3 tests/bench/cost-model.py --fail LoadOrder=OrderNotFound   # that task raises the error
  python3 tests/bench/cost-model.py --json          # machine-readable
  python3 tests/bench/cost-model.py --max-usd 160   # exit 1 above that (tests/run.sh)

Needs the sfn-local binary (`cargo build -p sfn-local`; --sfn-local PATH to use another).
Prices are the public us-east-1 list prices the docs' "Cost per 1M failed orders" uses.
An earlier version walked the definitions in Python; the batch machine's classification is now a
JSONata expression, and the engine that runs it offline is the one that should count.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRICE_PER_1K_TRANSITIONS = 0.025
PRICE_PER_1M_LAMBDA_REQUESTS = 0.20
PRICE_PER_GB_S_ARM64 = 0.0000133334


def pipe_batch_size():
    m = re.search(r"BatchSize:\s*(\d+)", (ROOT / "template.yaml").read_text())
    return int(m.group(1)) if m else 10


def order_id(i):
    return f"9925{i:08d}"


def project(dest: Path, orders: int) -> None:
    """A copy of the project whose fixtures hold `orders` more unpaid orders with a check-status."""
    shutil.copy(ROOT / "template.yaml", dest / "template.yaml")
    shutil.copytree(ROOT / "statemachine", dest / "statemachine")
    shutil.copytree(ROOT / "events", dest / "events")
    tables = dest / "events" / "tables"
    items = json.loads((tables / "orders.json").read_text())
    checks = json.loads((tables / "check-status.json").read_text())
    for i in range(orders):
        oid = order_id(i)
        items.append({
            "orderId": {"S": oid},
            "data": {"M": {
                "orderId": {"S": oid},
                "email": {"S": f"customer{i}@example.com"},
                "name": {"S": "Cost Model"},
                "currency": {"S": "THB"},
                "total": {"N": "100"},
                "payment": {"M": {"isPaid": {"BOOL": False}, "totalPaid": {"N": "0"}}},
            }},
        })
        checks.append({
            "orderId": {"S": oid},
            "created_at": {"S": "2026-11-25T06:00:01Z"},
            "chargeId": {"S": f"ch_cost{i}"},
            "paymentMethod": {"S": "card"},
            "status": {"S": "failed"},
        })
    (tables / "orders.json").write_text(json.dumps(items))
    (tables / "check-status.json").write_text(json.dumps(checks))


def record(i):
    # Trimmed as the Pipe's InputTemplate delivers it; a full record walks the same states.
    return {
        "eventID": f"{i:032x}",
        "eventName": "INSERT",
        "dynamodb": {"Keys": {"orderId": {"S": order_id(i)}}},
    }


def kebab(state):
    return re.sub(r"(?<!^)([A-Z])", r"-\1", state).lower()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=None, help="records per Pipe batch (default: template.yaml BatchSize)")
    ap.add_argument("--fail", action="append", default=[], help="STATE=ERROR: that task's function raises ERROR")
    ap.add_argument("--lambda-ms", type=float, default=40.0, help="average billed duration per request, ms")
    ap.add_argument("--memory-mb", type=int, default=128)
    ap.add_argument("--sfn-local", default=str(ROOT / "target" / "debug" / "sfn-local"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--max-usd", type=float, default=None, help="fail if the total per 1M orders is above this")
    ap.add_argument("--trace", action="store_true", help="print the states entered")
    a = ap.parse_args()
    batch = a.batch or pipe_batch_size()
    if not Path(a.sfn_local).exists():
        raise SystemExit(f"cost-model: {a.sfn_local} missing: cargo build -p sfn-local")
    fail = dict(f.split("=", 1) for f in a.fail)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "project").mkdir()
        project(tmp / "project", batch)
        (tmp / "records.json").write_text(json.dumps([record(i) for i in range(batch)]))
        base = [a.sfn_local, "--project-root", str(tmp / "project"), "--state-dir", str(tmp / "state"), "--virtual-clock", "--quiet"]
        for state, error in fail.items():
            base += ["--fail", f"{kebab(state)}={error}:always"]
        run = subprocess.run(base + ["pipe", "--records", f"file://{tmp / 'records.json'}", "--json"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"cost-model: sfn-local pipe failed:\n{run.stderr}{run.stdout}")
        report = json.loads(run.stdout)
        arns = [b["executionArn"] for b in report["batches"]]
        transitions = lambda_requests = children = 0
        trace = []
        executions = []
        for machine in ("process-unpaid-orders", "process-unpaid-order"):
            sm = f"arn:aws:states:us-east-1:123456789012:stateMachine:{machine}-dev"
            out = subprocess.run(base + ["list-executions", "--state-machine-arn", sm],
                                 capture_output=True, text=True, check=True)
            executions += [e["executionArn"] for e in json.loads(out.stdout)["executions"]]
        for arn in executions:
            out = subprocess.run(base + ["get-execution-history", "--execution-arn", arn],
                                 capture_output=True, text=True, check=True)
            if arn not in arns:
                children += 1
            for ev in json.loads(out.stdout)["events"]:
                if ev["type"].endswith("StateEntered"):
                    transitions += 1
                    trace.append(f"{arn.rsplit(':', 2)[-2]}: {ev['stateEnteredEventDetails']['name']}")
                if ev["type"] == "TaskScheduled" and ev.get("taskScheduledEventDetails", {}).get("resourceType") == "lambda":
                    lambda_requests += 1
    per_order_t = transitions / batch
    per_order_l = lambda_requests / batch
    gb_s = per_order_l * a.lambda_ms / 1000 * a.memory_mb / 1024
    cost = {
        "transitions": per_order_t * 1e6 / 1000 * PRICE_PER_1K_TRANSITIONS,
        "lambda_requests": per_order_l * PRICE_PER_1M_LAMBDA_REQUESTS,
        "lambda_duration_arm64": gb_s * 1e6 * PRICE_PER_GB_S_ARM64,
    }
    out = {
        "batch_size": batch,
        "orders": batch,
        "child_executions": children,
        "batch_status": [b["status"] for b in report["batches"]],
        "transitions_per_batch": transitions,
        "transitions_per_order": per_order_t,
        "lambda_requests_per_order": per_order_l,
        "gb_s_per_order": gb_s,
        "usd_per_1M_orders": {**{k: round(v, 2) for k, v in cost.items()}, "total": round(sum(cost.values()), 2)},
    }
    if a.trace:
        print("\n".join(trace), file=sys.stderr)
    if a.json:
        print(json.dumps(out, indent=2))
        return
    print(f"cost-model: batch of {batch} INSERT records, {children} child executions, failures: {fail or 'none'}, "
          f"batch {', '.join(out['batch_status'])}")
    print(f"cost-model: state transitions per batch        {transitions}")
    print(f"cost-model: state transitions per failed order {per_order_t:.2f}  (per 1M: {per_order_t * 1e6:,.0f})")
    print(f"cost-model: Lambda requests per failed order   {per_order_l:.2f}  (per 1M: {per_order_l * 1e6:,.0f})")
    print(f"cost-model: Lambda GB-s per order at {a.memory_mb} MB, {a.lambda_ms:g} ms: {gb_s:.4f}")
    for k, v in out["usd_per_1M_orders"].items():
        print(f"cost-model: USD per 1M failed orders, {k:22s} {v:10.2f}")
    total = out["usd_per_1M_orders"]["total"]
    if a.max_usd is not None and total > a.max_usd:
        raise SystemExit(f"cost-model: {total:.2f} USD per 1M failed orders is above the target {a.max_usd:.2f}")


if __name__ == "__main__":
    main()
