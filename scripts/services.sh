#!/usr/bin/env bash
# Runs the five Conveyor services as local processes with scripts/dev.env.
#   scripts/services.sh run      foreground, logs interleaved, Ctrl-C drains and stops all
#   scripts/services.sh start    background, starts only what is not running, waits for /readyz
#   scripts/services.sh stop     SIGTERM (drain) each service, SIGKILL after the grace period
#   scripts/services.sh status
set -euo pipefail
INFRA_NAME=services
# shellcheck source=infra/lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/infra/lib.sh"

SERVICES=(api gateway bridge worker scheduler)
declare -A PORTS=([gateway]=8080 [api]=8081 [bridge]=8082 [worker]=8083 [scheduler]=8084)
SERVICES_RUN="$RUN_DIR/services"

load_env() {
  set -a
  # shellcheck disable=SC1091 # plain KEY=value lines
  source "$REPO_ROOT/scripts/dev.env"
  set +a
}

# The same command the container image runs.
service_cmd() {
  printf '%s\n' node --enable-source-maps --import @conveyor/platform/telemetry "$REPO_ROOT/services/$1/dist/main.js"
}

require_build() {
  local s
  for s in "${SERVICES[@]}"; do
    [[ -f "$REPO_ROOT/services/$s/dist/main.js" ]] || die "services/$s is not built; run 'make build' first"
  done
}

wait_ready() {
  local s="$1" url="http://127.0.0.1:${PORTS[$1]}/readyz"
  INFRA_START_TIMEOUT=60 wait_until "$s" "$SERVICES_RUN/$s.log" "$SERVICES_RUN/$s.pid" "services/$s/dist/main.js" http_ok "$url"
}

do_start() {
  require_build
  load_env
  local s
  for s in "${SERVICES[@]}"; do
    if pidfile_alive "$SERVICES_RUN/$s.pid" "services/$s/dist/main.js"; then
      log "$s already running (pid $(read_pid "$SERVICES_RUN/$s.pid"))"
      continue
    fi
    ensure_port_free "${PORTS[$s]}" "$s"
    mapfile -t cmd < <(service_cmd "$s")
    (cd "$REPO_ROOT" && PORT="${PORTS[$s]}" OTEL_SERVICE_NAME="$s" start_bg "$SERVICES_RUN/$s.pid" "$SERVICES_RUN/$s.log" "${cmd[@]}")
    log "started $s on :${PORTS[$s]} (log: ${SERVICES_RUN#"$REPO_ROOT"/}/$s.log)"
  done
  for s in "${SERVICES[@]}"; do wait_ready "$s"; done
  log "all services ready: gateway http://127.0.0.1:${PORTS[gateway]}"
}

do_stop() {
  local s
  for s in "${SERVICES[@]}"; do
    INFRA_STOP_TIMEOUT=35 stop_pidfile "$SERVICES_RUN/$s.pid" "$s" "services/$s/dist/main.js"
  done
}

do_status() {
  local s state
  for s in "${SERVICES[@]}"; do
    state=stopped
    if pidfile_alive "$SERVICES_RUN/$s.pid" "services/$s/dist/main.js"; then
      state="running (pid $(read_pid "$SERVICES_RUN/$s.pid"))"
      http_ok "http://127.0.0.1:${PORTS[$s]}/readyz" && state="$state, ready" || state="$state, not ready"
    fi
    printf '%-10s %s\n' "$s" "$state"
  done
}

do_run() {
  require_build
  load_env
  local s pids=()
  for s in "${SERVICES[@]}"; do
    ensure_port_free "${PORTS[$s]}" "$s"
    mapfile -t cmd < <(service_cmd "$s")
    (cd "$REPO_ROOT" && PORT="${PORTS[$s]}" OTEL_SERVICE_NAME="$s" exec "${cmd[@]}" 2>&1 | sed -u "s/^/[$s] /") &
    pids+=("$!")
  done
  # shellcheck disable=SC2317 # invoked by the trap
  stop_all() {
    log "stopping (draining) all services"
    pkill -TERM -f "$REPO_ROOT/services/.*/dist/main.js" || true
    wait
    exit 0
  }
  trap stop_all INT TERM
  log "running; gateway on http://127.0.0.1:${PORTS[gateway]}; Ctrl-C to stop"
  wait
}

case "${1:-}" in
  run) do_run ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) usage "run|start|stop|status" ;;
esac
