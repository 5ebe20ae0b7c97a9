#!/usr/bin/env bash
# Prometheus (Debian package) as our own instance on 127.0.0.1 (the Debian
# service, if any, is ignored).
#   scripts/infra/prometheus.sh {install|start|stop|restart|status|reload}
# Env: PROMETHEUS_PORT (default 19090), PROMETHEUS_CONFIG (default: a generated
# .run/prometheus/prometheus.yml that scrapes every `scripts/services.sh` instance and loads the
# chart's alert rules).
# Lifecycle API is on: `reload` (POST /-/reload) re-reads the config file.
set -euo pipefail
INFRA_NAME=prometheus
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROMETHEUS_PORT="${PROMETHEUS_PORT:-19090}"
PROM_RUN="$RUN_DIR/prometheus"
PROM_DATA="$PROM_RUN/data"
PROM_DEFAULT_CONFIG="$PROM_RUN/prometheus.yml"
PROM_LOG="$PROM_RUN/prometheus.log"
PROM_PID="$PROM_RUN/prometheus.pid"
PROM_PORT_FILE="$PROM_RUN/port"
PROM_URL="http://127.0.0.1:$PROMETHEUS_PORT"
PROM_MATCH="--storage.tsdb.path=$PROM_DATA"

prom_bin() { command -v prometheus 2>/dev/null || true; }

do_install() {
  if [[ -n "$(prom_bin)" ]]; then
    log "already installed ($(prometheus --version 2>&1 | head -n 1))"
    return 0
  fi
  # Debian's postinst may try to start its own service (blocked where
  # policy-rc.d forbids it; otherwise it listens on :9090 and we ignore it).
  apt_install prometheus
  [[ -n "$(prom_bin)" ]] || die "prometheus binary missing after apt-get install"
  log "installed $(prometheus --version 2>&1 | head -n 1)"
}

require_installed() {
  [[ -n "$(prom_bin)" ]] || die "prometheus not installed; run: $0 install"
}

config_file() {
  if [[ -n "${PROMETHEUS_CONFIG:-}" ]]; then
    [[ -f "$PROMETHEUS_CONFIG" ]] || die "PROMETHEUS_CONFIG=$PROMETHEUS_CONFIG does not exist"
    realpath "$PROMETHEUS_CONFIG"
  else
    printf '%s\n' "$PROM_DEFAULT_CONFIG"
  fi
}

# Scrapes itself and every set of services `scripts/services.sh` runs (each writes its targets
# into targets/, re-read without a restart) and loads the alert rules the chart ships.
write_default_config() {
  ensure_dir "$PROM_RUN/targets"
  cat >"$PROM_DEFAULT_CONFIG.tmp" <<EOF
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - $REPO_ROOT/charts/conveyor/rules/conveyor-alerts.yaml
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$PROMETHEUS_PORT']
  - job_name: conveyor
    file_sd_configs:
      - files: ['$PROM_RUN/targets/*.json']
        refresh_interval: 5s
EOF
  mv "$PROM_DEFAULT_CONFIG.tmp" "$PROM_DEFAULT_CONFIG"
}

prom_alive() { pidfile_alive "$PROM_PID" "$PROM_MATCH"; }
prom_ready() { http_ok "$PROM_URL/-/ready"; }

do_start() {
  require_installed
  ensure_dir "$PROM_RUN" "$PROM_DATA"
  if prom_alive; then
    guard_port prometheus "$PROM_PORT_FILE" "$PROMETHEUS_PORT"
    if prom_ready; then
      if [[ -z "${PROMETHEUS_CONFIG:-}" ]] && ! grep -qF "$PROM_RUN/targets" "$PROM_DEFAULT_CONFIG" 2>/dev/null; then
        write_default_config
        do_reload
      fi
      log "already running on $PROM_URL"
      return 0
    fi
    log "process running, waiting for $PROM_URL/-/ready"
  else
    ensure_port_free "$PROMETHEUS_PORT" prometheus
    local cfg
    cfg="$(config_file)"
    [[ -n "${PROMETHEUS_CONFIG:-}" ]] || write_default_config
    log "starting on $PROM_URL (config: $cfg, log: $PROM_LOG)"
    start_bg "$PROM_PID" "$PROM_LOG" "$(prom_bin)" \
      "--config.file=$cfg" \
      "$PROM_MATCH" \
      "--web.listen-address=127.0.0.1:$PROMETHEUS_PORT" \
      --enable-feature=exemplar-storage \
      --web.enable-lifecycle
    echo "$PROMETHEUS_PORT" >"$PROM_PORT_FILE"
  fi
  wait_until prometheus "$PROM_LOG" "$PROM_PID" "$PROM_MATCH" prom_ready
  log "ready on $PROM_URL (pid $(read_pid "$PROM_PID"))"
}

do_stop() { stop_pidfile "$PROM_PID" prometheus "$PROM_MATCH"; }

do_status() {
  if prom_alive && prom_ready; then
    log "running on $PROM_URL (pid $(read_pid "$PROM_PID"))"
    return 0
  fi
  log "not running"
  return 3
}

do_reload() {
  prom_alive || die "not running"
  curl -fsS -X POST --max-time 10 "$PROM_URL/-/reload" >/dev/null ||
    die "reload failed (bad config?); see $PROM_LOG"
  log "config reloaded"
}

if [[ "${1:-}" == "reload" ]]; then
  do_reload
else
  dispatch "${1:-}"
fi
