#!/usr/bin/env bash
# Packages the six Lambdas as AWS does: `cargo lambda build --release --output-format zip`, one
# bootstrap.zip per function under target/lambda/<name>/, and prints each size.
#
# Architecture: arm64 (what template.yaml deploys) when the rust target aarch64-unknown-linux-gnu
# is installed (tests/tools/install-static.sh tries to add it); otherwise x86_64, said loudly, since
# the build itself (code, dependencies, linking with zig) is what this step proves.
# Tools: cargo-lambda + ziglang from .tools/static-lambda (tests/tools/install-static.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
venv=$PWD/.tools/static-lambda
[[ -x $venv/bin/cargo-lambda ]] || { echo "package.sh: $venv missing: run bash tests/tools/install-static.sh" >&2; exit 2; }
# The venv's python3 carries the ziglang module, which cargo-lambda runs as its linker.
export PATH=$venv/bin:$PATH

functions=(load-order build-failed-header save-order log-attempt notify-failure record-event)

if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    arch=arm64
    arch_flag=--arm64
else
    arch=x86_64
    arch_flag=--x86-64
    echo "package.sh: WARNING: rust target aarch64-unknown-linux-gnu is not installed (rustup could not"
    echo "package.sh: WARNING: fetch it); building x86_64 instead. template.yaml deploys arm64: run"
    echo "package.sh: WARNING: 'rustup target add aarch64-unknown-linux-gnu' before 'sam build' to deploy."
fi

packages=()
for f in "${functions[@]}"; do
    packages+=(--package "$f")
    rm -f "target/lambda/$f/bootstrap.zip"
done

echo "package.sh: cargo lambda build --release $arch_flag --output-format zip (${functions[*]})"
start=$SECONDS
cargo lambda build --release "$arch_flag" --output-format zip --locked "${packages[@]}"
echo "package.sh: built in $((SECONDS - start))s for $arch"

missing=0
printf 'package.sh: %-22s %12s %12s\n' function "zip bytes" "bootstrap"
for f in "${functions[@]}"; do
    zip=target/lambda/$f/bootstrap.zip
    if [[ ! -f $zip ]]; then
        echo "package.sh: MISSING $zip"
        missing=1
        continue
    fi
    # A deployable zip holds exactly one executable named bootstrap at its root.
    listing=$(python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(" ".join(i.filename for i in z.infolist())); print(z.getinfo("bootstrap").file_size)' "$zip") || {
        echo "package.sh: $zip has no bootstrap at its root"
        missing=1
        continue
    }
    names=$(echo "$listing" | sed -n 1p)
    raw=$(echo "$listing" | sed -n 2p)
    [[ $names == bootstrap ]] || { echo "package.sh: $zip holds '$names', expected only bootstrap"; missing=1; }
    printf 'package.sh: %-22s %12s %12s  (%s)\n' "$f" "$(stat -c %s "$zip")" "$raw" "$arch"
done
exit $missing
