#!/usr/bin/env bash
# The project's test command (README "Quick start"; each step explained in docs/testing.md): installs
# the pinned tools it needs into .tools/, then runs every check CI runs, in the order that fails
# fastest. Safe to re-run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TERM_COLOR=never
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# Fake credentials: nothing here talks to AWS, and the SDK must not probe for real ones.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_EC2_METADATA_DISABLED=true

started=$SECONDS
step() { printf '\n==> [%4ss] %s\n' "$((SECONDS - started))" "$*"; }

# One feature set for every build below: a `cargo build -p X` resolves X's features alone and
# rebuilds the SDK under them (about two minutes each on two cores). local/stack.sh and the
# browser test build the workspace's binaries with these; the test harness uses the sfn-local
# and console binaries `cargo test` builds (their packages have integration tests).
export WORKSPACE_BUILD_FEATURES=emulator

step "install pinned tools (.tools/); meanwhile the test build, in the background"
# The installs are pip on one core: the test build takes the other one. Its errors, if any, are
# reported by the cargo test step below, which builds again (a no-op when this one succeeded).
mkdir -p target
cargo test --workspace --locked --features "$WORKSPACE_BUILD_FEATURES" --no-run >target/test-build.log 2>&1 &
test_build=$!
bash tests/tools/install-moto.sh
bash tests/tools/install-static.sh
bash tests/tools/install-awscli.sh
wait "$test_build" || echo "tests/run.sh: the background test build failed; the cargo test step reports why"

step "rustfmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the domain crate without the AWS SDK (what the fuzz targets build on)"
cargo build -p unpaid-order --no-default-features --locked

step "start moto server (local AWS API emulator)"
# shellcheck source=tests/tools/moto.sh
source tests/tools/moto.sh
echo "MOTO_ENDPOINT=$MOTO_ENDPOINT"

step "cargo test --features emulator (unit, adapters over moto, workflows, reliability, money matrix, Step Functions API via awscli + aws-sdk-sfn)"
# The fault proxy (tests/fault-proxy) records every AWS call the functions make here; the IAM
# check below evaluates each role against exactly these calls.
export AWS_CALL_LOG_DIR="$PWD/target/aws-calls"
rm -rf "$AWS_CALL_LOG_DIR"
# sfn-console records every AWS call it makes here (the console tests below and the browser test);
# the console-policy check evaluates the operator's policy against exactly these calls.
export CONSOLE_CALL_LOG_DIR="$PWD/target/console-calls"
rm -rf "$CONSOLE_CALL_LOG_DIR"
# `emulator` turns on the tests that need moto or the AWS CLI (plain `cargo test` ignores them,
# saying why). Here none may be ignored: a test ignored in CI would be a test that never runs.
WORKFLOW_TESTS_BUILT_BINS=1 cargo test --workspace --locked --features "$WORKSPACE_BUILD_FEATURES" 2>&1 | tee target/cargo-test.log
if grep -E '^test result: .* [1-9][0-9]* ignored' target/cargo-test.log; then
    echo "tests/run.sh: the lines above ignored tests; CI runs every test" >&2
    exit 1
fi

step "cost model: transitions, Lambda requests and evidence (events, SQS, writes) per order counted offline; docs/cost.md must match; target <= 160 USD per 1M failed orders"
python3 tests/bench/cost-model.py --max-usd 160 --check docs/cost.md

# cargo-fuzz compiles from source on a fresh machine: alongside the browser test and the static
# checks (one core each) rather than alone before the fuzzing.
bash tests/tools/fuzz.sh --install >target/fuzz-install.log 2>&1 &
fuzz_install=$!

step "operator console in a real browser (Debian chromium + playwright-core): find, inspect, bulk-redrive, XSS and CSRF refused; screenshots docs/console-*.png"
bash tests/browser/run.sh

step "static checks: sam validate, cfn-lint, asl-validator, project ASL check, IAM, console operator policy, checkov, negative tests"
bash tests/static/check.sh

step "ASL conformance ratchet (../shared/asl-conformance)"
bash tests/conformance/ratchet.sh

wait "$fuzz_install" || { cat target/fuzz-install.log >&2; exit 1; }

step "fuzz the stream-record, order-document and evidence-event parsers (cargo-fuzz pinned, 20 s per target)"
bash tests/tools/fuzz.sh 20

step "package: cargo lambda build --release (bootstrap zips)"
bash tests/static/package.sh

step "done in $((SECONDS - started))s"
