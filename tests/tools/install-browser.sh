#!/usr/bin/env bash
# Installs what the console's browser test needs, each part only if missing:
#   /usr/bin/chromium          Debian's chromium (apt-get; the test drives it, never downloads one)
#   tests/browser/node_modules playwright-core (npm ci from tests/browser/package-lock.json)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
log=install-browser
source tests/tools/venv.sh

if [[ -x /usr/bin/chromium ]]; then
    echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) present"
else
    echo "install-browser: installing Debian's chromium (apt-get)"
    sudo=""
    [[ $(id -u) == 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    /usr/bin/chromium --version
fi

npm_dir=$root/tests/browser
want=$(stamp_of tests/browser/package.json tests/browser/package-lock.json)
if [[ -f $npm_dir/node_modules/.stamp && $(cat "$npm_dir/node_modules/.stamp") == "$want" ]]; then
    echo "install-browser: playwright-core up to date"
else
    echo "install-browser: npm ci (tests/browser/package-lock.json)"
    (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$npm_dir/node_modules/.stamp"
fi
echo "install-browser: playwright-core $(node -p "require('$npm_dir/node_modules/playwright-core/package.json').version")"
