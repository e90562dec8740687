#!/usr/bin/env bash
# Runs each cargo-fuzz target of fuzz/ for a bounded time (default 20 s each) and exits non-zero
# when one crashes (the input is left in fuzz/artifacts/<target>/). Installs the pinned cargo-fuzz
# into .tools/cargo-fuzz on first use. No nightly toolchain here: RUSTC_BOOTSTRAP=1 lets stable
# rustc take the sanitizer flags cargo-fuzz passes.
# Usage: bash tests/tools/fuzz.sh [SECONDS_PER_TARGET]
#        bash tests/tools/fuzz.sh --install     # only install cargo-fuzz (tests/run.sh, ahead)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
install_only=false
if [[ ${1:-} == --install ]]; then
    install_only=true
    shift
fi
seconds=${1:-20}
version=0.13.2
tools=$root/.tools/cargo-fuzz
fuzz=$tools/bin/cargo-fuzz

if ! "$fuzz" --version 2>/dev/null | grep -qF "$version"; then
    echo "fuzz: installing cargo-fuzz $version into .tools/cargo-fuzz" >&2
    cargo install cargo-fuzz --version "$version" --locked --root "$tools"
fi
$install_only && exit 0

export RUSTC_BOOTSTRAP=1
cd "$root/fuzz"

# Seeds: the project's own stream records and order documents, and the hostile-input corpus.
seed_dir=$(mktemp -d)
trap 'rm -rf "$seed_dir"' EXIT
mkdir -p "$seed_dir/stream_record" "$seed_dir/order_document" "$seed_dir/aws_event"
python3 - "$root" "$seed_dir" <<'PY'
import json, pathlib, sys
root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
records = json.loads((root / "events/stream-batch.json").read_text())
for i, r in enumerate(records):
    (out / "stream_record" / f"event-{i}.json").write_text(json.dumps(r))
    image = r.get("dynamodb", {}).get("NewImage", {}).get("data")
    if image is not None:
        (out / "order_document" / f"event-{i}.json").write_text(json.dumps(image))
for i, item in enumerate(json.loads((root / "events/tables/orders.json").read_text())):
    data = item["data"]
    text = data["S"] if "S" in data else json.dumps(data)
    (out / "order_document" / f"order-{i}.json").write_text(text)
for path in sorted((root / "tests/corpus").glob("*.json")):
    case = json.loads(path.read_text())
    for r in case.get("records", []):
        (out / "stream_record" / f"{path.stem}.json").write_text(json.dumps(r))
for path in sorted((root / "events/evidence").glob("*.json")):
    (out / "aws_event" / path.name).write_text(path.read_text())
PY

status=0
for target in stream_record order_document aws_event; do
    mkdir -p "corpus/$target"
    echo "fuzz: $target for ${seconds}s" >&2
    # libFuzzer prints a line per coverage gain: keep it in a log, show its summary.
    log="$seed_dir/$target.log"
    if "$fuzz" run "$target" "corpus/$target" "$seed_dir/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        >"$log" 2>&1; then
        grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "$log" >&2 || tail -n 5 "$log" >&2
    else
        tail -n 60 "$log" >&2
        if compgen -G "artifacts/$target/*" >/dev/null; then
            echo "fuzz: $target crashed; the input is in fuzz/artifacts/$target/" >&2
        else
            echo "fuzz: $target failed without a crash input (a build error? see above)" >&2
        fi
        status=1
    fi
done
exit $status
