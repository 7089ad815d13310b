# Sourced by the benchmark scripts: a scratch PostgreSQL cluster under a temporary directory,
# run as the `postgres` user when we are root (PostgreSQL refuses root), on a Unix socket, stopped
# and removed on exit. Defines $PGBIN, $PGHOST, $PGPORT, $PGUSER and `conninfo DATABASE`.
# Durable (fsync on) like the server's embedded default, unless BENCH_DURABLE=0.
# BENCH_PG_STATS=1 loads pg_stat_statements (nested statements too: track = all) for the scripts'
# statement reports (`pg_stats_reset DATABASE`, `pg_stats_report DATABASE`, Deploy/bench/pg-stats.sql).
# BENCH_PG_SETTINGS and BENCH_PG_LOG: below.
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
bench_dir="$(mktemp -d /tmp/karokar-bench.XXXXXX)"
chmod 755 "$bench_dir"
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$bench_dir"
export PGHOST="$bench_dir" PGPORT="${BENCH_PGPORT:-$((20000 + RANDOM % 30000))}" PGUSER=karokar
stop_cluster() {
  as_owner "$PGBIN/pg_ctl" -D "$bench_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  if [ -n "${BENCH_PG_LOG:-}" ]; then cp "$bench_dir/postgres.log" "$BENCH_PG_LOG" 2>/dev/null || true; fi
  rm -rf "$bench_dir"
}
trap stop_cluster EXIT
as_owner "$PGBIN/initdb" -D "$bench_dir/data" -U karokar --auth=trust --no-locale -E UTF8 >/dev/null
settings="-p $PGPORT -k $bench_dir -c listen_addresses='' -c max_connections=200 -c shared_buffers=512MB"
[ "${BENCH_DURABLE:-1}" = 0 ] && settings="$settings -c fsync=off -c synchronous_commit=off"
[ "${BENCH_PG_STATS:-0}" = 1 ] && settings="$settings -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.max=5000"
# BENCH_PG_SETTINGS="name=value ...": more settings (e.g. auto_explain's, to see a slow statement's
# plan); BENCH_PG_LOG=FILE keeps the cluster's log there when it is removed.
for setting in ${BENCH_PG_SETTINGS:-}; do settings="$settings -c $setting"; done
as_owner "$PGBIN/pg_ctl" -D "$bench_dir/data" -l "$bench_dir/postgres.log" -w -o "$settings" start >/dev/null
conninfo() { echo "host=$PGHOST port=$PGPORT user=$PGUSER dbname=$1"; }
pg_stats_reset() { psql -Atq "$(conninfo "$1")" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null; }
pg_stats_report() { psql -q -P pager=off "$(conninfo "$1")" -f "$(dirname "${BASH_SOURCE[0]}")/pg-stats.sql"; }
