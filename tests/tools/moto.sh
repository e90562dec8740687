#!/usr/bin/env bash
# Starts the pinned moto server (tests/tools/install-moto.sh) on a free loopback port and waits
# until it answers (bounded poll).
#   source tests/tools/moto.sh   -> runs it in the background, exports MOTO_ENDPOINT and MOTO_PID,
#                                   and stops it when the sourcing shell exits
#   bash tests/tools/moto.sh     -> runs it in the foreground, printing MOTO_ENDPOINT first
# The Rust tests use MOTO_ENDPOINT when set, and otherwise start .tools/moto/bin/moto_server themselves.
_moto_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_moto_bin=$_moto_root/.tools/moto/bin/moto_server
if [[ ! -x $_moto_bin ]]; then
    echo "moto.sh: $_moto_bin not found: run bash tests/tools/install-moto.sh" >&2
    return 1 2>/dev/null || exit 1
fi
_moto_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
_moto_log=$_moto_root/.tools/moto/server-$_moto_port.log
"$_moto_bin" -H 127.0.0.1 -p "$_moto_port" >"$_moto_log" 2>&1 &
MOTO_PID=$!
MOTO_ENDPOINT=http://127.0.0.1:$_moto_port
export MOTO_ENDPOINT MOTO_PID
_moto_ready=
for _ in $(seq 1 150); do # up to 30 s
    if curl -fs -o /dev/null "$MOTO_ENDPOINT/moto-api/"; then _moto_ready=1; break; fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then break; fi
    sleep 0.2
done
if [[ -z $_moto_ready ]]; then
    echo "moto.sh: moto server did not answer on $MOTO_ENDPOINT; log:" >&2
    cat "$_moto_log" >&2
    kill "$MOTO_PID" 2>/dev/null
    return 1 2>/dev/null || exit 1
fi
echo "MOTO_ENDPOINT=$MOTO_ENDPOINT"
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    trap 'kill "$MOTO_PID" 2>/dev/null' EXIT INT TERM
    wait "$MOTO_PID"
else
    trap 'kill "$MOTO_PID" 2>/dev/null' EXIT
fi
