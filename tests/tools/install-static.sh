#!/usr/bin/env bash
# Installs the pinned static-check and packaging tools into .tools/ (gitignored):
#   .tools/static-sam      aws-sam-cli (sam validate, aws-sam-translator)
#   .tools/static-cfnlint  cfn-lint
#   .tools/static-checkov  checkov
#   .tools/static-lambda   cargo-lambda + ziglang (cargo lambda build)
#   .tools/static-npm      asl-validator (npm ci from tests/tools/package-lock.json)
# One venv per tool family because their pinned dependencies conflict. Idempotent: each part is
# skipped when its stamp matches the hash of the pin file it was installed from.
# Also tries `rustup target add aarch64-unknown-linux-gnu` for the arm64 Lambda build; if that
# cannot be fetched, tests/static/package.sh builds x86_64 and says so.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
tools=$root/.tools
mkdir -p "$tools"
python=${PYTHON:-python3}

log=install-static
source tests/tools/venv.sh

venv static-sam requirements-static-sam.txt constraints-static-sam.txt
venv static-cfnlint requirements-static-cfnlint.txt constraints-static-cfnlint.txt
venv static-checkov requirements-static-checkov.txt constraints-static-checkov.txt
venv static-lambda requirements-static-lambda.txt constraints-static-lambda.txt

npm_dir=$tools/static-npm
want=$(stamp_of tests/tools/package.json tests/tools/package-lock.json)
if [[ -f $npm_dir/.stamp && $(cat "$npm_dir/.stamp") == "$want" ]]; then
    echo "install-static: static-npm up to date"
else
    echo "install-static: installing static-npm (npm ci, tests/tools/package-lock.json)"
    rm -rf "$npm_dir"
    mkdir -p "$npm_dir"
    cp tests/tools/package.json tests/tools/package-lock.json "$npm_dir/"
    (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$npm_dir/.stamp"
fi

# arm64 target for the Graviton build: best effort, the packaging step reports what it built.
if command -v rustup >/dev/null; then
    if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
        echo "install-static: rust target aarch64-unknown-linux-gnu present"
    elif timeout 120 rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
        echo "install-static: rust target aarch64-unknown-linux-gnu added"
    else
        echo "install-static: WARNING: could not add rust target aarch64-unknown-linux-gnu;" \
            "tests/static/package.sh will build x86_64 instead"
    fi
fi

echo "install-static: versions:"
"$tools/static-sam/bin/sam" --version
"$tools/static-cfnlint/bin/cfn-lint" --version
echo "checkov $("$tools/static-checkov/bin/checkov" --version)"
"$tools/static-lambda/bin/cargo-lambda" lambda --version
echo "asl-validator $(node -p "require('$npm_dir/node_modules/asl-validator/package.json').version")"
