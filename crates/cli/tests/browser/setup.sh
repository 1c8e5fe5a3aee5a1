#!/usr/bin/env bash
# Installs playwright-core (npm, pinned by package-lock.json) for the HTML report's browser test,
# which drives Debian's chromium (/usr/bin/chromium; playwright's own browser download is never
# used). Nothing goes into a global node_modules: it lands in DIR/node_modules, DIR = $1, else
# ${CARGO_TARGET_DIR:-<repo>/target}/browser.
# Idempotent: a marker records the lock file and node's version; when it matches, the script does
# nothing. `.ci/test-setup` calls it before the tests; the browser test calls it too, so `cargo test`
# works on a fresh clone that has node and chromium.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
dir="${1:-${CARGO_TARGET_DIR:-$repo/target}/browser}"
case "$dir" in /*) ;; *) dir="$repo/$dir" ;; esac

fail() {
    echo "browser test setup: $*" >&2
    exit 1
}

command -v node >/dev/null 2>&1 || fail "'node' is not installed or not on PATH; install Node.js >= 20"
command -v npm >/dev/null 2>&1 || fail "'npm' is not installed or not on PATH; it ships with Node.js"

want="$(cat "$here/package-lock.json"; node --version)"
if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$want" ]; then
    echo "browser test setup: playwright-core already installed in $dir"
    exit 0
fi
echo "browser test setup: installing playwright-core (package-lock.json) into $dir"
mkdir -p "$(dirname "$dir")" || fail "cannot create $(dirname "$dir")"
rm -rf "$dir.partial"
mkdir -p "$dir.partial"
cp "$here/package.json" "$here/package-lock.json" "$dir.partial/"
if ! npm ci --prefix "$dir.partial" --no-audit --no-fund --loglevel=error >&2; then
    rm -rf "$dir.partial"
    fail "npm could not install $here/package-lock.json; is the npm registry \
(https://registry.npmjs.org) reachable? (npm's own message is above; see 'npm config get registry')"
fi
printf '%s' "$want" >"$dir.partial/.installed"
rm -rf "$dir"
mv "$dir.partial" "$dir"
