#!/usr/bin/env bash
# Negative tests of the static checks: every check must pass on an unbroken copy of template.yaml +
# statemachine/ (the control) and fail on a copy with one defect (tests/static/defects.py lists
# them with the checks that must catch each). Fails if any defect goes undetected.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
py=$repo/.tools/static-sam/bin/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "negative: ok   $*"; }
fail() { failed=$((failed + 1)); echo "negative: FAIL $*"; }

# Control: the unbroken copy passes every check, so a failure below is the defect's doing.
"$py" "$repo/tests/static/defects.py" make none "$repo" "$work/control" || exit 2
if out=$(bash "$repo/tests/static/check.sh" --root "$work/control" \
    sam-validate cfn-lint asl-validator project iam console-policy checkov 2>&1); then
    pass "control copy passes every check"
else
    echo "$out" | tail -20
    fail "control copy does not pass every check"
fi

while read -r name checks; do
    dest=$work/$name
    if ! "$py" "$repo/tests/static/defects.py" make "$name" "$repo" "$dest"; then
        fail "$name: could not make the broken copy"
        continue
    fi
    for check in $checks; do
        if out=$(bash "$repo/tests/static/check.sh" --root "$dest" "$check" 2>&1); then
            fail "$name: $check passed on the broken copy"
        else
            # The first line of what the check said, as evidence it caught this defect; a defect
            # with an expected message (defects.py expect) must be caught with that message.
            expect=$("$py" "$repo/tests/static/defects.py" expect "$name")
            if [[ -n $expect ]] && ! why=$(echo "$out" | grep -m1 -E -- "$expect"); then
                echo "$out" | tail -5
                fail "$name: $check failed, but without a line matching: $expect"
                continue
            fi
            [[ -n $expect ]] || why=$(echo "$out" | grep -vE '^check.sh: |problem\(s\)$|^Passed checks|scan results' |
                grep -m1 -iE 'error|fail|must|never|wildcard|invalid|not|E[0-9]{4}|CKV' || true)
            pass "$name: $check failed as it must${why:+ (${why:0:200})}"
        fi
    done
done < <("$py" "$repo/tests/static/defects.py" list)

echo "negative: ${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
