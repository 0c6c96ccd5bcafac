#!/usr/bin/env bash
# Installs (apt-get) and starts the services the tests talk to, then exports their URLs:
#   STACK_TEST_POSTGRES_URL  PostgreSQL on 127.0.0.1:5432, database stack_test
#   STACK_TEST_REDIS_URL     Redis on 127.0.0.1:6379
#   STACK_TEST_REDIS_CLUSTER_URL  a 3-master Redis Cluster on 127.0.0.1:7000-7002, as a
#                            comma-separated list of its nodes
#   STACK_TEST_POSTGRES_REPLICA_URL  a streaming hot standby of that PostgreSQL on
#                            127.0.0.1:5433 (pg_basebackup -R into a temp dir)
#   STACK_CHROMIUM           Debian's headless-capable chromium, for the job dashboard's
#                            browser test (installed when missing)
#   STACK_TEST_PROMETHEUS_BIN, STACK_TEST_PROMTOOL_BIN  Prometheus and promtool (Debian's
#                            `prometheus` package), which the metrics test starts itself
# Run it to print the exports (`eval "$(scripts/services.sh)"`), or source it
# (`. scripts/services.sh`): sourced, it runs itself in a child shell and only the exports
# reach yours, so no shell option (`set -e`) leaks into it and a failure cannot close it.
# Installing and starting services needs root, as on CI; a service that is already running
# on its port is used as it is.

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  if _stack_exports=$(bash "${BASH_SOURCE[0]}"); then
    eval "$_stack_exports"
    unset _stack_exports
    return 0
  fi
  unset _stack_exports
  echo "[services] failed; see the messages above" >&2
  return 1
fi

set -euo pipefail

PG_PORT="${STACK_PG_PORT:-5432}"
REDIS_PORT="${STACK_REDIS_PORT:-6379}"
CLUSTER_PORT="${STACK_REDIS_CLUSTER_PORT:-7000}"
REPLICA_PORT="${STACK_PG_REPLICA_PORT:-5433}"
REPLICA_DIR="${STACK_PG_REPLICA_DIR:-/tmp/stack-pg-replica}"
PG_DB="${STACK_PG_DB:-stack_test}"
APT_UPDATED=""

log() { printf '[services] %s\n' "$*" >&2; }

apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# Waits up to 30 s for "$@" to succeed.
wait_for() {
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  return 1
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }

as_postgres() { runuser -u postgres -- "$@"; }

ensure_postgres() {
  if ! command -v pg_isready >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt_install postgresql postgresql-client
  fi
  if ! pg_ready; then
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$version" ]; then
      version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
      log "creating PostgreSQL $version cluster main"
      pg_createcluster "$version" main -p "$PG_PORT" >&2
    fi
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    wait_for pg_ready || { log "PostgreSQL did not become ready on port $PG_PORT"; return 1; }
  fi
  # A fresh Debian install asks TCP clients for a password: give postgres a known one.
  # (Where the server trusts local clients, this changes nothing that matters.)
  as_postgres psql -q -p "$PG_PORT" -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
  if ! as_postgres psql -p "$PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
    log "creating database $PG_DB"
    as_postgres createdb -p "$PG_PORT" "$PG_DB"
  fi
  export STACK_TEST_POSTGRES_URL="postgres://postgres:postgres@127.0.0.1:$PG_PORT/$PG_DB"
}

redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG; }

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    apt_install redis-server redis-tools
  fi
  if ! redis_ready; then
    local dir
    dir=$(mktemp -d /tmp/stack-redis.XXXXXX)
    log "starting Redis on port $REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir "$dir" --logfile "$dir/redis.log" >&2
    wait_for redis_ready || { log "Redis did not answer on port $REDIS_PORT"; return 1; }
  fi
  export STACK_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

replica_ok() {
  [ "$(as_postgres psql -h 127.0.0.1 -p "$REPLICA_PORT" -d postgres -tAc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]
}

# A hot standby of the primary, streaming its WAL: a throwaway cluster in a temp dir, made
# with pg_basebackup -R (which writes standby.signal and primary_conninfo) and started with
# pg_ctl on its own port. Reused when it answers as a standby; made again when it cannot start.
ensure_pg_replica() {
  if replica_ok; then
    export STACK_TEST_POSTGRES_REPLICA_URL="postgres://postgres:postgres@127.0.0.1:$REPLICA_PORT/$PG_DB"
    return 0
  fi
  local bin hba
  bin=$(pg_bin)
  # The primary must accept replication connections from loopback (a fresh Debian install
  # does; a customised pg_hba.conf may not).
  hba=$(as_postgres psql -p "$PG_PORT" -tAc 'SHOW hba_file')
  if ! grep -Eq '^[[:space:]]*host[[:space:]]+replication' "$hba"; then
    log "allowing replication connections from 127.0.0.1 in $hba"
    echo 'host replication postgres 127.0.0.1/32 scram-sha-256' >> "$hba"
    as_postgres psql -q -p "$PG_PORT" -c 'SELECT pg_reload_conf()' >/dev/null
  fi
  if [ -f "$REPLICA_DIR/standby.signal" ]; then
    log "starting the PostgreSQL replica on port $REPLICA_PORT"
    as_postgres "$bin/pg_ctl" -D "$REPLICA_DIR" -l "$REPLICA_DIR/log" -w -t 30 start >&2 || true
  fi
  if ! replica_ok; then
    as_postgres "$bin/pg_ctl" -D "$REPLICA_DIR" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$REPLICA_DIR"
    log "making a streaming replica of 127.0.0.1:$PG_PORT in $REPLICA_DIR (port $REPLICA_PORT)"
    install -d -o postgres -g postgres -m 700 "$REPLICA_DIR"
    PGPASSWORD=postgres as_postgres "$bin/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres \
      -D "$REPLICA_DIR" -R -X stream -c fast >&2
    # Debian keeps the primary's configuration outside its data directory: give the
    # replica its own.
    cat > "$REPLICA_DIR/postgresql.conf" <<CONF
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
hot_standby = on
max_connections = 100
fsync = off
CONF
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$REPLICA_DIR/pg_hba.conf"
    chown postgres:postgres "$REPLICA_DIR/postgresql.conf" "$REPLICA_DIR/pg_hba.conf"
    as_postgres "$bin/pg_ctl" -D "$REPLICA_DIR" -l "$REPLICA_DIR/log" -w -t 60 start >&2
    wait_for replica_ok || { log "the replica did not come up as a standby (see $REPLICA_DIR/log)"; return 1; }
  fi
  export STACK_TEST_POSTGRES_REPLICA_URL="postgres://postgres:postgres@127.0.0.1:$REPLICA_PORT/$PG_DB"
}

cluster_ports() { echo "$CLUSTER_PORT" "$((CLUSTER_PORT + 1))" "$((CLUSTER_PORT + 2))"; }

cluster_ok() {
  redis-cli -h 127.0.0.1 -p "$CLUSTER_PORT" cluster info 2>/dev/null | grep -q 'cluster_state:ok' &&
    [ "$(redis-cli -h 127.0.0.1 -p "$CLUSTER_PORT" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')" = 3 ]
}

# Three masters on loopback, no replicas, data in a temp dir: a throwaway Cluster for tests.
ensure_redis_cluster() {
  if cluster_ok; then
    export STACK_TEST_REDIS_CLUSTER_URL=$(cluster_urls)
    return 0
  fi
  local port dir
  for port in $(cluster_ports); do
    if ! redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
      dir=$(mktemp -d /tmp/stack-redis-cluster.XXXXXX)
      log "starting Redis Cluster node on port $port"
      redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
        --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 2000 --save "" \
        --appendonly no --dir "$dir" --logfile "$dir/redis.log" >&2
    fi
  done
  for port in $(cluster_ports); do
    wait_for redis-cli -h 127.0.0.1 -p "$port" ping || { log "Redis Cluster node $port did not answer"; return 1; }
  done
  # Nodes left half-joined by an earlier run are reset before the Cluster is made again.
  for port in $(cluster_ports); do
    redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null 2>&1 || true
    redis-cli -h 127.0.0.1 -p "$port" cluster reset hard >/dev/null
  done
  log "creating a 3-master Redis Cluster on ports $(cluster_ports)"
  local nodes=()
  for port in $(cluster_ports); do nodes+=("127.0.0.1:$port"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >&2
  wait_for cluster_ok || { log "Redis Cluster did not reach state ok"; return 1; }
  export STACK_TEST_REDIS_CLUSTER_URL=$(cluster_urls)
}

cluster_urls() {
  local port urls=""
  for port in $(cluster_ports); do urls="$urls${urls:+,}redis://127.0.0.1:$port"; done
  echo "$urls"
}

# The job dashboard's browser test drives it over the DevTools protocol (no driver needed).
ensure_chromium() {
  if ! command -v chromium >/dev/null 2>&1; then
    apt_install --no-install-recommends chromium
  fi
  STACK_CHROMIUM=$(command -v chromium)
}

# Prometheus is not started here: the metrics test starts a throwaway one of its own.
ensure_prometheus() {
  if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    apt_install prometheus
  fi
  STACK_TEST_PROMETHEUS_BIN=$(command -v prometheus)
  STACK_TEST_PROMTOOL_BIN=$(command -v promtool)
}

ensure_postgres
ensure_pg_replica
ensure_redis
ensure_redis_cluster
ensure_chromium
ensure_prometheus

echo "export STACK_TEST_POSTGRES_URL=$STACK_TEST_POSTGRES_URL"
echo "export STACK_TEST_REDIS_URL=$STACK_TEST_REDIS_URL"
echo "export STACK_TEST_REDIS_CLUSTER_URL=$STACK_TEST_REDIS_CLUSTER_URL"
echo "export STACK_TEST_POSTGRES_REPLICA_URL=$STACK_TEST_POSTGRES_REPLICA_URL"
echo "export STACK_TEST_POSTGRES_REPLICA_DIR=$REPLICA_DIR"
echo "export STACK_TEST_PG_BIN=$(pg_bin)"
echo "export STACK_CHROMIUM=$STACK_CHROMIUM"
echo "export STACK_TEST_PROMETHEUS_BIN=$STACK_TEST_PROMETHEUS_BIN"
echo "export STACK_TEST_PROMTOOL_BIN=$STACK_TEST_PROMTOOL_BIN"
