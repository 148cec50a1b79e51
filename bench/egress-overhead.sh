#!/usr/bin/env bash
# Overhead of collector-egress on the monitored server: pgbench TPS with the collector sampling every second vs not
# running, alternating rounds in one invocation (off/on/off/on/…) so drift hits both sides; prints the median TPS of
# each side and their ratio (goal ≥ 0.97).
#
#   bash bench/egress-overhead.sh [rounds per side, default 3] [seconds per round, default 20]
#
# Needs: the local stack up (bash deploy/local/stack.sh up), the workspace built (npx tsc -b), pgbench (Debian
# postgresql-client), and the collector's privileges (root, or the PostgreSQL OS user). pgbench talks TCP to
# 127.0.0.1:55432, so `ss` sees its sockets exactly as it would see an operator's. Environment overrides:
# MODE=select|tpcb (default select: the read-heavy case, where per-byte egress matters most), CLIENTS (4),
# CONNECT=1 (pgbench -C: a new connection per transaction, the close-event path's worst case).
set -euo pipefail

ROUNDS=${1:-3}
SECONDS_PER_ROUND=${2:-20}
MODE=${MODE:-select}
CLIENTS=${CLIENTS:-4}
CONNECT=${CONNECT:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/bench/out"
DB=bench_egress
export PGHOST=127.0.0.1 PGPORT=55432 PGUSER=admin PGPASSWORD=admin

command -v pgbench >/dev/null || { echo "pgbench missing: apt-get install -y postgresql-client" >&2; exit 2; }
[ -f "$ROOT/services/cli/dist/main.js" ] || { echo "build first: npx tsc -b" >&2; exit 2; }
mkdir -p "$OUT"

if ! psql -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  psql -d postgres -qc "CREATE DATABASE $DB"
  pgbench -i -q -s 10 "$DB" >/dev/null 2>&1
fi

config=$(mktemp --suffix=.yaml)
log="$OUT/egress-collector.log"
collector_pid=
cleanup() {
  if [ -n "$collector_pid" ]; then kill "$collector_pid" 2>/dev/null || true; wait "$collector_pid" 2>/dev/null || true; fi
  rm -f "$config"
}
trap cleanup EXIT
cat >"$config" <<EOF
intervalMs: 1000
instance: bench
postgres: { user: vigie_collector, password: vigie_collector }
topics: { egress: vigie.egress.bench, activity: vigie.activity.bench }
http: { port: 18093 }
log: { level: warn }
EOF

start_collector() {
  node "$ROOT/services/cli/dist/main.js" run collector-egress --config "$config" >>"$log" 2>&1 &
  collector_pid=$!
  for _ in $(seq 1 100); do
    if curl -sf http://127.0.0.1:18093/readyz >/dev/null 2>&1; then return 0; fi
    kill -0 "$collector_pid" 2>/dev/null || { echo "collector exited; see $log" >&2; exit 1; }
    sleep 0.2
  done
  echo "collector not ready after 20 s; see $log" >&2
  exit 1
}
stop_collector() {
  curl -sf http://127.0.0.1:18093/metrics | grep -E '^(process_cpu_seconds_total|vigie_egress_(samples_failed|sample_duration_seconds_(sum|count)|close_events|events_produced))' >>"$log" || true
  kill "$collector_pid"
  wait "$collector_pid" 2>/dev/null || true
  collector_pid=
}

flags=(-n -c "$CLIENTS" -j 2 -T "$SECONDS_PER_ROUND")
[ "$MODE" = select ] && flags+=(-S)
[ "$CONNECT" = 1 ] && flags+=(-C)
round() { pgbench "${flags[@]}" "$DB" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }

off=() on=()
: >"$log"
for i in $(seq 1 "$ROUNDS"); do
  off+=("$(round)")
  start_collector
  on+=("$(round)")
  stop_collector
  echo "round $i: off ${off[-1]} tps, on ${on[-1]} tps"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
m_off=$(median "${off[@]}")
m_on=$(median "${on[@]}")
ratio=$(awk -v a="$m_on" -v b="$m_off" 'BEGIN {printf "%.3f", a / b}')
echo "pgbench $MODE -c $CLIENTS ${SECONDS_PER_ROUND}s x $ROUNDS (connect-per-txn=$CONNECT): median off $m_off tps, on $m_on tps, ratio $ratio (goal >= 0.97)"
