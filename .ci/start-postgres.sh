#!/usr/bin/env bash
# Makes sure the local PostgreSQL the tests use is running (postgres://postgres@127.0.0.1:5432/test,
# or $PUSHTRACE_TEST_POSTGRES): starts Debian's cluster when it is installed but stopped, and
# fails with what to do otherwise. Called by .ci/test-setup, the set-up half of the README's test command.
set -euo pipefail
URL=${PUSHTRACE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
ready() { pg_isready -q -d "$URL" 2>/dev/null; }
# The tests' database must exist too (a fresh cluster has only "postgres").
ensure_database() {
    psql "$URL" -qAtc 'select 1' >/dev/null 2>&1 && return 0
    db=${URL##*/}; db=${db%%\?*}
    admin=${URL%/*}/postgres
    echo "creating database $db" >&2
    psql "$admin" -qc "CREATE DATABASE \"$db\"" >/dev/null 2>&1 || true
    psql "$URL" -qAtc 'select 1' >/dev/null 2>&1 || {
        echo "start-postgres.sh: PostgreSQL runs but $URL cannot be opened (database, user or authentication); create it or set PUSHTRACE_TEST_POSTGRES" >&2
        exit 1
    }
}
command -v pg_isready >/dev/null 2>&1 || {
    echo "start-postgres.sh: pg_isready is missing: install Debian's postgresql (apt-get install postgresql)" >&2
    exit 1
}
if ready; then
    ensure_database
    echo "PostgreSQL is running ($URL)"
    exit 0
fi
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
if command -v pg_lsclusters >/dev/null 2>&1; then
    while read -r version cluster _; do
        echo "starting PostgreSQL cluster $version/$cluster" >&2
        $SUDO pg_ctlcluster "$version" "$cluster" start || true
    done < <(pg_lsclusters --no-header 2>/dev/null)
elif command -v service >/dev/null 2>&1; then
    $SUDO service postgresql start || true
fi
for _ in $(seq 30); do
    ready && { ensure_database; echo "PostgreSQL is running ($URL)"; exit 0; }
    sleep 1
done
echo "start-postgres.sh: PostgreSQL is not reachable at $URL and could not be started; start it (pg_ctlcluster <version> main start) or set PUSHTRACE_TEST_POSTGRES" >&2
exit 1
