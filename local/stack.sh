#!/usr/bin/env bash
# The whole chain on a laptop, no AWS account: moto (DynamoDB + Streams, SNS, SES, SQS), the four
# tables seeded from events/tables, the failed-order table with its stream, `sfn-local serve` with
# the real adapters against moto, and the Pipe following the stream (`sfn-local pipe-stream`).
#   bash local/stack.sh        -> prints the endpoints and a put-item line; Ctrl-C stops it all
# STACK_DIR=DIR keeps the state (executions, Pipe checkpoints, logs) in DIR (default: a temp dir).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
[[ -x .tools/moto/bin/moto_server ]] || bash tests/tools/install-moto.sh
[[ -x .tools/awscli/bin/aws ]] || bash tests/tools/install-awscli.sh
cargo build -q -p sfn-local --bin sfn-local --locked
sfn_local=$root/target/debug/sfn-local

dir=${STACK_DIR:-$(mktemp -d -t sfn-local-stack.XXXXXX)}
mkdir -p "$dir"
pids=()
stop() {
    trap - EXIT INT TERM
    # Children first (they talk to moto), then moto; wait so nothing is left running.
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n ${MOTO_PID:-} ]]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
    echo "stack: stopped (state in $dir)" >&2
}
trap stop EXIT INT TERM

# shellcheck source=tests/tools/moto.sh
source tests/tools/moto.sh >/dev/null
trap stop EXIT INT TERM # moto.sh set its own EXIT trap: ours stops moto too
aws() { "$root/.tools/awscli/bin/aws" --endpoint-url "$MOTO_ENDPOINT" --output json "$@"; }

table() { # name hash [range]
    local attrs="AttributeName=$2,AttributeType=S" keys="AttributeName=$2,KeyType=HASH"
    if [[ -n ${3:-} ]]; then
        attrs="$attrs AttributeName=$3,AttributeType=S" keys="$keys AttributeName=$3,KeyType=RANGE"
    fi
    # shellcheck disable=SC2086
    aws dynamodb create-table --table-name "$1" --billing-mode PAY_PER_REQUEST \
        --attribute-definitions $attrs --key-schema $keys "${@:4}" >/dev/null
}
table order-table-dev orderId
table payment3-check-status-dev orderId created_at
table payment3-process-unpaid-order-dev orderId created_at
table payment3-email-log-dev emailId
table payment3-failed-order-dev orderId "" \
    --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES
for pair in orders:order-table-dev check-status:payment3-check-status-dev \
    process-unpaid-order:payment3-process-unpaid-order-dev email-log:payment3-email-log-dev; do
    python3 -c 'import json,sys; [print(json.dumps(i)) for i in json.load(open(sys.argv[1]))]' \
        "events/tables/${pair%%:*}.json" | while IFS= read -r item; do
        aws dynamodb put-item --table-name "${pair#*:}" --item "$item" >/dev/null
    done
done
aws sns create-topic --name payment3-unpaid-order-dev >/dev/null
aws ses verify-email-identity --email-address payments@example.com >/dev/null
dlq_url=$(aws sqs create-queue --queue-name payment3-unpaid-order-pipe-dlq-dev --query QueueUrl --output text)

"$sfn_local" --state-dir "$dir/sfn" --project-root "$root" --aws-endpoint "$MOTO_ENDPOINT" --quiet \
    serve --port 0 >"$dir/serve.out" 2>"$dir/serve.log" &
pids+=($!)
echo "$!" >"$dir/serve.pid"
sfn_endpoint=
for _ in $(seq 1 300); do # up to 60 s
    sfn_endpoint=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["endpoint"])' "$dir/serve.out" 2>/dev/null) && break
    kill -0 "${pids[0]}" 2>/dev/null || { cat "$dir/serve.log" >&2; exit 1; }
    sleep 0.2
done
[[ -n $sfn_endpoint ]] || { echo "stack: sfn-local serve did not start; see $dir/serve.log" >&2; exit 1; }

"$sfn_local" --state-dir "$dir/sfn" --project-root "$root" \
    pipe-stream --endpoint-url "$MOTO_ENDPOINT" --table-name payment3-failed-order-dev \
    --sfn-endpoint-url "$sfn_endpoint" --dlq-url "$dlq_url" >"$dir/pipe.out" 2>"$dir/pipe.log" &
pids+=($!)
# For kill/restart rehearsals (tests/tests/stack_cli.rs): the Pipe keeps its position in its
# checkpoints, the API its executions in the state dir.
echo "$!" >"$dir/pipe.pid"
for _ in $(seq 1 150); do # up to 30 s: the Pipe prints its stream once it follows it
    [[ -s $dir/pipe.out ]] && break
    kill -0 "${pids[1]}" 2>/dev/null || { cat "$dir/pipe.log" >&2; exit 1; }
    sleep 0.2
done

cat <<EOF
stack: running (state and logs in $dir)
  MOTO_ENDPOINT=$MOTO_ENDPOINT      (DynamoDB, Streams, SNS, SES, SQS)
  SFN_ENDPOINT=$sfn_endpoint        (Step Functions API: sfn-local serve)
  DLQ_URL=$dlq_url
Send a failed order through (the Pipe batches within its 5 s window):
  .tools/awscli/bin/aws --endpoint-url $MOTO_ENDPOINT dynamodb put-item --table-name payment3-failed-order-dev --item '{"orderId": {"S": "492500005643"}, "failedAt": {"S": "2026-11-25T06:01:00Z"}}'
Then:
  .tools/awscli/bin/aws --endpoint-url $sfn_endpoint stepfunctions list-executions --state-machine-arn arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-order-dev
Ctrl-C stops everything.
EOF
wait "${pids[@]}"
