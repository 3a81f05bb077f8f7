#!/usr/bin/env bash
# A local three-node Parley cluster on loopback, in production mode:
# PostgreSQL (a fresh database, or $PARLEY_PG), the machine's Redis under a
# fresh key prefix, and the machine's NATS (or, if none answers, a NATS
# server embedded in node 1). Nodes listen on 127.0.0.1:8081-8083 (their
# metrics and pprof on 127.0.0.1:9081-9083), log into a temp dir, and all
# stop on Ctrl-C; a database the script created is dropped then.
#
# Environment (all optional):
#   PARLEY_PG          PostgreSQL DSN to use as is (default: create parley_cluster_<time>)
#   PARLEY_PG_ADMIN    where to create that database (postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   PARLEY_REDIS       Redis URL (redis://127.0.0.1:6379)
#   PARLEY_NATS        NATS URL, or "embedded" for a NATS server in node 1
#                      (default nats://127.0.0.1:4222 if it answers, else embedded)
#   CLUSTER_BASE_PORT  first node's port (8081); an embedded NATS listens on base+2000 (10081)
#   CLUSTER_NODE       node id prefix (n: nodes n1, n2, n3); node ids must be unique per NATS
#   CLUSTER_EVENT_LOG  where the event stream is kept on a shared NATS: store (default) or jetstream
#   CLUSTER_ARGS       extra flags for every node (e.g. "--log-level debug")
#
# On a shared NATS the nodes keep the event stream in the database
# (--event-log store): JetStream streams are named after the app only
# (PARLEY_EVENTS_demo), so every cluster on that NATS, and every earlier
# run, would share one stream while each run has a fresh database. An
# embedded NATS keeps its JetStream in node 1's data dir, fresh each run,
# so there the event stream is on JetStream as in production.
set -euo pipefail
cd "$(dirname "$0")/.."

base=${CLUSTER_BASE_PORT:-8081}
prefix=${CLUSTER_NODE:-n}
pg_admin=${PARLEY_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
redis=${PARLEY_REDIS:-redis://127.0.0.1:6379}
work=$(mktemp -d -t parley-cluster.XXXXXX)
stamp=$(date +%Y%m%d%H%M%S)
pids=()
created_db=""

# tcp_open HOST PORT: whether something accepts connections there.
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

cleanup() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    echo
    echo "stopping the nodes..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  fi
  if [ -n "$created_db" ]; then
    psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $created_db WITH (FORCE)" >/dev/null 2>&1 || true
    echo "dropped database $created_db"
  fi
  echo "logs and data kept in $work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building parley into $work..."
go build -o "$work/parley" ./cmd/parley

if [ -n "${PARLEY_PG:-}" ]; then
  pg=$PARLEY_PG
else
  command -v psql >/dev/null || { echo "psql is missing: install postgresql-client or set PARLEY_PG" >&2; exit 1; }
  db=parley_cluster_$stamp
  psql -q "$pg_admin" -c "CREATE DATABASE $db" >/dev/null
  created_db=$db
  pg="${pg_admin%%\?*}"
  pg="${pg%/*}/$db?sslmode=disable"
fi

redis_hostport=${redis#redis://}
redis_hostport=${redis_hostport%%/*}
tcp_open "${redis_hostport%:*}" "${redis_hostport##*:}" || { echo "Redis at $redis does not answer (set PARLEY_REDIS)" >&2; exit 1; }
redis_prefix="cluster:$stamp:"

if [ "${PARLEY_NATS:-}" = embedded ] || { [ -z "${PARLEY_NATS:-}" ] && ! tcp_open 127.0.0.1 4222; }; then
  nats_port=$((base + 2000))
  nats_first=(--nats embedded --nats-port "$nats_port")
  nats_rest=(--nats "nats://127.0.0.1:$nats_port")
else
  nats=${PARLEY_NATS:-nats://127.0.0.1:4222}
  nats_first=(--nats "$nats" --event-log "${CLUSTER_EVENT_LOG:-store}")
  nats_rest=("${nats_first[@]}")
fi

# start_node I NATS-FLAGS...: node I on port base+I-1, in the background.
start_node() {
  local i=$1
  shift
  local port=$((base + i - 1))
  mkdir -p "$work/$prefix$i"
  # shellcheck disable=SC2086 # CLUSTER_ARGS is split on purpose
  "$work/parley" serve --node "$prefix$i" --addr "127.0.0.1:$port" --data "$work/$prefix$i" \
    --debug-addr "127.0.0.1:$((port + 1000))" \
    --postgres "$pg" --redis "$redis" --redis-prefix "$redis_prefix" "$@" ${CLUSTER_ARGS:-} \
    >"$work/$prefix$i.log" 2>&1 &
  pids+=($!)
}

# await_node I: wait until node I serves (or has died).
await_node() {
  local i=$1 pid=${pids[$(($1 - 1))]}
  for _ in $(seq 1 300); do
    grep -q "serving on" "$work/$prefix$i.log" 2>/dev/null && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "node $prefix$i exited:" >&2
      cat "$work/$prefix$i.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "node $prefix$i did not start within 30 s; its log: $work/$prefix$i.log" >&2
  exit 1
}

# Node 1 first: it migrates the database and creates the demo app.
start_node 1 "${nats_first[@]}"
await_node 1
start_node 2 "${nats_rest[@]}"
start_node 3 "${nats_rest[@]}"
await_node 2
await_node 3

cat <<EOF

Parley cluster running (${nats_first[*]} on node 1, Redis prefix $redis_prefix)
  nodes:     http://127.0.0.1:$base  http://127.0.0.1:$((base + 1))  http://127.0.0.1:$((base + 2))
  metrics:   http://127.0.0.1:$((base + 1000))/metrics (and +1, +2)
  database:  $pg
  logs:      $work/$prefix{1,2,3}.log
  demo app API key (also in $work/${prefix}1/demo-app.key):

    $(cat "$work/${prefix}1/demo-app.key")

Ctrl-C stops all three.
EOF

# Wait until Ctrl-C or a node exits on its own.
while :; do
  for i in 1 2 3; do
    if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
      echo "node $prefix$i exited; its log: $work/$prefix$i.log" >&2
      exit 1
    fi
  done
  sleep 1
done
