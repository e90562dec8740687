#!/usr/bin/env bash
# The console at scale, under AWS's API quotas (issue 22): seeds N per-order executions over 90
# days (`sfn-local seed-executions`, with the order index the recorder would have built), serves
# them with `sfn-local serve --aws-quotas` (Step Functions' documented token buckets), then:
#
#   - find-order of the OLDEST order through the index (median of 5 runs);
#   - the same by the scan (the newest 2,000 per machine, DescribeExecution each): once;
#   - a bulk-redrive dry run selecting 500 failures by error;
#   - ListExecutions paging through all N (first and last page times: no quadratic paging).
#
#   bash tests/bench/console-scale.sh            # N = 100,000 (~6 min: the scan waits on AWS's 15/s)
#   bash tests/bench/console-scale.sh 10000      # smaller
#
# Release builds. Not part of the CI test command; figures go to docs/performance.md.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
count=${1:-100000}
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --locked -q -p sfn-local -p console
sfn_local=$target/release/sfn-local
console=$target/release/sfn-console
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Every 100th execution FAILED, alternately TransientError and OrderNotFound: N/200 TransientError.
failed_every=100
t0=$(date +%s.%N)
"$sfn_local" --quiet --state-dir "$work/state" seed-executions --count "$count" --days 90 \
    --failed-every "$failed_every" --error TransientError --error OrderNotFound >"$work/seed.json"
t1=$(date +%s.%N)
echo "console-scale: seeded $count executions over 90 days in $(python3 -c "print(f'{$t1-$t0:.1f}')") s: $(tr -d '\n ' <"$work/seed.json")"

"$sfn_local" --quiet --state-dir "$work/state" serve --port 0 --aws-quotas >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 1 600); do
    grep -q endpoint "$work/serve.out" 2>/dev/null && break
    sleep 0.1
done
endpoint=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["endpoint"])' "$work/serve.out")
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true

# Runs the console, prints the wall time (s) on fd 3, its JSON to $work/out.json.
timed() {
    local start end
    start=$(date +%s.%N)
    "$console" --endpoint-url "$endpoint" "$@" >"$work/out.json"
    end=$(date +%s.%N)
    python3 -c "print(f'{$end-$start:.3f}')"
}

oldest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["oldestOrderId"])' "$work/seed.json")
index_times=()
for _ in 1 2 3 4 5; do
    index_times+=("$(timed find-order "$oldest" --json)")
done
index_found=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["executions"]), d["searched"]["message"])' "$work/out.json")
scan_time=$(timed find-order "$oldest" --scan --json)
scan_found=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["executions"]), d["searched"]["message"])' "$work/out.json")
bulk_time=$(timed redrive-failed --error TransientError --since 91d --limit 500 --dry-run --json)
bulk_found=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["wouldRedrive"]), d["selectedHow"])' "$work/out.json")
quotas=$(curl -s -X POST -H 'X-Amz-Target: SfnLocal.Quotas' -d '{}' "$endpoint/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["throttled"])')

python3 - "$endpoint" "$count" <<'PY'
# ListExecutions through all N, 1,000 a page (AWS's largest), as a script pages on AWS.
import json, sys, time, urllib.request
endpoint, count = sys.argv[1], int(sys.argv[2])
arn = "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-order-dev"
def call(body):
    req = urllib.request.Request(endpoint, json.dumps(body).encode(), {
        "X-Amz-Target": "AWSStepFunctions.ListExecutions",
        "Content-Type": "application/x-amz-json-1.0"})
    while True:
        try:
            with urllib.request.urlopen(req) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if b"ThrottlingException" not in e.read():
                raise
            time.sleep(0.2)  # ListExecutions refills 5 a second
token, pages, seen, times = None, 0, 0, []
while True:
    body = {"stateMachineArn": arn, "maxResults": 1000}
    if token:
        body["nextToken"] = token
    t = time.perf_counter()
    page = call(body)
    times.append(time.perf_counter() - t)
    pages += 1
    seen += len(page["executions"])
    token = page.get("nextToken")
    if not token:
        break
assert seen == count, (seen, count)
print(f"console-scale: list-executions paged {seen} in {pages} pages; first page {times[0]*1000:.1f} ms, "
      f"last page {times[-1]*1000:.1f} ms, median page {sorted(times)[len(times)//2]*1000:.1f} ms "
      f"(ratio last/first {times[-1]/times[0]:.2f})")
PY

python3 - "$count" "$scan_time" "$bulk_time" "$index_found" "$scan_found" "$bulk_found" "$quotas" "${index_times[@]}" <<'PY'
import statistics, sys
count, scan, bulk, index_found, scan_found, bulk_found, quotas, *index = sys.argv[1:]
index = [float(t) for t in index]
median = statistics.median(index)
print(f"console-scale: {int(count):,} executions, serve --aws-quotas (us-east-1 buckets)")
print(f"console-scale: find-order oldest by the index: median {median:.3f} s of {len(index)} "
      f"(min {min(index):.3f}, max {max(index):.3f}); found {index_found}")
print(f"console-scale: find-order oldest by the scan:  {float(scan):.1f} s; found {scan_found}")
print(f"console-scale: bulk-redrive dry run by error:  {float(bulk):.3f} s; selected {bulk_found}")
print(f"console-scale: scan / index = {float(scan) / median:.0f}x; throttled calls: {quotas}")
print(f"console-scale: goal find-order <= 1 s through the index: {'met' if median <= 1.0 else 'MISSED'}")
PY
