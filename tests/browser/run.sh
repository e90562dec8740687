#!/usr/bin/env bash
# The console's browser test: installs Debian's chromium and the pinned playwright-core if
# missing, builds sfn-local and sfn-console, and runs tests/browser/console.test.mjs (which also
# writes the screenshots docs/console-*.png).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash tests/tools/install-browser.sh
cargo build -p sfn-local -p console --locked
node tests/browser/console.test.mjs
