#!/usr/bin/env bash
# Installs schemathesis (PyPI) for the gateway's API conformance test (tests/gateway_schema.rs),
# with openapi-spec-validator, which checks docs/openapi.yaml itself before schemathesis reads it.
# Both come pinned with their exact dependency tree (requirements.txt) into a venv of their own,
# DIR/venv, DIR = $1, else ${CARGO_TARGET_DIR:-<repo>/target}/api-schema: nothing goes into the
# system Python.
# Idempotent: a marker records what was installed (the pinned list and the interpreter's
# version); when it matches, the script does nothing. `.ci/test-setup` calls it before the tests; the
# test calls it too, so `cargo test` works on a fresh clone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
dir="${1:-${CARGO_TARGET_DIR:-$repo/target}/api-schema}"
case "$dir" in /*) ;; *) dir="$repo/$dir" ;; esac

fail() {
    echo "api schema setup: $*" >&2
    exit 1
}

command -v python3 >/dev/null 2>&1 ||
    fail "'python3' is not installed or not on PATH; the API schema test needs Python >= 3.9"

# Compiled wheels (pydantic-core, rpds-py) are specific to a Python version, so the interpreter
# is part of what an installed venv must match.
want="$(cat "$here/requirements.txt"; python3 --version 2>&1)"
venv="$dir/venv"
if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$want" ]; then
    echo "api schema setup: schemathesis already installed in $venv"
    exit 0
fi

echo "api schema setup: installing schemathesis (requirements.txt) into $venv"
mkdir -p "$dir" || fail "cannot create $dir"
# A venv records its own path in its scripts, so it is built where it stays; the marker, written
# last, is what says it is complete.
rm -rf "$venv"
python3 -m venv "$venv" >&2 ||
    fail "python3 could not create a venv in $venv (Debian/Ubuntu: apt-get install python3-venv)"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$venv/bin/python" -m pip install --quiet --no-input -r "$here/requirements.txt" >&2; then
    rm -rf "$venv"
    fail "pip could not install $here/requirements.txt; is PyPI (https://pypi.org) reachable? \
(pip's own message is above; a proxy goes in PIP_INDEX_URL or HTTPS_PROXY)"
fi
printf '%s' "$want" >"$venv/.installed"
echo "api schema setup: schemathesis installed in $venv"
