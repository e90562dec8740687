#!/usr/bin/env bash
# Regenerates docs/money-matrix.md: runs the money matrix (tests/tests/money_matrix.rs) over moto
# and copies the table it writes (target/money-matrix.md). Needs .tools/moto (tests/run.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_EC2_METADATA_DISABLED=true
if [ -z "${MOTO_ENDPOINT:-}" ]; then
    # shellcheck source=tests/tools/moto.sh
    source tests/tools/moto.sh
fi
cargo test -p workflow-tests --features emulator --test money_matrix --locked
cp target/money-matrix.md docs/money-matrix.md
echo "docs/money-matrix.md regenerated"
