#!/usr/bin/env bash
# Installs the pinned DuckDB wheel (PyPI, requirements.txt) into a venv of its own, DIR/venv,
# DIR = $1, else ${CARGO_TARGET_DIR:-<repo>/target}/fleet-warehouse, for the warehouse test
# (crates/fleet/tests/warehouse_duckdb.rs): nothing goes into the system Python.
# Idempotent: a marker records what was installed (the pinned list and the interpreter's
# version); when it matches, the script does nothing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
dir="${1:-${CARGO_TARGET_DIR:-$repo/target}/fleet-warehouse}"
case "$dir" in /*) ;; *) dir="$repo/$dir" ;; esac

fail() {
    echo "fleet warehouse setup: $*" >&2
    exit 1
}

command -v python3 >/dev/null 2>&1 ||
    fail "'python3' is not installed or not on PATH; the DuckDB warehouse test needs Python >= 3.9"

want="$(cat "$here/requirements.txt"; python3 --version 2>&1)"
venv="$dir/venv"
if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$want" ]; then
    echo "fleet warehouse setup: duckdb already installed in $venv"
    exit 0
fi

echo "fleet warehouse setup: installing duckdb (requirements.txt) into $venv"
mkdir -p "$dir" || fail "cannot create $dir"
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
echo "fleet warehouse setup: duckdb installed in $venv"
