#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster.
#
#   scripts/with-postgres.sh COMMAND [ARG...]
#
# Creates a cluster in a fresh `mktemp -d` directory, listening on 127.0.0.1 only, on a free port,
# with its unix socket inside that directory, trust authentication for loopback, and a database
# `xunjian_test`. COMMAND runs (as the calling user) with
#   XUNJIAN_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:<port>/xunjian_test
# and the script exits with COMMAND's status. The cluster is stopped and its directory deleted on
# every way out: success, failure, Ctrl-C, TERM.
#
# As root the server runs as the `postgres` OS user (PostgreSQL refuses to run as root); the user is
# created if missing. The binaries come from the highest /usr/lib/postgresql/*/bin, or $PG_BIN.
set -euo pipefail

if (($# == 0)); then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

pg_bin=${PG_BIN:-}
if [ -z "$pg_bin" ]; then
    pg_bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
if [ ! -x "$pg_bin/initdb" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
    echo "with-postgres: no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin;" >&2
    echo "  run scripts/ensure-system-deps.sh postgresql" >&2
    exit 1
fi

# Who runs the server.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
    if ! id -u postgres >/dev/null 2>&1; then
        echo "==> creating system user postgres"
        useradd --system --user-group --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin postgres
    fi
    as_pg=(runuser -u postgres --)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xunjian-pg.XXXXXX")
data="$tmp/data"
log="$tmp/server.log"

# shellcheck disable=SC2329  # run by the EXIT trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -f "$data/postmaster.pid" ]; then
        # Immediate: the data is thrown away, no need for a checkpoint.
        if ! (cd "$tmp" && "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop \
            >/dev/null 2>&1); then
            local pid
            pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
            [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((${#as_pg[@]})); then
    chown postgres:postgres "$tmp"
fi

# The server's user may not be able to enter the caller's working directory (e.g. /root/...).
pg() { (cd "$tmp" && "${as_pg[@]}" "$@"); }

pg "$pg_bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 1; }

# Loopback only, trust. Nothing else may connect.
cat >"$data/pg_hba.conf" <<'EOF'
local all all               trust
host  all all 127.0.0.1/32  trust
EOF

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# A port found free can be taken before the server binds it: try a few.
started=0
for _ in 1 2 3 4 5; do
    port=$(free_port)
    # Durability settings off: a test cluster that dies is simply thrown away.
    if pg "$pg_bin/pg_ctl" -D "$data" -l "$log" -w -t 60 -s \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start; then
        started=1
        break
    fi
done
if ((!started)); then
    echo "with-postgres: PostgreSQL did not start; server log:" >&2
    cat "$log" >&2 || true
    exit 1
fi

"$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres xunjian_test

export XUNJIAN_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/xunjian_test"
echo "==> PostgreSQL $("$pg_bin/postgres" -V | awk '{print $3}') on 127.0.0.1:$port (throwaway cluster in $tmp)"

# Not `exec`: the EXIT trap has to run after the command to stop the cluster.
set +e
"$@"
status=$?
set -e
exit "$status"
