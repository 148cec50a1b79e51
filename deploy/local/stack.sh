#!/usr/bin/env bash
# Vigie's local stack: PostgreSQL 15 + pgaudit, Kafka (KRaft, one node), Prometheus, Alertmanager and the
# webhook receiver standing in for on-call, on loopback only, with every byte of state under one directory.
#
#   bash deploy/local/stack.sh up       install what is missing, start what is stopped, wait until it answers
#   bash deploy/local/stack.sh status   one line per component; exit 0 when all are up
#   bash deploy/local/stack.sh down     stop what `up` started (data is kept)
#   bash deploy/local/stack.sh reset    down, then delete the state directory
#
# Runs as root on Debian 12. Kafka topics get ${VIGIE_KAFKA_PARTITIONS:-3} partitions.
#   PostgreSQL 127.0.0.1:55432 (socket in ${VIGIE_PG_SOCKET_DIR:-/var/run/postgresql}), Kafka 127.0.0.1:19092 (plain,
#   unauthenticated; SASL_SSL on 127.0.0.1:19095; controller 127.0.0.1:19094), Prometheus 127.0.0.1:19090,
#   Alertmanager 127.0.0.1:19093, alert receiver 127.0.0.1:19096 (Alertmanager's notifications, kept in
#   alert-receiver/notifications.jsonl; GET /notifications).
#
# State, all under ${VIGIE_STACK_DIR:-<repo>/.stack}:
#   postgresql/data       the cluster (server log: postgresql/data/log/*.json, *.csv)
#   kafka/                libs/ (jars), config/, data/, kafka.pid, tls/ (CA, broker certificate), secrets/ (SCRAM
#                         passwords of the SASL_SSL users, 0600)
#   prometheus/data, alertmanager/data, alert-receiver/ (notifications.jsonl), *.pid next to them
#   logs/                 apt, maven, postgresql/, kafka/, prometheus, alertmanager
#
# The PostgreSQL cluster is made with initdb/pg_ctl, not pg_createcluster: a Debian cluster is
# registered machine-wide in /etc/postgresql/15/<name>, so two checkouts would fight over one name
# and `reset` would leave its configuration behind. pg_lsclusters does not list it.
set -euo pipefail
# The stack's servers and the broker's tools keep real time, as in production, even when a test running under a
# faked clock (test/support/faked-clock.sh, `vigie start` in the suite) calls this script: a Kafka admin tool under
# libfaketime hours behind the broker times out ("Timed out waiting for a node assignment").
if [[ ${LD_PRELOAD:-} == *faketime* ]]; then
  preload=$(tr ':' '\n' <<<"$LD_PRELOAD" | { grep -v faketime || true; } | paste -sd: -)
  exec env -u FAKETIME -u FAKETIME_DONT_FAKE_MONOTONIC LD_PRELOAD="$preload" bash "${BASH_SOURCE[0]}" "$@"
fi
umask 022 # inside the state directory; the directory itself admits root and the postgres group only (secure_state_dir)

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd -- "$SCRIPT_DIR/../.." && pwd)
STATE_DIR=$(realpath -m -- "${VIGIE_STACK_DIR:-$REPO_DIR/.stack}")
readonly SCRIPT_DIR REPO_DIR STATE_DIR

# Every log the stack writes is under logs/, except PostgreSQL's own server log, which lives in
# $PG_DATA/log where collector-pglog reads it.
readonly LOG_DIR=$STATE_DIR/logs
readonly PG_LOG_DIR=$LOG_DIR/postgresql
readonly KAFKA_LOG_DIR=$LOG_DIR/kafka
readonly MARKER=$STATE_DIR/.vigie-stack

readonly PG_BIN=/usr/lib/postgresql/15/bin
readonly PG_PORT=55432
readonly PG_LISTEN='127.0.0.1,::1'
# VIGIE_PG_SOCKET_DIR moves the Unix socket: two stacks in two network namespaces share the file system, and the
# socket path (with its lock file) is named by the port.
readonly PG_SOCKET_DIR=${VIGIE_PG_SOCKET_DIR:-/var/run/postgresql}
readonly PG_DIR=$STATE_DIR/postgresql
readonly PG_DATA=$PG_DIR/data
readonly PG_ROLES=(dba_alice contractor_bob app_backend admin vigie_collector vigie vigie_detector vigie_responder)

readonly KAFKA_PORT=19092
readonly KAFKA_CONTROLLER_PORT=19094
readonly KAFKA_DIR=$STATE_DIR/kafka
readonly KAFKA_POM=$SCRIPT_DIR/kafka/pom.xml
readonly KAFKA_TOPICS=(vigie.activity.v1 vigie.changes.v1 vigie.egress.v1 vigie.alerts.v1 vigie.deadletter.v1)
readonly KAFKA_PARTITIONS=${VIGIE_KAFKA_PARTITIONS:-3}
# The secured listener: TLS with the stack's own CA, SCRAM users (one per service), ACLs from acls.conf.
readonly KAFKA_SASL_PORT=19095
readonly KAFKA_TLS_DIR=$KAFKA_DIR/tls
readonly KAFKA_SECRETS_DIR=$KAFKA_DIR/secrets
readonly KAFKA_ACLS=$SCRIPT_DIR/kafka/acls.conf

readonly PROM_PORT=19090
readonly PROM_DIR=$STATE_DIR/prometheus
readonly PROM_CONFIG=$REPO_DIR/deploy/prometheus/prometheus.yml
readonly AM_PORT=19093
readonly AM_DIR=$STATE_DIR/alertmanager
readonly AM_CONFIG=$REPO_DIR/deploy/alertmanager/alertmanager.yml
readonly RECEIVER_PORT=19096
readonly RECEIVER_DIR=$STATE_DIR/alert-receiver
readonly RECEIVER_BIN=$REPO_DIR/services/alert-receiver/bin/alert-receiver.js
readonly RECEIVER_DIST=$REPO_DIR/services/alert-receiver/dist

# Marks a policy-rc.d this script wrote, so a leftover one (script killed mid-install) is recognised.
readonly POLICY_RC_D=/usr/sbin/policy-rc.d
readonly POLICY_RC_D_MARK='# written by vigie deploy/local/stack.sh during apt-get install'

# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------

say() { printf '%s\n' "$*"; }

# fail COMPONENT STEP MESSAGE [LOG...]: explain, show the end of the logs that tell why, exit 1.
fail() {
  local component=$1 step=$2 message=$3 log
  shift 3
  printf 'stack.sh: %s: %s: %s\n' "$component" "$step" "$message" >&2
  for log in "$@"; do
    if [[ -n $log && -s $log ]]; then
      printf '  last lines of %s:\n' "$log" >&2
      tail -n 15 -- "$log" | sed 's/^/    /' >&2
    fi
  done
  exit 1
}

# wait_for SECONDS COMMAND...: run COMMAND every half second until it succeeds; 1 on timeout.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

file_hash() { cat -- "$@" | sha256sum | cut -c1-64; }

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

# port_owner PORT: prints who listens on PORT ("pid N (command)"); fails when nobody does.
port_owner() {
  local line pid
  line=$(ss -Hltnp "( sport = :$1 )" 2>/dev/null | head -n 1 || true)
  [[ -n $line ]] || return 1
  if [[ $line =~ pid=([0-9]+) ]]; then
    pid=${BASH_REMATCH[1]}
    printf 'pid %s (%s)' "$pid" "$(ps -o args= -p "$pid" 2>/dev/null | cut -c1-100 || true)"
  else
    printf 'a process this user cannot see'
  fi
}

# require_free_port COMPONENT PORT: fail with advice when something else already listens there.
require_free_port() {
  local owner
  if owner=$(port_owner "$2"); then
    fail "$1" "start" "port $2 is taken by $owner — stop it (if it is another Vigie checkout's stack, run \`bash deploy/local/stack.sh down\` there), then rerun"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() { curl --noproxy '*' -fsS --max-time 2 -o /dev/null "$1" 2>/dev/null; }

# pid_alive PIDFILE PATTERN: the pid in PIDFILE is running and its command line contains PATTERN.
pid_alive() {
  local pid
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  local cmdline
  # stderr first: redirections apply left to right, and a pid that has gone fails at the '<'.
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmdline == *"$2"* ]]
}

# start_daemon PIDFILE LOGFILE COMMAND...: start COMMAND in its own session, detached from this
# terminal; the pid written is the daemon's own (bash execs it).
start_daemon() {
  local pidfile=$1 logfile=$2
  shift 2
  rm -f -- "$pidfile"
  # shellcheck disable=SC2016 # $$ and "$@" belong to the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  wait_for 5 test -s "$pidfile" || return 1
}

# stop_pid NAME PIDFILE PATTERN: SIGTERM, wait, SIGKILL after 30 s.
stop_pid() {
  local name=$1 pidfile=$2 pattern=$3 pid
  if ! pid_alive "$pidfile" "$pattern"; then
    rm -f -- "$pidfile"
    say "$name: not running"
    return 0
  fi
  pid=$(<"$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for 30 eval "! kill -0 $pid 2>/dev/null"; then
    say "$name: pid $pid did not stop in 30 s — sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 10 eval "! kill -0 $pid 2>/dev/null" || fail "$name" "stop" "pid $pid survives SIGKILL"
  fi
  rm -f -- "$pidfile"
  say "$name: stopped"
}

require_root() {
  [[ $EUID -eq 0 ]] || fail stack "$1" "must run as root (it installs packages and runs PostgreSQL as the postgres user)"
}

# Serialise concurrent `up`/`down` on one state dir (tests and people may run them at once).
# Daemons are started with fd 9 closed, or they would hold the lock for their whole life.
take_lock() {
  # Private from its creation; secure_state_dir opens it to PostgreSQL once the postgres group exists.
  [[ -d $STATE_DIR ]] || install -d -m 0700 -- "$STATE_DIR"
  mkdir -p -- "$STATE_DIR" "$LOG_DIR"
  [[ -e $MARKER ]] || printf 'Vigie local stack state (deploy/local/stack.sh). Safe to delete when the stack is down.\n' >"$MARKER"
  exec 9>"$STATE_DIR/stack.lock"
  flock -w 600 9 || fail stack lock "another stack.sh has held $STATE_DIR/stack.lock for 10 minutes"
}

# The state holds Kafka's data (events, alerts), service configurations with passwords, the API token and
# service logs: no other local user may enter it. PostgreSQL runs as postgres and must still reach its data
# directory below it, so the group postgres may traverse it (x: no listing, no reading) and nobody else may do
# anything: 0710 root:postgres. Below, each component keeps its own modes (the data directory is postgres's 0750).
secure_state_dir() {
  chgrp postgres -- "$STATE_DIR" || fail stack "state directory" "could not give $STATE_DIR to the postgres group"
  chmod 0710 -- "$STATE_DIR"
}

# ---------------------------------------------------------------------------------------------------
# packages
# ---------------------------------------------------------------------------------------------------

ensure_packages() {
  local wanted=(postgresql-15 postgresql-15-pgaudit prometheus prometheus-alertmanager)
  command -v curl >/dev/null || wanted+=(curl)
  command -v ss >/dev/null || wanted+=(iproute2)
  command -v openssl >/dev/null || wanted+=(openssl)
  [[ -n ${JAVA_HOME:-} ]] || command -v java >/dev/null || wanted+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || wanted+=(maven)
  # The tests verify deploy/systemd's units with systemd-analyze (offline: no systemd as PID 1 needed).
  command -v systemd-analyze >/dev/null || wanted+=(systemd)

  local missing=() p status
  for p in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
  done
  remove_our_policy_rc_d
  ((${#missing[@]} > 0)) || return 0

  local log=$LOG_DIR/apt.log rc=0
  say "packages: installing ${missing[*]} (log: $log)"
  # Keep the packages' own services (prometheus on :9090, alertmanager on :9093/:9094, a new 15/main
  # cluster) from starting: the stack does not use them and must not take ports others may use.
  local wrote_policy=0
  if [[ ! -e $POLICY_RC_D ]]; then
    printf '#!/bin/sh\n%s; safe to delete\nexit 101\n' "$POLICY_RC_D_MARK" >"$POLICY_RC_D"
    chmod 0755 "$POLICY_RC_D"
    wrote_policy=1
  fi
  {
    DEBIAN_FRONTEND=noninteractive apt-get update &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  } >>"$log" 2>&1 || rc=$?
  ((wrote_policy == 0)) || rm -f -- "$POLICY_RC_D"
  ((rc == 0)) || fail packages "apt-get install" "could not install ${missing[*]} — check the Debian mirror/proxy in /etc/apt, then rerun" "$log"
}

remove_our_policy_rc_d() {
  if [[ -f $POLICY_RC_D ]] && grep -qF -- "$POLICY_RC_D_MARK" "$POLICY_RC_D"; then
    rm -f -- "$POLICY_RC_D"
  fi
}

# ---------------------------------------------------------------------------------------------------
# PostgreSQL: a cluster of our own (initdb/pg_ctl), data under the state dir, never 15/main
# ---------------------------------------------------------------------------------------------------

# pg_sql DATABASE psql-args...: as postgres over the socket, tuples only. The stack's own
# housekeeping sessions start with pgaudit.log = 'none' (a startup option, so not even a SET is
# logged): they are not database activity anyone should have to filter out of the audit stream.
# Auditing stays on for every other session.
pg_sql() {
  local db=$1
  shift
  as_postgres env PGOPTIONS='-c pgaudit.log=none' \
    "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d "$db" "$@"
}

pg_running() { [[ -f $PG_DATA/PG_VERSION ]] && as_postgres "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }

# pg_newest_log EXT: the current server log file with that extension (names sort by time).
pg_newest_log() {
  local files=("$PG_DATA"/log/*."$1")
  [[ -e ${files[-1]} ]] && printf '%s' "${files[-1]}"
  return 0
}

# The postgres user must be able to reach the data directory: a checkout under a 0700 directory
# (mktemp -d) hides it. Grant search permission (o+x: no listing, no reading) on what blocks it.
# Walk down from /: a directory below a blocked one only looks blocked.
pg_ensure_reachable() {
  local d='' part parts blocked=()
  IFS=/ read -ra parts <<<"${STATE_DIR#/}"
  for part in "${parts[@]}"; do
    d=$d/$part
    if ! as_postgres test -x "$d"; then
      chmod o+x -- "$d"
      blocked+=("$d")
    fi
  done
  ((${#blocked[@]} > 0)) || return 0
  say "postgresql: notice: granted search permission (chmod o+x) on ${blocked[*]} so the postgres user can reach $PG_DATA"
}

pg_init() {
  [[ -f $PG_DATA/PG_VERSION ]] && return 0
  if [[ -d $PG_DATA ]] && [[ -n $(ls -A -- "$PG_DATA") ]]; then
    fail postgresql initdb "$PG_DATA exists but is not a data directory — move it away or run \`stack.sh reset\`"
  fi
  install -d -o postgres -g postgres -m 0755 -- "$PG_DIR"
  rm -f -- "$PG_DIR"/*.sha256
  local log=$PG_LOG_DIR/initdb.log
  # Group access (0750/0640): a collector in the postgres group can read the server log.
  as_postgres "$PG_BIN/initdb" -D "$PG_DATA" --username=postgres --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 --allow-group-access >"$log" 2>&1 ||
    fail postgresql initdb "initdb failed" "$log"
  printf "\n# Vigie local stack (deploy/local/stack.sh)\ninclude = 'vigie.conf'\ninclude = 'stack.conf'\n" \
    >>"$PG_DATA/postgresql.conf"
  say "postgresql: initialised cluster vigie in $PG_DATA"
}

# pg_install_file SOURCE NAME: copy into the data directory when different; 0 when it changed.
pg_install_file() {
  if cmp -s -- "$1" "$PG_DATA/$2"; then return 1; fi
  install -o postgres -g postgres -m 0640 -- "$1" "$PG_DATA/$2"
}

# Writes the settings; prints "changed" when a running server must pick them up.
pg_configure() {
  local changed=0 tmp
  tmp=$(mktemp)
  cat >"$tmp" <<EOF
# Written by deploy/local/stack.sh: where this cluster listens. Loopback only.
port = $PG_PORT
listen_addresses = '$PG_LISTEN'
unix_socket_directories = '$PG_SOCKET_DIR'
EOF
  pg_install_file "$tmp" stack.conf && changed=1
  rm -f -- "$tmp"
  pg_install_file "$SCRIPT_DIR/postgresql/vigie.conf" vigie.conf && changed=1
  pg_install_file "$SCRIPT_DIR/postgresql/pg_hba.conf" pg_hba.conf && changed=1
  ((changed == 0)) || echo changed
}

pg_check_ready() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 &&
    [[ $(pg_sql postgres -c "SELECT current_setting('shared_preload_libraries') ~ '(^|[ ,])pgaudit([ ,]|$)'" 2>/dev/null) == t ]]
}

pg_start() {
  local startlog=$PG_LOG_DIR/startup.log changed
  changed=$(pg_configure)
  # The socket directory lives in /run: gone after a reboot on machines without postgresql-common's unit.
  install -d -o postgres -g postgres -m 2775 -- "$PG_SOCKET_DIR"
  if pg_running; then
    if [[ -n $changed ]]; then
      as_postgres "$PG_BIN/pg_ctl" reload -D "$PG_DATA" -s >/dev/null
      sleep 1
      if [[ $(pg_sql postgres -c "SELECT count(*) FROM pg_settings WHERE pending_restart") != 0 ]]; then
        as_postgres "$PG_BIN/pg_ctl" restart -D "$PG_DATA" -m fast -w -t 60 -s -l "$startlog" >/dev/null 2>&1 9>&- ||
          fail postgresql restart "the server did not come back with the new settings" "$startlog" "$(pg_newest_log csv)"
        say "postgresql: settings changed — restarted"
      else
        say "postgresql: settings changed — reloaded"
      fi
    else
      say "postgresql: running on 127.0.0.1:$PG_PORT"
    fi
  else
    require_free_port postgresql "$PG_PORT"
    as_postgres "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$startlog" -w -t 60 -s >/dev/null 2>&1 9>&- ||
      fail postgresql start "the server did not start — read the log below, fix, then rerun" "$startlog" "$(pg_newest_log csv)"
    say "postgresql: started on 127.0.0.1:$PG_PORT"
  fi
  wait_for 30 pg_check_ready ||
    fail postgresql "wait" "no answer on 127.0.0.1:$PG_PORT with pgaudit loaded within 30 s" "$startlog" "$(pg_newest_log csv)"
}

# Roles, database vigie and the demo database app. Each SQL file is applied when it changed since
# it was last applied (hash in the state dir) or what it makes is missing. Like every pg_sql session,
# the loads run with pgaudit.log = 'none': 100,000 inserted rows must not flood the audit stream.
pg_setup() {
  local log=$PG_LOG_DIR/roles.log
  local roles_sql=$SCRIPT_DIR/sql/roles.sql app_sql=$SCRIPT_DIR/sql/app-schema.sql
  local roles_hash app_hash role_list
  roles_hash=$(file_hash "$roles_sql")
  app_hash=$(file_hash "$app_sql")
  role_list=$(printf "'%s'," "${PG_ROLES[@]}")
  role_list=${role_list%,}

  local have
  have=$(pg_sql postgres -c "SELECT (SELECT count(*) FROM pg_roles WHERE rolname IN ($role_list)) = ${#PG_ROLES[@]}
                                    AND EXISTS (SELECT 1 FROM pg_database WHERE datname = 'vigie')")
  if [[ $have != t || $(cat "$PG_DIR/roles.sha256" 2>/dev/null || true) != "$roles_hash" ]]; then
    pg_sql postgres -f "$roles_sql" >"$log" 2>&1 ||
      fail postgresql "roles" "deploy/local/sql/roles.sql failed" "$log"
    echo "$roles_hash" >"$PG_DIR/roles.sha256"
    say "postgresql: roles ${PG_ROLES[*]} and database vigie ready"
  fi

  local app_exists loaded=f
  log=$PG_LOG_DIR/app.log
  app_exists=$(pg_sql postgres -c "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'app')")
  if [[ $app_exists == t ]]; then
    loaded=$(pg_sql app -c "SELECT to_regclass('public.citizens') IS NOT NULL AND to_regclass('social.case_notes') IS NOT NULL")
  fi
  if [[ $loaded == t && $(cat "$PG_DIR/app.sha256" 2>/dev/null || true) == "$app_hash" ]]; then
    return 0
  fi
  if [[ $app_exists == t ]]; then
    if [[ $loaded == t ]]; then
      say "postgresql: deploy/local/sql/app-schema.sql changed — recreating database app"
    else
      say "postgresql: database app is incomplete — recreating it"
    fi
    pg_sql postgres -c "DROP DATABASE app WITH (FORCE)" >"$log" 2>&1 ||
      fail postgresql "demo data" "could not drop database app" "$log"
  fi
  local started=$SECONDS
  pg_sql postgres -c "CREATE DATABASE app" >"$log" 2>&1 || fail postgresql "demo data" "could not create database app" "$log"
  pg_sql app --single-transaction -f "$app_sql" >>"$log" 2>&1 ||
    fail postgresql "demo data" "deploy/local/sql/app-schema.sql failed (nothing was kept)" "$log"
  echo "$app_hash" >"$PG_DIR/app.sha256"
  say "postgresql: demo database app loaded ($(pg_sql app -c 'SELECT count(*) FROM public.citizens') citizens, $((SECONDS - started)) s)"
}

pg_up() {
  pg_ensure_reachable
  install -d -o postgres -g postgres -m 0755 -- "$PG_LOG_DIR"
  pg_init
  pg_start
  pg_setup
}

pg_down() {
  if ! pg_running; then
    say "postgresql: not running"
    return 0
  fi
  local pid
  pid=$(head -n 1 "$PG_DATA/postmaster.pid")
  if ! as_postgres "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 -s >/dev/null 2>&1; then
    say "postgresql: fast shutdown timed out — immediate shutdown"
    as_postgres "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 30 -s >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
  fi
  wait_for 30 eval "! kill -0 $pid 2>/dev/null" || fail postgresql stop "postmaster pid $pid is still running"
  say "postgresql: stopped"
}

pg_status() {
  local facts
  if pg_running && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 &&
    facts=$(pg_sql postgres -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ', shared_preload_libraries=' || current_setting('shared_preload_libraries') || ', wal_level=' || current_setting('wal_level')" 2>/dev/null); then
    status_line postgresql up "127.0.0.1:$PG_PORT" "$facts, data $PG_DATA"
  else
    status_line postgresql down "127.0.0.1:$PG_PORT" "$(why_down pg_running "$PG_PORT" 'running but not answering')"
    return 1
  fi
}

# why_down RUNNING_FN PORT WHAT_IF_RUNNING: the reason a status line says "down".
why_down() {
  local owner
  if "$1"; then
    printf '%s' "$3"
  elif owner=$(port_owner "$2"); then
    printf 'not running (port %s is taken by %s)' "$2" "$owner"
  else
    printf 'not running'
  fi
}

# ---------------------------------------------------------------------------------------------------
# Kafka: KRaft, combined broker + controller, jars from Maven Central
# ---------------------------------------------------------------------------------------------------

java_bin() { if [[ -n ${JAVA_HOME:-} ]]; then echo "$JAVA_HOME/bin/java"; else command -v java || true; fi; }

kafka_require_java() {
  local java version
  java=$(java_bin)
  [[ -n $java && -x $java ]] || fail kafka java "java not found — apt-get install openjdk-17-jre-headless (or set JAVA_HOME)"
  version=$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
  if ! [[ $version =~ ^[0-9]+$ ]] || ((version < 17)); then
    fail kafka java "$java is Java ${version:-unknown}; Kafka 4 needs 17 or newer — apt-get install openjdk-17-jre-headless and set JAVA_HOME"
  fi
}

# Short-lived admin JVMs: C1 only and a small heap start in well under a second.
kafka_tool() {
  timeout 60 "$(java_bin)" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx256m \
    -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/log4j2-tools.properties" \
    -cp "$KAFKA_DIR/libs/*" "$@"
}

kafka_topics() { kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --command-config "$KAFKA_DIR/config/admin.properties" "$@"; }

kafka_jars() {
  local hash log=$LOG_DIR/maven.log
  hash=$(file_hash "$KAFKA_POM")
  [[ $(cat "$KAFKA_DIR/libs/.pom.sha256" 2>/dev/null || true) == "$hash" ]] && return 0
  command -v mvn >/dev/null || fail kafka "download jars" "mvn not found — apt-get install maven"
  say "kafka: downloading jars from Maven Central (log: $log)"
  rm -rf -- "$KAFKA_DIR/libs.new"
  # The plugin by full coordinates: no prefix lookup in remote metadata, and a pinned version.
  if ! mvn -B -Dstyle.color=never -f "$KAFKA_POM" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_DIR/libs.new" >"$log" 2>&1; then
    if grep -qE 'UnknownHost|Could not transfer|Connection (refused|timed out|reset)|Network is unreachable|Could not resolve' "$log"; then
      fail kafka "download jars" "Maven could not reach Maven Central — check network/proxy (~/.m2/settings.xml), then rerun" "$log"
    fi
    fail kafka "download jars" "mvn dependency:copy-dependencies failed on deploy/local/kafka/pom.xml" "$log"
  fi
  rm -rf -- "$KAFKA_DIR/libs"
  mv -- "$KAFKA_DIR/libs.new" "$KAFKA_DIR/libs"
  echo "$hash" >"$KAFKA_DIR/libs/.pom.sha256"
  KAFKA_JARS_CHANGED=1
}

# The stack's own CA and the broker's certificate for 127.0.0.1/localhost (RSA 2048, made again when less than 30
# days are left). Both are valid from 2000-01-01: `npm run test:clocks` runs the test process's clock up to a week
# behind the real one, and a certificate "not yet valid" for it would fail every TLS test. openssl 3.0 (Debian 12)
# sets a start date only through `openssl ca`, hence the throwaway CA database. The CA's key stays here: the stack
# signs nothing else. Prints "changed" when it made them.
kafka_tls() {
  local d=$KAFKA_TLS_DIR log=$KAFKA_LOG_DIR/tls.log
  if [[ -s $d/ca.pem && -s $d/broker-keystore.pem ]] &&
    openssl x509 -checkend 2592000 -noout -in "$d/broker.pem" >/dev/null 2>&1 &&
    [[ $(openssl x509 -noout -startdate -in "$d/broker.pem" 2>/dev/null) == 'notBefore=Jan  1 00:00:00 2000 GMT' ]]; then
    return 0
  fi
  command -v openssl >/dev/null || fail kafka tls "openssl not found — apt-get install openssl"
  mkdir -p -- "$KAFKA_LOG_DIR"
  install -d -m 0755 -- "$d"
  local db
  db=$(mktemp -d)
  : >"$db/index.txt"
  printf '[ca]\ndefault_ca = stack\n[stack]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\n' \
    "$db" "$db" "$db" >"$db/ca.conf"
  printf 'default_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n' >>"$db/ca.conf"
  printf '[ca_ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign\n' >>"$db/ca.conf"
  printf '[broker_ext]\nsubjectAltName = DNS:localhost,IP:127.0.0.1\nextendedKeyUsage = serverAuth\n' >>"$db/ca.conf"
  # shellcheck disable=SC2317 # called below
  sign() { # <csr> <out> <extensions section> [extra openssl ca options]
    openssl ca -batch -notext -config "$db/ca.conf" -in "$1" -out "$2" -extensions "$3" \
      -startdate 20000101000000Z -enddate "$(date -u -d '+10 years' +%Y%m%d%H%M%SZ)" "${@:4}"
  }
  {
    openssl rand -hex 16 >"$db/serial" &&
      openssl req -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$db/ca.csr" -subj "/CN=Vigie local stack CA" &&
      sign "$db/ca.csr" "$d/ca.pem" ca_ext -selfsign -keyfile "$d/ca.key" &&
      openssl req -newkey rsa:2048 -nodes -keyout "$d/broker.key" -out "$db/broker.csr" -subj "/CN=localhost" &&
      sign "$db/broker.csr" "$d/broker.pem" broker_ext -cert "$d/ca.pem" -keyfile "$d/ca.key"
  } >"$log" 2>&1 || {
    rm -rf -- "$db"
    fail kafka tls "openssl could not make the stack's CA and broker certificate" "$log"
  }
  rm -rf -- "$db"
  # Kafka's PEM key store: the PKCS#8 key, then the certificate chain, in one file.
  (umask 077 && cat -- "$d/broker.key" "$d/broker.pem" "$d/ca.pem" >"$d/broker-keystore.pem")
  chmod 0600 -- "$d/ca.key" "$d/broker.key"
  say "kafka: made the stack's CA and broker certificate ($d/ca.pem)" >&2
  echo changed
}

# Prints "changed" when the broker's configuration file was rewritten.
kafka_configure() {
  local tmp
  mkdir -p -- "$KAFKA_DIR/config" "$KAFKA_DIR/data" "$KAFKA_LOG_DIR"
  tmp=$(mktemp)
  cat >"$tmp" <<EOF
# Written by deploy/local/stack.sh: one node that is both broker and controller (KRaft), loopback only.
# broker certificate: $(file_hash "$KAFKA_TLS_DIR/broker-keystore.pem")
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
# PLAINTEXT: the quick start, unauthenticated (its anonymous clients are super users). SASL_SSL: TLS with the stack's
# CA, SCRAM users, ACLs (deploy/local/kafka/acls.conf).
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_TLS_DIR/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_TLS_DIR/ca.pem
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
log.dirs=$KAFKA_DIR/data
num.network.threads=2
num.io.threads=4
num.partitions=$KAFKA_PARTITIONS
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Topics are created explicitly: auto-creation under KRaft is racy
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
log.retention.hours=168
EOF
  if ! cmp -s -- "$tmp" "$KAFKA_DIR/config/server.properties"; then
    mv -- "$tmp" "$KAFKA_DIR/config/server.properties"
    echo changed
  else
    rm -f -- "$tmp"
  fi
  printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n' >"$KAFKA_DIR/config/admin.properties"
}

kafka_format() {
  [[ -f $KAFKA_DIR/data/meta.properties ]] && return 0
  local id log=$KAFKA_LOG_DIR/format.log
  # A Kafka cluster id is 16 random bytes in URL-safe base64 without padding; one starting with "-" would be read
  # as an option by the storage tool.
  id=-
  while [[ $id == -* ]]; do id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
  kafka_tool kafka.tools.StorageTool format --cluster-id "$id" --config "$KAFKA_DIR/config/server.properties" >"$log" 2>&1 ||
    fail kafka "format storage" "kafka.tools.StorageTool format failed" "$log"
  echo "$id" >"$KAFKA_DIR/cluster.id"
  say "kafka: storage formatted (cluster id $id)"
}

kafka_running() { pid_alive "$KAFKA_DIR/kafka.pid" "$KAFKA_DIR/libs"; }

# kafka_listed: the broker answers; its topics, one a line, are left in KAFKA_TOPIC_LIST.
kafka_listed() { KAFKA_TOPIC_LIST=$(kafka_topics --list 2>>"$KAFKA_LOG_DIR/tools.log"); }

kafka_start() {
  require_free_port kafka "$KAFKA_PORT"
  require_free_port kafka "$KAFKA_SASL_PORT"
  require_free_port kafka "$KAFKA_CONTROLLER_PORT"
  start_daemon "$KAFKA_DIR/kafka.pid" "$KAFKA_LOG_DIR/kafka.out" \
    "$(java_bin)" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KAFKA_LOG_DIR" -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/log4j2.properties" \
    -cp "$KAFKA_DIR/libs/*" kafka.Kafka "$KAFKA_DIR/config/server.properties" ||
    fail kafka start "the JVM did not start" "$KAFKA_LOG_DIR/kafka.out"
  say "kafka: started on 127.0.0.1:$KAFKA_PORT (pid $(<"$KAFKA_DIR/kafka.pid"))"
}

kafka_wait() {
  local deadline=$((SECONDS + 90))
  while :; do
    kafka_running ||
      fail kafka wait "the broker exited during startup" "$KAFKA_LOG_DIR/kafka.out" "$KAFKA_LOG_DIR/server.log"
    if port_open "$KAFKA_PORT" && kafka_listed; then return 0; fi
    ((SECONDS < deadline)) ||
      fail kafka wait "the broker does not list topics on 127.0.0.1:$KAFKA_PORT after 90 s" "$KAFKA_LOG_DIR/tools.log" "$KAFKA_LOG_DIR/server.log"
    sleep 1
  done
}

kafka_create_topics() {
  local topic missing=()
  for topic in "${KAFKA_TOPICS[@]}"; do
    grep -qxF -- "$topic" <<<"$KAFKA_TOPIC_LIST" || missing+=("$topic")
  done
  ((${#missing[@]} > 0)) || return 0
  for topic in "${missing[@]}"; do
    kafka_topics --create --if-not-exists --topic "$topic" --partitions "$KAFKA_PARTITIONS" --replication-factor 1 \
      >>"$KAFKA_LOG_DIR/tools.log" 2>&1 ||
      fail kafka "create topics" "could not create $topic" "$KAFKA_LOG_DIR/tools.log"
  done
  say "kafka: created topics ${missing[*]} ($KAFKA_PARTITIONS partitions, replication factor 1: one broker, not for production)"
}

# SCRAM users and ACLs of the SASL_SSL listener, from acls.conf, made through the plain listener (whose anonymous
# clients are super users). Skipped while acls.conf and the cluster are the ones it last did (a few JVM starts).
kafka_secure() {
  local marker=$KAFKA_DIR/security.sha256 hash log=$KAFKA_LOG_DIR/security.log
  hash=$(cat -- "$KAFKA_ACLS" "$KAFKA_DIR/cluster.id" 2>/dev/null | sha256sum | cut -c1-64)
  [[ $(cat "$marker" 2>/dev/null || true) == "$hash" ]] && return 0
  install -d -m 0700 -- "$KAFKA_SECRETS_DIR"
  : >"$log"
  local rules user ops type names pw cfg op n args mechanism
  rules=$(grep -vE '^[[:space:]]*(#|$)' "$KAFKA_ACLS")
  for user in $(awk '{ print $1 }' <<<"$rules" | sort -u); do
    pw=$KAFKA_SECRETS_DIR/$user.password
    [[ -s $pw ]] || (umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$pw")
    # The password goes to the tool in a 0600 file, never on a command line; in a file the value has no [...]
    # around it (those group a value on the --add-config command line). One mechanism per request: the broker
    # refuses to alter one user's credentials twice in a request.
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      cfg=$(mktemp)
      printf '%s=iterations=8192,password=%s\n' "$mechanism" "$(<"$pw")" >"$cfg"
      if ! kafka_tool kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
        --command-config "$KAFKA_DIR/config/admin.properties" --alter --entity-type users --entity-name "$user" \
        --add-config-file "$cfg" >>"$log" 2>&1; then
        rm -f -- "$cfg"
        fail kafka users "could not set the $mechanism credentials of $user" "$log"
      fi
      rm -f -- "$cfg"
    done
  done
  while read -r user ops type names; do
    args=(--bootstrap-server "127.0.0.1:$KAFKA_PORT" --command-config "$KAFKA_DIR/config/admin.properties"
      --add --allow-principal "User:$user" --resource-pattern-type prefixed)
    for op in ${ops//,/ }; do args+=(--operation "$op"); done
    for n in $names; do args+=("--$type" "$n"); done
    kafka_tool org.apache.kafka.tools.AclCommand "${args[@]}" >>"$log" 2>&1 ||
      fail kafka acls "could not add the ACL of $user on $type $names" "$log"
  done <<<"$rules"
  echo "$hash" >"$marker"
  say "kafka: SASL_SSL on 127.0.0.1:$KAFKA_SASL_PORT: users and ACLs of deploy/local/kafka/acls.conf ready (passwords in $KAFKA_SECRETS_DIR)"
}

kafka_up() {
  kafka_require_java
  kafka_jars
  local changed tls
  tls=$(kafka_tls)
  changed=$(kafka_configure)
  changed+=$tls
  kafka_format
  if kafka_running && [[ -n $changed || -n ${KAFKA_JARS_CHANGED:-} ]]; then
    say "kafka: $([[ -n $changed ]] && echo server.properties || echo jars) changed — restarting"
    stop_pid kafka "$KAFKA_DIR/kafka.pid" "$KAFKA_DIR/libs" >/dev/null
  fi
  if kafka_running; then say "kafka: running on 127.0.0.1:$KAFKA_PORT"; else kafka_start; fi
  kafka_wait
  kafka_create_topics
  kafka_secure
}

kafka_status() {
  if kafka_running && kafka_listed; then
    local n total
    total=$(grep -c . <<<"$KAFKA_TOPIC_LIST" || true)
    n=$(grep -cxF -f <(printf '%s\n' "${KAFKA_TOPICS[@]}") <<<"$KAFKA_TOPIC_LIST" || true)
    status_line kafka up "127.0.0.1:$KAFKA_PORT" "$total topics ($n/${#KAFKA_TOPICS[@]} vigie.*, replication factor 1: one broker), SASL_SSL 127.0.0.1:$KAFKA_SASL_PORT, controller 127.0.0.1:$KAFKA_CONTROLLER_PORT, $(kafka_version)"
    ((n == ${#KAFKA_TOPICS[@]}))
  else
    status_line kafka down "127.0.0.1:$KAFKA_PORT" "$(why_down kafka_running "$KAFKA_PORT" 'running but not listing topics')"
    return 1
  fi
}

kafka_version() {
  local jars=("$KAFKA_DIR"/libs/kafka_2.13-*.jar)
  [[ -e ${jars[0]} ]] || return 0
  local jar=${jars[0]##*/kafka_2.13-}
  printf 'kafka %s' "${jar%.jar}"
}

# ---------------------------------------------------------------------------------------------------
# Prometheus and Alertmanager (Debian's binaries, our own processes, configs from deploy/)
# ---------------------------------------------------------------------------------------------------

prom_config_hash() { file_hash "$PROM_CONFIG" "$REPO_DIR"/deploy/prometheus/rules/*.yml; }

prom_check_config() {
  promtool check config "$PROM_CONFIG" >"$LOG_DIR/prometheus-check.log" 2>&1 ||
    fail prometheus "check config" "promtool rejects deploy/prometheus/prometheus.yml or its rules — fix them, then rerun" "$LOG_DIR/prometheus-check.log"
}

prom_running() { pid_alive "$PROM_DIR/prometheus.pid" "$PROM_DIR/data"; }

prom_up() {
  mkdir -p -- "$PROM_DIR/data"
  local hash
  hash=$(prom_config_hash)
  if prom_running; then
    if [[ $(cat "$PROM_DIR/config.sha256" 2>/dev/null || true) != "$hash" ]]; then
      prom_check_config
      kill -HUP "$(<"$PROM_DIR/prometheus.pid")"
      echo "$hash" >"$PROM_DIR/config.sha256"
      say "prometheus: configuration changed — reloaded"
    else
      say "prometheus: running on 127.0.0.1:$PROM_PORT"
    fi
  else
    prom_check_config
    require_free_port prometheus "$PROM_PORT"
    start_daemon "$PROM_DIR/prometheus.pid" "$LOG_DIR/prometheus.log" \
      prometheus --config.file="$PROM_CONFIG" --storage.tsdb.path="$PROM_DIR/data" \
      --storage.tsdb.retention.time=7d --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-lifecycle ||
      fail prometheus start "the process did not start" "$LOG_DIR/prometheus.log"
    echo "$hash" >"$PROM_DIR/config.sha256"
    say "prometheus: started on 127.0.0.1:$PROM_PORT (pid $(<"$PROM_DIR/prometheus.pid"))"
  fi
  wait_http_ready prometheus "$PROM_PORT" prom_running "$LOG_DIR/prometheus.log"
}

am_check_config() {
  amtool check-config "$AM_CONFIG" >"$LOG_DIR/alertmanager-check.log" 2>&1 ||
    fail alertmanager "check config" "amtool rejects deploy/alertmanager/alertmanager.yml — fix it, then rerun" "$LOG_DIR/alertmanager-check.log"
}

am_running() { pid_alive "$AM_DIR/alertmanager.pid" "$AM_DIR/data"; }

am_up() {
  mkdir -p -- "$AM_DIR/data"
  local hash
  hash=$(file_hash "$AM_CONFIG")
  if am_running; then
    if [[ $(cat "$AM_DIR/config.sha256" 2>/dev/null || true) != "$hash" ]]; then
      am_check_config
      kill -HUP "$(<"$AM_DIR/alertmanager.pid")"
      echo "$hash" >"$AM_DIR/config.sha256"
      say "alertmanager: configuration changed — reloaded"
    else
      say "alertmanager: running on 127.0.0.1:$AM_PORT"
    fi
  else
    am_check_config
    require_free_port alertmanager "$AM_PORT"
    # An empty --cluster.listen-address turns gossip off: nothing binds :9094.
    start_daemon "$AM_DIR/alertmanager.pid" "$LOG_DIR/alertmanager.log" \
      prometheus-alertmanager --config.file="$AM_CONFIG" --storage.path="$AM_DIR/data" \
      --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= ||
      fail alertmanager start "the process did not start" "$LOG_DIR/alertmanager.log"
    echo "$hash" >"$AM_DIR/config.sha256"
    say "alertmanager: started on 127.0.0.1:$AM_PORT (pid $(<"$AM_DIR/alertmanager.pid"))"
  fi
  wait_http_ready alertmanager "$AM_PORT" am_running "$LOG_DIR/alertmanager.log"
}

# ---------------------------------------------------------------------------------------------------
# Alert receiver: the webhook Alertmanager's shipped routes notify (services/alert-receiver), standing in
# for on-call. Notifications are kept in alert-receiver/notifications.jsonl (0600: alerts name people).
# ---------------------------------------------------------------------------------------------------

receiver_running() { pid_alive "$RECEIVER_DIR/receiver.pid" "$RECEIVER_BIN"; }

receiver_code_hash() { file_hash "$RECEIVER_DIST"/*.js; }

receiver_up() {
  local node hash
  node=$(command -v node || true)
  [[ -n $node ]] || fail alert-receiver start "node not found — install Node.js >= 20.19, then rerun"
  [[ -f $RECEIVER_DIST/main.js ]] ||
    fail alert-receiver start "services/alert-receiver is not built — run \`npm ci\` (or \`npm run build\`), then rerun"
  install -d -m 0700 -- "$RECEIVER_DIR"
  printf 'file: %s\nhttp:\n  host: 127.0.0.1\n  port: %s\n' "$RECEIVER_DIR/notifications.jsonl" "$RECEIVER_PORT" \
    >"$RECEIVER_DIR/config.yaml"
  hash=$(receiver_code_hash)
  if receiver_running && [[ $(cat "$RECEIVER_DIR/code.sha256" 2>/dev/null || true) != "$hash" ]]; then
    say "alert-receiver: code changed — restarting"
    stop_pid alert-receiver "$RECEIVER_DIR/receiver.pid" "$RECEIVER_BIN" >/dev/null
  fi
  if receiver_running; then
    say "alert-receiver: running on 127.0.0.1:$RECEIVER_PORT"
  else
    require_free_port alert-receiver "$RECEIVER_PORT"
    start_daemon "$RECEIVER_DIR/receiver.pid" "$LOG_DIR/alert-receiver.log" \
      "$node" "$RECEIVER_BIN" --config "$RECEIVER_DIR/config.yaml" ||
      fail alert-receiver start "the process did not start" "$LOG_DIR/alert-receiver.log"
    echo "$hash" >"$RECEIVER_DIR/code.sha256"
    say "alert-receiver: started on 127.0.0.1:$RECEIVER_PORT (pid $(<"$RECEIVER_DIR/receiver.pid"))"
  fi
  local deadline=$((SECONDS + 30))
  until http_ok "http://127.0.0.1:$RECEIVER_PORT/readyz"; do
    receiver_running || fail alert-receiver wait "the process exited during startup" "$LOG_DIR/alert-receiver.log"
    ((SECONDS < deadline)) || fail alert-receiver wait "not ready on http://127.0.0.1:$RECEIVER_PORT/readyz after 30 s" "$LOG_DIR/alert-receiver.log"
    sleep 0.5
  done
}

receiver_status() {
  if receiver_running && http_ok "http://127.0.0.1:$RECEIVER_PORT/readyz"; then
    local n=0
    [[ -f $RECEIVER_DIR/notifications.jsonl ]] && n=$(grep -c . "$RECEIVER_DIR/notifications.jsonl" || true)
    status_line alert-receiver up "127.0.0.1:$RECEIVER_PORT" "$n notification(s) kept in $RECEIVER_DIR/notifications.jsonl"
  else
    status_line alert-receiver down "127.0.0.1:$RECEIVER_PORT" "$(why_down receiver_running "$RECEIVER_PORT" 'running but not ready')"
    return 1
  fi
}

# wait_http_ready NAME PORT RUNNING_FN LOG: until /-/ready answers 200; fail early if the process dies.
wait_http_ready() {
  local deadline=$((SECONDS + 60))
  until http_ok "http://127.0.0.1:$2/-/ready"; do
    "$3" || fail "$1" wait "the process exited during startup" "$4"
    ((SECONDS < deadline)) || fail "$1" wait "not ready on http://127.0.0.1:$2/-/ready after 60 s" "$4"
    sleep 0.5
  done
}

http_status() { # http_status NAME PORT RUNNING_FN
  if "$3" && http_ok "http://127.0.0.1:$2/-/ready"; then
    status_line "$1" up "127.0.0.1:$2" "ready"
  else
    status_line "$1" down "127.0.0.1:$2" "$(why_down "$3" "$2" 'running but not ready')"
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------------

status_line() { printf '%-14s %-5s %-16s %s\n' "$1" "$2" "$3" "$4"; }

cmd_up() {
  require_root up
  [[ $KAFKA_PARTITIONS =~ ^[1-9][0-9]*$ ]] ||
    fail kafka config "VIGIE_KAFKA_PARTITIONS must be a positive integer, not '$KAFKA_PARTITIONS'"
  take_lock
  local started=$SECONDS
  ensure_packages
  secure_state_dir
  pg_up
  kafka_up
  receiver_up
  am_up
  prom_up
  say "stack: up in $((SECONDS - started)) s (state: $STATE_DIR)"
}

cmd_status() {
  require_root status
  local rc=0
  pg_status || rc=1
  kafka_status || rc=1
  http_status prometheus "$PROM_PORT" prom_running || rc=1
  http_status alertmanager "$AM_PORT" am_running || rc=1
  receiver_status || rc=1
  return "$rc"
}

# leftover_processes POSTMASTER_PID: processes `up` started that are still alive, found by the
# paths on their command lines (not by name: other Kafkas and Prometheuses are none of our
# business), plus the postmaster's children, whose titles read "postgres: vigie: …".
leftover_processes() {
  ps -eo pid=,ppid=,args= | awk -v pm="${1:-0}" -v pg="-D $PG_DATA" -v kafka="$KAFKA_DIR/libs/" \
    -v prom="--storage.tsdb.path=$PROM_DIR/data" -v am="--storage.path=$AM_DIR/data" \
    -v rcv="--config $RECEIVER_DIR/config.yaml" '
    $3 == "awk" { next }
    index($0, pg) || index($0, kafka) || index($0, prom) || index($0, am) || index($0, rcv) { print; next }
    pm != 0 && ($1 == pm || $2 == pm) { print }'
}

cmd_down() {
  require_root down
  if [[ ! -d $STATE_DIR ]]; then
    say "stack: nothing to stop ($STATE_DIR does not exist)"
    return 0
  fi
  take_lock
  local postmaster=0
  [[ -f $PG_DATA/postmaster.pid ]] && postmaster=$(head -n 1 "$PG_DATA/postmaster.pid")
  stop_pid prometheus "$PROM_DIR/prometheus.pid" "$PROM_DIR/data"
  stop_pid alertmanager "$AM_DIR/alertmanager.pid" "$AM_DIR/data"
  stop_pid alert-receiver "$RECEIVER_DIR/receiver.pid" "$RECEIVER_BIN"
  stop_pid kafka "$KAFKA_DIR/kafka.pid" "$KAFKA_DIR/libs"
  pg_down
  local left
  left=$(leftover_processes "$postmaster")
  [[ -z $left ]] || fail stack down "processes of this stack are still running:"$'\n'"$left"
  say "stack: down (data kept in $STATE_DIR)"
}

cmd_reset() {
  require_root reset
  cmd_down
  if [[ -d $STATE_DIR ]]; then
    [[ -e $MARKER ]] || fail stack reset "$STATE_DIR has no $(basename -- "$MARKER") marker — not deleting a directory this script did not create"
    rm -rf -- "$STATE_DIR"
    say "stack: deleted $STATE_DIR"
  fi
}

usage() { # the header comment of this file
  awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    status) cmd_status ;;
    down) cmd_down ;;
    reset) cmd_reset ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
