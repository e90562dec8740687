#!/usr/bin/env bash
# Throughput of the whole live chain (local/stack.sh): N failed orders written to moto's
# failed-order table (batch-write-item, 25 per call) -> stream -> Pipe -> batch machine ->
# per-order machine -> SNS/SES on moto. Prints records/s from the first write to the last
# per-order execution's stop.   bash tests/bench/pipe-stack.sh [N=100]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n=${1:-100}
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
dir=$(mktemp -d -t pipe-bench.XXXXXX)
out=$dir/stack.out
STACK_DIR=$dir/state bash local/stack.sh >"$out" 2>"$dir/stack.err" &
stack=$!
# TERM: a background job of a script ignores SIGINT.
trap 'kill -TERM $stack 2>/dev/null; wait $stack 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do grep -q '^Ctrl-C' "$out" 2>/dev/null && break; sleep 0.5; done
moto=$(grep -o 'MOTO_ENDPOINT=[^ ]*' "$out" | cut -d= -f2)
sfn=$(grep -o 'SFN_ENDPOINT=[^ ]*' "$out" | cut -d= -f2)
aws() { .tools/awscli/bin/aws --output json "$@"; }
# The orders to process: copies of the fixture's unpaid order under new ids.
python3 - "$moto" "$n" <<'EOF'
import json, subprocess, sys
moto, n = sys.argv[1], int(sys.argv[2])
orders = json.load(open("events/tables/orders.json"))
checks = json.load(open("events/tables/check-status.json"))
order = next(o for o in orders if o["orderId"]["S"] == "492500005643")
check = next(c for c in checks if c["orderId"]["S"] == "492500005643")
def put(table, items):
    for i in range(0, len(items), 25):
        req = {table: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]}
        subprocess.run([".tools/awscli/bin/aws", "--endpoint-url", moto, "dynamodb", "batch-write-item",
                        "--request-items", json.dumps(req)], check=True, stdout=subprocess.DEVNULL)
ids = [f"bench-{i:05d}" for i in range(n)]
put("order-table-dev", [dict(order, orderId={"S": i}) for i in ids])
put("payment3-check-status-dev", [dict(check, orderId={"S": i}) for i in ids])
EOF
start=$(date +%s.%N)
python3 - "$moto" "$n" <<'EOF'
import json, subprocess, sys
moto, n = sys.argv[1], int(sys.argv[2])
items = [{"orderId": {"S": f"bench-{i:05d}"}} for i in range(n)]
for i in range(0, n, 25):
    req = {"payment3-failed-order-dev": [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]}
    subprocess.run([".tools/awscli/bin/aws", "--endpoint-url", moto, "dynamodb", "batch-write-item",
                    "--request-items", json.dumps(req)], check=True, stdout=subprocess.DEVNULL)
EOF
machine=arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-order-dev
done_count=0
for _ in $(seq 1 1200); do # up to 10 min
    done_count=$(aws --endpoint-url "$sfn" stepfunctions list-executions --state-machine-arn "$machine" \
        --status-filter SUCCEEDED --query 'length(executions)' --output text)
    [[ $done_count -ge $n ]] && break
    sleep 0.5
done
last=$(aws --endpoint-url "$sfn" stepfunctions list-executions --state-machine-arn "$machine" \
    --query 'max(executions[].stopDate)' --output text)
python3 -c "import sys; s,l,n,d=map(float,sys.argv[1:]); print(f'pipe-stack: {int(d)}/{int(n)} orders SUCCEEDED in {l-s:.1f} s: {d/(l-s):.1f} records/s')" \
    "$start" "$last" "$n" "$done_count"
