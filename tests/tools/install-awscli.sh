#!/usr/bin/env bash
# Installs the pinned AWS CLI (v1, from PyPI) into .tools/awscli (a Python venv, gitignored) from
# tests/tools/requirements-awscli.txt and constraints-awscli.txt; tests/tests/api_cli.rs runs it
# against `sfn-local serve`. Idempotent (see venv.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
python=${PYTHON:-python3}
log=install-awscli
source tests/tools/venv.sh

venv awscli requirements-awscli.txt constraints-awscli.txt
echo "$log: $("$root/.tools/awscli/bin/aws" --version 2>&1)"
