#!/usr/bin/env bash
# The console's browser test: installs Debian's chromium and the pinned playwright-core if
# missing, builds sfn-local, sfn-console and record-evidence (AWS's events offline, through the
# real recorder), and runs tests/browser/console.test.mjs (which also writes the screenshots
# docs/console-*.png).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash tests/tools/install-browser.sh
if [[ -n ${WORKSPACE_BUILD_FEATURES:-} ]]; then
    # Under tests/run.sh: the workspace's binaries with the test build's features, so the SDK
    # is not rebuilt under the feature set of a `-p` build.
    cargo build -q --workspace --bins --locked --features "$WORKSPACE_BUILD_FEATURES"
else
    cargo build -p sfn-local -p console --locked
    cargo build -p workflow-tests --bin record-evidence --locked
fi
node tests/browser/console.test.mjs
