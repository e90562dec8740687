#!/usr/bin/env bash
# The console's browser test: installs Debian's chromium and the pinned playwright-core if
# missing, builds sfn-local, sfn-console and record-evidence (AWS's events offline, through the
# real recorder), and runs tests/browser/console.test.mjs (which also writes the screenshots
# docs/console-*.png).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash tests/tools/install-browser.sh
cargo build -p sfn-local -p console --locked
cargo build -p workflow-tests --bin record-evidence --locked
node tests/browser/console.test.mjs
