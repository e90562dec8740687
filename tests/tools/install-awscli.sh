#!/usr/bin/env bash
# Installs the pinned AWS CLI (v1, from PyPI) into .tools/awscli (a Python venv, gitignored) from
# tests/tools/requirements-awscli.txt and constraints-awscli.txt; tests/tests/api_cli.rs runs it
# against `sfn-local serve`. Idempotent: skipped when the venv's stamp matches the pin files' hash.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
dir=$root/.tools/awscli
req=$root/tests/tools/requirements-awscli.txt
con=$root/tests/tools/constraints-awscli.txt
python=${PYTHON:-python3}

want=$(cat "$req" "$con" | sha256sum | cut -c1-16)
if [[ -x $dir/bin/aws && -f $dir/.stamp && $(cat "$dir/.stamp") == "$want" ]]; then
    echo "install-awscli: .tools/awscli up to date"
    exit 0
fi
echo "install-awscli: installing the AWS CLI into .tools/awscli from tests/tools/requirements-awscli.txt"
t=$SECONDS
rm -rf "$dir"
mkdir -p "$root/.tools"
"$python" -m venv "$dir"
"$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" -c "$con"
echo "$want" >"$dir/.stamp"
echo "install-awscli: installed in $((SECONDS - t))s: $("$dir/bin/aws" --version 2>&1)"
