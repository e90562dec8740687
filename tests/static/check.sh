#!/usr/bin/env bash
# Static checks of the deployable side: template.yaml and statemachine/*.asl.json.
#
#   bash tests/static/check.sh                   every check on the repo, then the negative tests
#   bash tests/static/check.sh --root DIR CHECK  one or more checks on a copy (used by negative.sh)
#
# Checks: sam-validate, cfn-lint, asl-validator, project (tests/static/check_project.py), checkov,
# iam (tests/static/check_iam.py: each role against the AWS calls its function makes, and KMS),
# console-policy (tests/static/check_console_policy.py: the operator's policy for sfn-console,
# docs/console-operator-policy.json, against the AWS calls the console makes).
# Tools come from .tools/ (tests/tools/install-static.sh); nothing here reaches the network.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tools=$repo/.tools
root=$repo
if [[ ${1:-} == --root ]]; then
    root=$(cd "$2" && pwd)
    shift 2
fi
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0

for t in moto/bin/python static-sam/bin/sam static-cfnlint/bin/cfn-lint static-checkov/bin/checkov static-npm/node_modules/.bin/asl-validator; do
    [[ -x $tools/$t ]] || { echo "check.sh: $tools/$t missing: run bash tests/tools/install-static.sh" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
translated() { # the SAM-translated CloudFormation of $root/template.yaml, made once
    [[ -f $work/cfn.json ]] || "$tools/static-sam/bin/python" "$repo/tests/static/translate_sam.py" \
        "$root/template.yaml" "$work/cfn.json"
    echo "$work/cfn.json"
}

check_sam_validate() {
    (cd "$root" && "$tools/static-sam/bin/sam" validate --template template.yaml)
}

check_cfn_lint() {
    (cd "$root" && "$tools/static-cfnlint/bin/cfn-lint" template.yaml)
}

check_asl_validator() {
    local args=() f
    for f in "$root"/statemachine/*.asl.json; do args+=(--json-path "$f"); done
    "$tools/static-npm/node_modules/.bin/asl-validator" "${args[@]}"
}

check_project() {
    local cfn
    cfn=$(translated)
    "$tools/static-sam/bin/python" "$repo/tests/static/check_project.py" "$root" "$cfn"
}

# The AWS call log: what the test suite recorded (tests/run.sh sets AWS_CALL_LOG_DIR), else the
# committed fixture log written from reading each function's code (tests/static/call-log/).
check_iam() {
    local cfn log=${AWS_CALL_LOG_DIR:-$repo/tests/static/call-log}
    cfn=$(translated)
    "$tools/moto/bin/python" "$repo/tests/static/check_iam.py" "$cfn" "$log"
}

# The console's call log: what the console tests recorded (tests/run.sh sets CONSOLE_CALL_LOG_DIR),
# else the committed one (tests/static/console-call-log/, one line per call kind of such a run).
check_console_policy() {
    local cfn log=${CONSOLE_CALL_LOG_DIR:-$repo/tests/static/console-call-log}
    cfn=$(translated)
    "$tools/moto/bin/python" "$repo/tests/static/check_console_policy.py" "$cfn" \
        "$root/docs/console-operator-policy.json" "$log"
}

# checkov on the translated template (the SAM file hides the generated roles and their inline
# policies). Skipped checks, each for a reason that holds for this stack:
checkov_skips=(
    # Lambda reserved concurrency: concurrency is bounded upstream (Pipe: 1 batch per shard, Map
    # MaxConcurrency 10); reserving it would also fail to deploy in accounts with the default
    # 10-execution unreserved minimum.
    CKV_AWS_115
    # Lambda DLQ: only for asynchronous invokes; Step Functions invokes synchronously and keeps
    # the failure in the execution (Retry, Catch, redrive).
    CKV_AWS_116
    # Lambda in a VPC: the functions only call DynamoDB, SNS and SES public endpoints; a VPC adds
    # NAT or endpoints without reducing what they can reach (IAM does that).
    CKV_AWS_117
    # Lambda environment encryption with a CMK: the variables hold table names, a topic ARN and
    # the sender address, no secrets; Lambda encrypts them at rest with its service key.
    CKV_AWS_173
)
check_checkov() {
    local cfn skip
    cfn=$(translated)
    skip=$(IFS=,; echo "${checkov_skips[*]}")
    # Run from the work dir: checkov scans its cwd for config files otherwise.
    (cd "$work" && "$tools/static-checkov/bin/checkov" --skip-download --quiet --compact \
        --framework cloudformation --skip-check "$skip" -f "$cfn")
}

checks=("$@")
if [[ ${#checks[@]} -eq 0 ]]; then
    checks=(sam-validate cfn-lint asl-validator project iam console-policy checkov)
    run_negative=1
fi

failed=()
for c in "${checks[@]}"; do
    fn=check_${c//-/_}
    declare -F "$fn" >/dev/null || { echo "check.sh: unknown check $c" >&2; exit 2; }
    start=${EPOCHREALTIME/./}
    if "$fn"; then status=ok; else status=FAILED; failed+=("$c"); fi
    ms=$(((${EPOCHREALTIME/./} - start) / 1000))
    printf 'check.sh: %-14s %-6s %d.%03ds\n' "$c" "$status" $((ms / 1000)) $((ms % 1000))
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "check.sh: failed: ${failed[*]}"
    exit 1
fi
if [[ ${run_negative:-0} == 1 ]]; then
    bash "$repo/tests/static/negative.sh"
fi
