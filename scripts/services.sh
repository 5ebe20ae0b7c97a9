#!/usr/bin/env bash
# Runs Conveyor's services as local processes with scripts/dev.env: api, gateway, bridge, scheduler,
# one worker per pool (the pools `conveyor-pools` lists, the same definitions the chart's
# workerPools are checked against), and one worker per team pool: the WorkerPool manifests named in
# CONVEYOR_WORKER_POOLS (packages/jobs/src/worker-pools/local.ts reads and checks them).
#   scripts/services.sh run      foreground, logs interleaved, Ctrl-C drains and stops all
#   scripts/services.sh start    background, starts only what is not running, waits for /readyz
#   scripts/services.sh stop     SIGTERM (drain) each process it started, SIGKILL after the grace period
#   scripts/services.sh status
#   scripts/services.sh check    only checks the manifests of CONVEYOR_WORKER_POOLS (make start runs it first)
# Env (all optional; a variable set in the environment wins over dev.env):
#   CONVEYOR_INSTANCE   a name for a second, separate set of processes (pid files, logs and the
#                       Prometheus target file are kept apart); default: the dev instance
#   CONVEYOR_WORKER_POOLS  WorkerPool manifests (comma-separated paths) whose pools `start` and
#                       `run` provision and run, each with its conveyor.dev/local-command; `stop`
#                       and `status` act on those the last start ran, without the variable
#   CONVEYOR_PORT_BASE  gateway port; api +1, bridge +2, first pool's worker +3, scheduler +4,
#                       further pools' workers +5, +6, ..., then the team pools' (default 8080). Each component's
#                       /healthz, /readyz and /metrics are on its port + 1000 (OPS_PORT); only
#                       gateway and api take traffic on the port itself.
set -euo pipefail
INFRA_NAME=services
# shellcheck source=infra/lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/infra/lib.sh"
# shellcheck source=dev-env.sh source-path=SCRIPTDIR
source "$REPO_ROOT/scripts/dev-env.sh"

INSTANCE="${CONVEYOR_INSTANCE:-}"
SERVICES_RUN="$RUN_DIR/services${INSTANCE:+-$INSTANCE}"
PROMETHEUS_TARGETS="$RUN_DIR/prometheus/targets/${INSTANCE:-dev}.json"
PORT_BASE="${CONVEYOR_PORT_BASE:-8080}"
LOCAL_POOLS_CLI="$REPO_ROOT/packages/jobs/dist/local-pools-cli.js"
# The team pools started, one "pool<TAB>port<TAB>command" line each: what stop and status act on.
TEAM_POOLS_FILE="$SERVICES_RUN/team-pools.tsv"
ACTION="${1:-}"

# Components in start order, each with its service, port and extra environment.
COMPONENTS=()
declare -A SERVICE_OF PORT_OF POOL_OF MATCH_OF TEAM_COMMAND_OF

# add_component NAME SERVICE PORT [POOL]: one of Conveyor's services, services/SERVICE/dist/main.js.
add_component() {
  COMPONENTS+=("$1")
  SERVICE_OF[$1]="$2"
  PORT_OF[$1]="$3"
  POOL_OF[$1]="${4:-}"
  # What its command line contains: a recycled pid is never taken for it.
  MATCH_OF[$1]="$REPO_ROOT/services/$2/dist/main.js"
}

# add_team_pool POOL PORT COMMAND: a team pool's worker, COMMAND from its manifest's annotation.
add_team_pool() {
  add_component "worker-$1" "$1" "$2" "$1"
  MATCH_OF[worker-$1]="$3"
  TEAM_COMMAND_OF[worker-$1]="$3"
}

# The team pools as "pool<TAB>command" lines: start and run read (and check) the manifests, so a bad
# one fails here, before any process starts; stop and status read what the last start recorded.
team_pools() {
  if [[ "$ACTION" == start || "$ACTION" == run || "$ACTION" == check ]]; then
    [[ -n "${CONVEYOR_WORKER_POOLS:-}" ]] || return 0
    node "$LOCAL_POOLS_CLI" list || die "CONVEYOR_WORKER_POOLS: a WorkerPool manifest is wrong (above); nothing was started"
  elif [[ -f "$TEAM_POOLS_FILE" ]]; then
    cut -f1,3 "$TEAM_POOLS_FILE"
  fi
}

define_components() {
  local pools pool i=0 team command
  [[ -f "$REPO_ROOT/packages/jobs/dist/pools-cli.js" ]] || die "packages/jobs is not built; run 'make build' first"
  mapfile -t pools < <(node "$REPO_ROOT/packages/jobs/dist/pools-cli.js")
  ((${#pools[@]})) || die "conveyor-pools listed no worker pool"
  team="$(team_pools)" || exit 1
  add_component api api $((PORT_BASE + 1))
  add_component gateway gateway "$PORT_BASE"
  add_component bridge bridge $((PORT_BASE + 2))
  for pool in "${pools[@]}"; do
    add_component "worker-$pool" worker $((i == 0 ? PORT_BASE + 3 : PORT_BASE + 4 + i)) "$pool"
    i=$((i + 1))
  done
  add_component scheduler scheduler $((PORT_BASE + 4))
  while IFS=$'\t' read -r pool command; do
    [[ -n "$pool" ]] || continue
    add_team_pool "$pool" $((PORT_BASE + 4 + i)) "$command"
    i=$((i + 1))
  done <<<"$team"
}

is_team() { [[ -n "${TEAM_COMMAND_OF[$1]:-}" ]]; }

main_js() { printf '%s\n' "$REPO_ROOT/services/${SERVICE_OF[$1]}/dist/main.js"; }
ops_port() { printf '%s\n' $((PORT_OF[$1] + 1000)); }
pidfile() { printf '%s\n' "$SERVICES_RUN/$1.pid"; }

# The same command the container image runs; a team pool's from its manifest (env --chdir=DIR ... CMD).
component_cmd() {
  if is_team "$1"; then
    node "$LOCAL_POOLS_CLI" command "${POOL_OF[$1]}"
  else
    printf '%s\n' node --enable-source-maps --import @conveyor/platform/telemetry "$(main_js "$1")"
  fi
}

# Runs CMD... with the component's environment (port, service name, pool, api address, and the
# local Prometheus narrowed to this instance's targets, which the api reads pool history from).
with_component_env() {
  local c="$1"
  shift
  PORT="${PORT_OF[$c]}" OPS_PORT="$(ops_port "$c")" OTEL_SERVICE_NAME="${SERVICE_OF[$c]}" WORKER_POOL="${POOL_OF[$c]:-default}" \
    API_URL="http://127.0.0.1:${PORT_OF[api]}" \
    PROMETHEUS_URL="${PROMETHEUS_URL:-http://127.0.0.1:${PROMETHEUS_PORT:-19090}}" \
    PROMETHEUS_SELECTOR="${PROMETHEUS_SELECTOR:-conveyor_instance=\"${INSTANCE:-dev}\"}" "$@"
}

require_build() {
  local c
  for c in "${COMPONENTS[@]}"; do
    is_team "$c" || [[ -f "$(main_js "$c")" ]] || die "services/${SERVICE_OF[$c]} is not built; run 'make build' first"
  done
}

# The team pools' queues, DLQ and subscription (the operator's provisionPoolQueues), then a record
# of them for stop and status.
provision_team_pools() {
  local c provisioned
  [[ -n "${CONVEYOR_WORKER_POOLS:-}" ]] || return 0
  provisioned="$(node "$LOCAL_POOLS_CLI" provision)" || die "provisioning the team pools' queues failed (above)"
  log "$provisioned"
  ensure_dir "$SERVICES_RUN"
  for c in "${COMPONENTS[@]}"; do
    if is_team "$c"; then printf '%s\t%s\t%s\n' "${POOL_OF[$c]}" "${PORT_OF[$c]}" "${TEAM_COMMAND_OF[$c]}"; fi
  done >"$TEAM_POOLS_FILE"
}

wait_ready() {
  local c="$1" url
  url="http://127.0.0.1:$(ops_port "$1")/readyz"
  INFRA_START_TIMEOUT=60 wait_until "$c" "$SERVICES_RUN/$c.log" "$(pidfile "$c")" "${MATCH_OF[$c]}" http_ok "$url"
}

# Prometheus (scripts/infra/prometheus.sh) scrapes every file in its targets folder.
write_prometheus_targets() {
  local c targets=()
  for c in "${COMPONENTS[@]}"; do targets+=("\"127.0.0.1:$(ops_port "$c")\""); done
  ensure_dir "$(dirname "$PROMETHEUS_TARGETS")"
  printf '[{"targets": [%s], "labels": {"conveyor_instance": "%s"}}]\n' \
    "$(IFS=,; echo "${targets[*]}")" "${INSTANCE:-dev}" >"$PROMETHEUS_TARGETS.tmp"
  mv "$PROMETHEUS_TARGETS.tmp" "$PROMETHEUS_TARGETS"
}

do_start() {
  require_build
  load_dev_env
  provision_team_pools
  local c
  for c in "${COMPONENTS[@]}"; do
    if pidfile_alive "$(pidfile "$c")" "${MATCH_OF[$c]}"; then
      log "$c already running (pid $(read_pid "$(pidfile "$c")"))"
      continue
    fi
    ensure_port_free "${PORT_OF[$c]}" "$c"
    ensure_port_free "$(ops_port "$c")" "$c"
    mapfile -t cmd < <(component_cmd "$c")
    (cd "$REPO_ROOT" && with_component_env "$c" start_bg "$(pidfile "$c")" "$SERVICES_RUN/$c.log" "${cmd[@]}")
    log "started $c on :${PORT_OF[$c]} (log: ${SERVICES_RUN#"$REPO_ROOT"/}/$c.log)"
  done
  write_prometheus_targets
  for c in "${COMPONENTS[@]}"; do wait_ready "$c"; done
  log "all services ready: gateway http://127.0.0.1:${PORT_OF[gateway]}"
}

# Stops exactly the processes this script started (their pid files), never anything else.
do_stop() {
  local c
  rm -f "$PROMETHEUS_TARGETS"
  for c in "${COMPONENTS[@]}"; do
    INFRA_STOP_TIMEOUT=35 stop_pidfile "$(pidfile "$c")" "$c" "${MATCH_OF[$c]}"
  done
  rm -f "$TEAM_POOLS_FILE"
}

do_status() {
  local c state
  for c in "${COMPONENTS[@]}"; do
    state=stopped
    if pidfile_alive "$(pidfile "$c")" "${MATCH_OF[$c]}"; then
      state="running (pid $(read_pid "$(pidfile "$c")"))"
      http_ok "http://127.0.0.1:$(ops_port "$c")/readyz" && state="$state, ready" || state="$state, not ready"
    fi
    printf '%-16s %s\n' "$c" "$state"
  done
}

do_run() {
  require_build
  load_dev_env
  provision_team_pools
  local c pids=()
  for c in "${COMPONENTS[@]}"; do
    ensure_port_free "${PORT_OF[$c]}" "$c"
    ensure_port_free "$(ops_port "$c")" "$c"
    mapfile -t cmd < <(component_cmd "$c")
    # $! is node itself (not a pipeline's subshell), so the trap signals exactly what was started.
    (cd "$REPO_ROOT" && with_component_env "$c" exec "${cmd[@]}") > >(sed -u "s/^/[$c] /") 2>&1 &
    pids+=("$!")
  done
  write_prometheus_targets
  # shellcheck disable=SC2317 # invoked by the trap
  stop_all() {
    log "stopping (draining) all services"
    rm -f "$PROMETHEUS_TARGETS" "$TEAM_POOLS_FILE"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    exit 0
  }
  trap stop_all INT TERM
  log "running; gateway on http://127.0.0.1:${PORT_OF[gateway]}; Ctrl-C to stop"
  wait
}

define_components
case "$ACTION" in
  run) do_run ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  check) for c in "${COMPONENTS[@]}"; do if is_team "$c"; then log "team pool ${POOL_OF[$c]}: ${TEAM_COMMAND_OF[$c]}"; fi; done ;;
  *) usage "run|start|stop|status|check" ;;
esac
