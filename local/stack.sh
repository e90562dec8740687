#!/usr/bin/env bash
# The whole chain on a laptop, no AWS account: moto (DynamoDB + Streams, SNS, SES, SQS), the four
# tables seeded from events/tables, the failed-order table with its stream, `sfn-local serve` with
# the real adapters against moto, and the Pipe following the stream (`sfn-local pipe-stream`).
# The evidence loop too (docs/evidence.md): the order-index table, the SES configuration set, the
# SQS evidence queue and its DLQ (maxReceiveCount 5); serve sends its executions' status changes
# to the queue and polls it into record-event; SES's events come from a proxy in front of moto's
# SES (aws-fault-proxy), for the emails moto really accepted (moto publishes none).
#   bash local/stack.sh        -> prints the endpoints and a put-item line; Ctrl-C stops it all
# STACK_DIR=DIR keeps the state (executions, Pipe checkpoints, logs) in DIR (default: a temp dir).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
[[ -x .tools/moto/bin/moto_server ]] || bash tests/tools/install-moto.sh
[[ -x .tools/awscli/bin/aws ]] || bash tests/tools/install-awscli.sh
if [[ -n ${WORKSPACE_BUILD_FEATURES:-} ]]; then
    # Under tests/run.sh: the test build's features, so the SDK is not rebuilt under a `-p` set.
    cargo build -q --workspace --bins --locked --features "$WORKSPACE_BUILD_FEATURES"
else
    cargo build -q -p sfn-local --bin sfn-local -p aws-fault-proxy --bin aws-fault-proxy --locked
fi
sfn_local=$root/target/debug/sfn-local
ses_proxy=$root/target/debug/aws-fault-proxy

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
table payment3-unpaid-order-index-dev orderId executionArn
table payment3-failed-order-dev orderId "" \
    --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES
# The fixtures, 25 items per batch-write-item (one CLI call each: each call starts a Python).
for pair in orders:order-table-dev check-status:payment3-check-status-dev \
    process-unpaid-order:payment3-process-unpaid-order-dev email-log:payment3-email-log-dev; do
    python3 -c 'import json,sys
items = json.load(open(sys.argv[1]))
for at in range(0, len(items), 25):
    print(json.dumps({sys.argv[2]: [{"PutRequest": {"Item": i}} for i in items[at:at + 25]]}))' \
        "events/tables/${pair%%:*}.json" "${pair#*:}" | while IFS= read -r batch; do
        aws dynamodb batch-write-item --request-items "$batch" >/dev/null
    done
done
aws sns create-topic --name payment3-unpaid-order-dev >/dev/null
aws ses verify-email-identity --email-address payments@example.com >/dev/null
dlq_url=$(aws sqs create-queue --queue-name payment3-unpaid-order-pipe-dlq-dev --query QueueUrl --output text)
# The evidence loop, as template.yaml declares it: the configuration set SendEmail names, the
# queue (VisibilityTimeout 120, to its DLQ after 5 receives).
aws sesv2 create-configuration-set --configuration-set-name payment3-unpaid-order-dev >/dev/null
evidence_dlq_url=$(aws sqs create-queue --queue-name payment3-unpaid-order-evidence-dlq-dev --query QueueUrl --output text)
evidence_dlq_arn=$(aws sqs get-queue-attributes --queue-url "$evidence_dlq_url" --attribute-names QueueArn --query Attributes.QueueArn --output text)
evidence_url=$(aws sqs create-queue --queue-name payment3-unpaid-order-evidence-dev --query QueueUrl --output text \
    --attributes "$(python3 -c 'import json,sys; print(json.dumps({"VisibilityTimeout": "120", "RedrivePolicy": json.dumps({"deadLetterTargetArn": sys.argv[1], "maxReceiveCount": "5"})}))' "$evidence_dlq_arn")")

# SES's events: a passthrough in front of moto's SES that sends them to the evidence queue.
"$ses_proxy" --service ses --upstream "$MOTO_ENDPOINT" --evidence-queue-url "$evidence_url" \
    >"$dir/ses-proxy.out" 2>"$dir/ses-proxy.log" &
proxy_pid=$!
pids+=("$proxy_pid")
ses_endpoint=
for _ in $(seq 1 150); do # up to 30 s
    ses_endpoint=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["endpoint"])' "$dir/ses-proxy.out" 2>/dev/null) && break
    kill -0 "$proxy_pid" 2>/dev/null || { cat "$dir/ses-proxy.log" >&2; exit 1; }
    sleep 0.2
done
[[ -n $ses_endpoint ]] || { echo "stack: the SES proxy did not start; see $dir/ses-proxy.log" >&2; exit 1; }

"$sfn_local" --state-dir "$dir/sfn" --project-root "$root" --aws-endpoint "$MOTO_ENDPOINT" --quiet \
    --service-endpoint "ses=$ses_endpoint" --evidence-queue-url "$evidence_url" \
    serve --port 0 >"$dir/serve.out" 2>"$dir/serve.log" &
serve_pid=$!
pids+=("$serve_pid")
echo "$serve_pid" >"$dir/serve.pid"
sfn_endpoint=
for _ in $(seq 1 300); do # up to 60 s
    sfn_endpoint=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["endpoint"])' "$dir/serve.out" 2>/dev/null) && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$dir/serve.log" >&2; exit 1; }
    sleep 0.2
done
[[ -n $sfn_endpoint ]] || { echo "stack: sfn-local serve did not start; see $dir/serve.log" >&2; exit 1; }

"$sfn_local" --state-dir "$dir/sfn" --project-root "$root" \
    pipe-stream --endpoint-url "$MOTO_ENDPOINT" --table-name payment3-failed-order-dev \
    --sfn-endpoint-url "$sfn_endpoint" --dlq-url "$dlq_url" >"$dir/pipe.out" 2>"$dir/pipe.log" &
pipe_pid=$!
pids+=("$pipe_pid")
# For kill/restart rehearsals (tests/tests/stack_cli.rs): the Pipe keeps its position in its
# checkpoints, the API its executions in the state dir.
echo "$pipe_pid" >"$dir/pipe.pid"
for _ in $(seq 1 150); do # up to 30 s: the Pipe prints its stream once it follows it
    [[ -s $dir/pipe.out ]] && break
    kill -0 "$pipe_pid" 2>/dev/null || { cat "$dir/pipe.log" >&2; exit 1; }
    sleep 0.2
done

cat <<EOF
stack: running (state and logs in $dir)
  MOTO_ENDPOINT=$MOTO_ENDPOINT      (DynamoDB, Streams, SNS, SES, SQS)
  SFN_ENDPOINT=$sfn_endpoint        (Step Functions API: sfn-local serve)
  DLQ_URL=$dlq_url
  EVIDENCE_QUEUE_URL=$evidence_url   (SES events and status changes -> record-event)
  EVIDENCE_DLQ_URL=$evidence_dlq_url
  SES_PROXY=$ses_endpoint      (moto's SES, publishing SES's events)
Send a failed order through (the Pipe batches within its 5 s window; 492500005648 bounces):
  .tools/awscli/bin/aws --endpoint-url $MOTO_ENDPOINT dynamodb put-item --table-name payment3-failed-order-dev --item '{"orderId": {"S": "492500005643"}, "failedAt": {"S": "2026-11-25T06:01:00Z"}}'
Then:
  .tools/awscli/bin/aws --endpoint-url $sfn_endpoint stepfunctions list-executions --state-machine-arn arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-order-dev
The email log (each email's status and SES's events: sesEvents) and the order index (every execution of an order):
  .tools/awscli/bin/aws --endpoint-url $MOTO_ENDPOINT dynamodb scan --table-name payment3-email-log-dev
  .tools/awscli/bin/aws --endpoint-url $MOTO_ENDPOINT dynamodb query --table-name payment3-unpaid-order-index-dev --key-condition-expression 'orderId = :o' --expression-attribute-values '{":o": {"S": "492500005643"}}'
Ctrl-C stops everything.
EOF
wait "${pids[@]}"
