#!/usr/bin/env bash
# Installs the two third-party APNs clients the emulator's conformance tests drive:
#   aioapns (PyPI) with its exact dependency tree from requirements.txt, by `pip install --target`,
#   @parse/node-apn (npm) from package.json + package-lock.json, by `npm ci`.
# Nothing goes into the system Python or a global node_modules: everything lands in
#   DIR/python and DIR/node, DIR = $1, else ${CARGO_TARGET_DIR:-<repo>/target}/conformance.
# Idempotent: a marker per client records what was installed (the pinned list and the
# interpreter's version); when it matches, the script does nothing. `.ci/test-setup` calls it before the
# tests; the conformance test calls it too, so `cargo test` works on a fresh clone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
dir="${1:-${CARGO_TARGET_DIR:-$repo/target}/conformance}"
case "$dir" in /*) ;; *) dir="$repo/$dir" ;; esac

fail() {
    echo "conformance setup: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 ||
        fail "'$1' is not installed or not on PATH; the conformance tests need it ($2)"
}

need python3 "to run aioapns; install Python >= 3.9"
need node "to run @parse/node-apn; install Node.js 20, 22 or 24"
need npm "to install @parse/node-apn; it ships with Node.js"
python3 -m pip --version >/dev/null 2>&1 ||
    fail "python3 has no pip module; install it (Debian/Ubuntu: apt-get install python3-pip)"

mkdir -p "$dir" || fail "cannot create $dir"
# pip warns about running as root even with --target, which touches nothing of the system.
export PIP_ROOT_USER_ACTION=ignore

# What an installed tree must match: the pins and the interpreter (compiled wheels such as
# cryptography are specific to a Python version; node-apn's engines field names Node majors).
python_want="$(cat "$here/requirements.txt"; python3 --version 2>&1)"
node_want="$(cat "$here/package-lock.json"; node --version)"

py="$dir/python"
if [ -f "$py/.installed" ] && [ "$(cat "$py/.installed")" = "$python_want" ]; then
    echo "conformance setup: aioapns already installed in $py"
else
    echo "conformance setup: installing aioapns (requirements.txt) into $py"
    rm -rf "$py.partial"
    if ! python3 -m pip install --quiet --disable-pip-version-check --no-input \
        --target "$py.partial" -r "$here/requirements.txt" >&2; then
        rm -rf "$py.partial"
        fail "pip could not install $here/requirements.txt; is PyPI (https://pypi.org) reachable? \
(pip's own message is above; a proxy goes in PIP_INDEX_URL or HTTPS_PROXY)"
    fi
    printf '%s' "$python_want" >"$py.partial/.installed"
    rm -rf "$py"
    mv "$py.partial" "$py"
fi

nd="$dir/node"
if [ -f "$nd/.installed" ] && [ "$(cat "$nd/.installed")" = "$node_want" ]; then
    echo "conformance setup: @parse/node-apn already installed in $nd"
else
    echo "conformance setup: installing @parse/node-apn (package-lock.json) into $nd"
    rm -rf "$nd.partial"
    mkdir -p "$nd.partial"
    cp "$here/package.json" "$here/package-lock.json" "$nd.partial/"
    if ! npm ci --prefix "$nd.partial" --no-audit --no-fund --loglevel=error >&2; then
        rm -rf "$nd.partial"
        fail "npm could not install $here/package-lock.json; is the npm registry \
(https://registry.npmjs.org) reachable? (npm's own message is above; see 'npm config get registry')"
    fi
    printf '%s' "$node_want" >"$nd.partial/.installed"
    rm -rf "$nd"
    mv "$nd.partial" "$nd"
fi
