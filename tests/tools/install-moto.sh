#!/usr/bin/env bash
# Installs the pinned moto server (local AWS API emulator used by the adapter and function tests)
# into .tools/moto (a Python venv, gitignored) from tests/tools/requirements-moto.txt.
# Idempotent: skipped when the venv's stamp matches the hash of the pin file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
dir=$root/.tools/moto
req=$root/tests/tools/requirements-moto.txt
python=${PYTHON:-python3}

want=$(sha256sum "$req" | cut -c1-16)
if [[ -x $dir/bin/moto_server && -f $dir/.stamp && $(cat "$dir/.stamp") == "$want" ]]; then
    echo "install-moto: .tools/moto up to date"
    exit 0
fi
echo "install-moto: installing moto into .tools/moto from tests/tools/requirements-moto.txt"
t=$SECONDS
rm -rf "$dir"
mkdir -p "$root/.tools"
"$python" -m venv "$dir"
"$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
echo "$want" >"$dir/.stamp"
echo "install-moto: installed in $((SECONDS - t))s: $("$dir/bin/python" -c 'import moto; print("moto", moto.__version__)')"
