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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRICE_PER_1K_TRANSITIONS = 0.025
PRICE_PER_1M_LAMBDA_REQUESTS = 0.20
PRICE_PER_GB_S_ARM64 = 0.0000133334
# The evidence route (docs/evidence.md): SQS standard $0.40 per 1M requests (EventBridge's
# SendMessage of each event, the event source mapping's ReceiveMessage and DeleteMessageBatch per
# batch); DynamoDB on-demand $0.625 per 1M write request units (items under 1 KB: one each, a
# failed condition included). AWS service events on the default bus, rule matching and SES's
# event publishing cost nothing.
PRICE_PER_1M_SQS_REQUESTS = 0.40
PRICE_PER_1M_WRU = 0.625


def pipe_batch_size():
    m = re.search(r"DynamoDBStreamParameters:(?:\n[^\n]*){0,20}?\n\s+BatchSize:\s*(\d+)", (ROOT / "template.yaml").read_text())
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


def evidence_batch_size():
    """record-event's SQS event BatchSize in template.yaml (Lambda's default 10)."""
    text = (ROOT / "template.yaml").read_text()
    m = re.search(r"Type: SQS\s+Properties:\s+Queue: [^\n]+\n(?:\s+#[^\n]*\n)*\s+BatchSize:\s*(\d+)", text)
    return int(m.group(1)) if m else 10


def evidence_counts(base, state, report, executions, batch_arns):
    """What the evidence route carried for this run, read off the state directory after every
    event sfn-local published was delivered: SES's events (kept on the email log), the status
    changes the template's rules pass (each per-order execution's start and end, each batch's
    end), and the writes record-event made for them."""
    deadline = time.monotonic() + 60
    while True:
        # Delivery events fall due seconds after their Send, on the clock `pipe` ran on.
        out = subprocess.run(base[:-1] + ["evidence"], capture_output=True, text=True, check=True)
        pending = json.loads(out.stdout)["pending"]
        if not pending:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"cost-model: {len(pending)} evidence events still pending after 60 s")
        time.sleep(0.5)
    tables = current_tables(state)
    ses = sum(len(i.get("sesEvents", {}).get("L", [])) for i in tables["emailLog"])
    index = tables.get("orderIndex", [])
    per_order = [e for e in executions if e not in batch_arns]
    batch_items = [i for i in index if i["executionArn"]["S"] in batch_arns]
    order_items = [i for i in index if i["executionArn"]["S"] not in batch_arns]
    if len(order_items) != len(per_order):
        raise SystemExit(f"cost-model: {len(per_order)} per-order executions, {len(order_items)} index items")
    # A per-order execution's RUNNING and end write its one item; a batch's end writes one item
    # per order it names.
    status = 2 * len(per_order) + len(batch_arns)
    return {
        "ses_events": ses,
        "status_events": status,
        "events": ses + status,
        "index_writes": 2 * len(order_items) + len(batch_items),
        # One write per event on an email already sent (kept); no claim to decide here.
        "email_log_writes": ses,
    }


def current_tables(state):
    """tables.json with tables.journal applied (each line replaces one order's items in every
    table), as sfn-local reads them: the evidence verb appends to the journal only."""
    tables = json.loads((state / "tables.json").read_text())
    journal = state / "tables.journal"
    names = ["orders", "checkStatus", "processUnpaidOrder", "emailLog", "orderIndex"]
    if journal.exists():
        for line in journal.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash is dropped, as sfn-local does
            order = entry["orderId"]
            for name in names:
                kept = [i for i in tables.get(name, []) if i.get("orderId", {}).get("S") != order]
                tables[name] = kept + entry.get(name, [])
    return tables


def markdown(out, a):
    usd = out["usd_per_1M_orders"]
    rows = [
        ("state transitions", f"{out['transitions_per_order']:.2f}", usd["transitions"]),
        ("Lambda requests (the five workflow functions)", f"{out['lambda_requests_per_order']:.2f}", usd["lambda_requests"]),
        (f"Lambda duration ({a.memory_mb} MB, {a.lambda_ms:g} ms each, arm64)", f"{out['gb_s_per_order']:.4f} GB-s", usd["lambda_duration_arm64"]),
        (f"evidence: SQS requests ({out['evidence_events_per_order']:.2f} events: SES {out['evidence_ses_events_per_order']:.2f}, "
         f"status changes {out['evidence_status_events_per_order']:.2f})", f"{out['sqs_requests_per_order']:.2f}", usd["evidence_sqs_requests"]),
        (f"evidence: DynamoDB writes (index {out['index_writes_per_order']:.2f}, email log {out['email_log_writes_per_order']:.2f})",
         f"{out['index_writes_per_order'] + out['email_log_writes_per_order']:.2f}", usd["evidence_dynamodb_writes"]),
        (f"evidence: record-event invocations ({a.recorder_ms:g} ms each)", f"{out['recorder_invocations_per_order']:.3f}", usd["evidence_recorder_lambda"]),
    ]
    lines = [
        "# Cost per 1M failed orders",
        "",
        "Generated by `python3 tests/bench/cost-model.py --write docs/cost.md` (do not edit: `tests/run.sh`",
        "fails when this page no longer matches the model, or when the total is above $160). It runs one",
        f"full Pipe batch ({out['batch_size']} records, as the Pipe delivers them) offline through the real",
        "definitions and handlers (`sfn-local pipe --virtual-clock`), lets every evidence event sfn-local",
        "published reach record-event, and counts per failed order what AWS bills: the state transitions",
        "(`StateEntered` events of every execution), the Lambda requests (`TaskScheduled`), the evidence",
        "events (SES's, kept on the email log; the status changes the template's rules pass), and",
        "record-event's writes and invocations.",
        "",
        "| per failed order | count | USD per 1M orders |",
        "| --- | --- | --- |",
    ]
    for what, count, cost in rows:
        lines.append(f"| {what} | {count} | {cost:.2f} |")
    lines.append(f"| **total** | | **{usd['total']:.2f}** |")
    lines += [
        "",
        "Prices: us-east-1 list prices. Standard workflows $0.025 per 1,000 state transitions; Lambda",
        "$0.20 per 1M requests and $0.0000133334 per GB-s (arm64); SQS $0.40 per 1M requests (EventBridge's",
        "SendMessage per event; ReceiveMessage and DeleteMessageBatch per batch of record-event's",
        "`BatchSize`); DynamoDB on-demand $0.625 per 1M write request units. Free: AWS service events on the",
        "default bus and their rules, SES's event publishing. Durations are assumptions (`--lambda-ms`,",
        "`--recorder-ms`); the counts are measured.",
        "",
        "Not in the total: SES's $0.10 per 1,000 emails ($100 per 1M), SNS publishes, the workflow",
        "functions' own DynamoDB reads and writes, the Pipe ($0.40 per 1M requests, one per batch),",
        "CloudWatch, and what only faults cost: each retry is one more transition and Lambda request, and",
        "an email whose answer was lost waits for its evidence at two transitions per check.",
        "",
    ]
    return "\n".join(lines)


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
    ap.add_argument("--recorder-ms", type=float, default=60.0, help="record-event's billed duration per batch, ms")
    ap.add_argument("--write", metavar="FILE", help="write the figures as markdown to FILE (docs/cost.md)")
    ap.add_argument("--check", metavar="FILE", help="fail if FILE is not what --write would write")
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
        ev = evidence_counts(base, tmp / "state", report, executions, arns)
    per_order_t = transitions / batch
    per_order_l = lambda_requests / batch
    gb_s = per_order_l * a.lambda_ms / 1000 * a.memory_mb / 1024
    sqs_batch = evidence_batch_size()
    events = ev["events"] / batch
    recorder_calls = events / sqs_batch
    sqs_requests = events * (1 + 2 / sqs_batch)
    writes = (ev["index_writes"] + ev["email_log_writes"]) / batch
    recorder_gb_s = recorder_calls * a.recorder_ms / 1000 * a.memory_mb / 1024
    cost = {
        "transitions": per_order_t * 1e6 / 1000 * PRICE_PER_1K_TRANSITIONS,
        "lambda_requests": per_order_l * PRICE_PER_1M_LAMBDA_REQUESTS,
        "lambda_duration_arm64": gb_s * 1e6 * PRICE_PER_GB_S_ARM64,
        "evidence_sqs_requests": sqs_requests * PRICE_PER_1M_SQS_REQUESTS,
        "evidence_dynamodb_writes": writes * PRICE_PER_1M_WRU,
        "evidence_recorder_lambda": recorder_calls * PRICE_PER_1M_LAMBDA_REQUESTS
        + recorder_gb_s * 1e6 * PRICE_PER_GB_S_ARM64,
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
        "evidence_events_per_order": events,
        "evidence_ses_events_per_order": ev["ses_events"] / batch,
        "evidence_status_events_per_order": ev["status_events"] / batch,
        "sqs_requests_per_order": sqs_requests,
        "recorder_invocations_per_order": recorder_calls,
        "index_writes_per_order": ev["index_writes"] / batch,
        "email_log_writes_per_order": ev["email_log_writes"] / batch,
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
    print(f"cost-model: evidence events per order          {events:.2f}  (SES {out['evidence_ses_events_per_order']:.2f}, "
          f"status changes {out['evidence_status_events_per_order']:.2f})")
    print(f"cost-model: SQS requests per order             {sqs_requests:.2f}  (batches of {sqs_batch})")
    print(f"cost-model: record-event invocations per order {recorder_calls:.3f}")
    print(f"cost-model: DynamoDB writes per order          {writes:.2f}  (index {out['index_writes_per_order']:.2f}, "
          f"email log {out['email_log_writes_per_order']:.2f})")
    for k, v in out["usd_per_1M_orders"].items():
        print(f"cost-model: USD per 1M failed orders, {k:22s} {v:10.2f}")
    total = out["usd_per_1M_orders"]["total"]
    page = markdown(out, a)
    if a.write:
        Path(a.write).write_text(page)
        print(f"cost-model: wrote {a.write}")
    if a.check and Path(a.check).read_text() != page:
        raise SystemExit(f"cost-model: {a.check} does not match the model; regenerate it: "
                         f"python3 tests/bench/cost-model.py --write {a.check}")
    if a.max_usd is not None and total > a.max_usd:
        raise SystemExit(f"cost-model: {total:.2f} USD per 1M failed orders is above the target {a.max_usd:.2f}")


if __name__ == "__main__":
    main()
