#!/usr/bin/env bash
# Zipkin (trace storage and UI) from its Maven Central executable jar, on the JDK, keeping traces
# in memory: where `make start` sends every service's spans (scripts/dev.env), so the trace id a
# job shows can be opened at http://127.0.0.1:19411/zipkin/traces/<traceId>.
#   scripts/infra/zipkin.sh {install|start|stop|restart|status}
# Env: ZIPKIN_PORT (default 19411), ZIPKIN_HEAP_OPTS (default -Xmx256m).
set -euo pipefail
INFRA_NAME=zipkin
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ZIPKIN_VERSION=3.6.1
ZIPKIN_PORT="${ZIPKIN_PORT:-19411}"
ZIPKIN_HEAP_OPTS="${ZIPKIN_HEAP_OPTS:--Xmx256m}"
ZIPKIN_CACHE="$CACHE_DIR/zipkin/$ZIPKIN_VERSION"
ZIPKIN_JAR="$ZIPKIN_CACHE/zipkin-server-$ZIPKIN_VERSION-exec.jar"
ZIPKIN_RUN="$RUN_DIR/zipkin"
ZIPKIN_LOG="$ZIPKIN_RUN/zipkin.log"
ZIPKIN_PID="$ZIPKIN_RUN/zipkin.pid"
ZIPKIN_PORT_FILE="$ZIPKIN_RUN/port"
ZIPKIN_URL="http://127.0.0.1:$ZIPKIN_PORT"
ZIPKIN_MATCH="$ZIPKIN_JAR"

do_install() {
  if [[ -s "$ZIPKIN_JAR" ]]; then
    log "Zipkin $ZIPKIN_VERSION already installed ($ZIPKIN_JAR)"
    return 0
  fi
  command -v java >/dev/null || die "java not found (Zipkin $ZIPKIN_VERSION needs Java 17+)"
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch the Zipkin jar)"
  ensure_dir "$ZIPKIN_CACHE"
  log "fetching io.zipkin:zipkin-server:$ZIPKIN_VERSION:exec from Maven Central (mvn)"
  mvn -q -B -Dmaven.repo.local="$CACHE_DIR/m2" dependency:copy \
    "-Dartifact=io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" "-DoutputDirectory=$ZIPKIN_CACHE.tmp" >/dev/null ||
    die "could not fetch the Zipkin jar"
  mv "$ZIPKIN_CACHE.tmp/$(basename "$ZIPKIN_JAR")" "$ZIPKIN_JAR"
  rm -rf "$ZIPKIN_CACHE.tmp"
  log "installed Zipkin $ZIPKIN_VERSION"
}

zipkin_alive() { pidfile_alive "$ZIPKIN_PID" "$ZIPKIN_MATCH"; }
zipkin_ready() { http_ok "$ZIPKIN_URL/health"; }

do_start() {
  [[ -s "$ZIPKIN_JAR" ]] || die "Zipkin not installed; run: $0 install"
  ensure_dir "$ZIPKIN_RUN"
  if zipkin_alive; then
    guard_port zipkin "$ZIPKIN_PORT_FILE" "$ZIPKIN_PORT"
  else
    ensure_port_free "$ZIPKIN_PORT" zipkin
    log "starting on $ZIPKIN_URL (log: $ZIPKIN_LOG)"
    # Loopback only: Armeria listens on every interface unless told an address.
    # shellcheck disable=SC2086 # heap options are words on purpose
    start_bg "$ZIPKIN_PID" "$ZIPKIN_LOG" java $ZIPKIN_HEAP_OPTS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -jar "$ZIPKIN_JAR" "--armeria.ports[0].ip=127.0.0.1" "--armeria.ports[0].port=$ZIPKIN_PORT" \
      "--armeria.ports[0].protocols=http"
    echo "$ZIPKIN_PORT" >"$ZIPKIN_PORT_FILE"
  fi
  wait_until zipkin "$ZIPKIN_LOG" "$ZIPKIN_PID" "$ZIPKIN_MATCH" zipkin_ready
  log "ready on $ZIPKIN_URL/zipkin/ (pid $(read_pid "$ZIPKIN_PID"))"
}

do_stop() { stop_pidfile "$ZIPKIN_PID" zipkin "$ZIPKIN_MATCH"; }

do_status() {
  if zipkin_alive && zipkin_ready; then
    log "running on $ZIPKIN_URL (pid $(read_pid "$ZIPKIN_PID"))"
    return 0
  fi
  log "not running"
  return 3
}

dispatch "${1:-}"
