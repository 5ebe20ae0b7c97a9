# shellcheck shell=bash
# Shared helpers for scripts/infra/*.sh. Source it; do not run it.
#
# Layout (both folders are git-ignored):
#   .cache/<service>/  downloads and installed artifacts (kept across runs)
#   .run/<service>/    data dirs, logs, pid files (runtime state)

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INFRA_DIR/../.." && pwd)"
# CONVEYOR_CACHE_DIR lets CI keep downloads outside a fresh clone.
CACHE_DIR="${CONVEYOR_CACHE_DIR:-$REPO_ROOT/.cache}"
# CONVEYOR_RUN_DIR and INFRA_HOST let scripts/cluster/infra.sh run a second set of servers for the
# local Kubernetes cluster, on the node's bridge address, with its own data.
RUN_DIR="${CONVEYOR_RUN_DIR:-$REPO_ROOT/.run}"
INFRA_HOST="${INFRA_HOST:-127.0.0.1}"
# Seconds `start` waits for a server to answer (override per call via env).
INFRA_START_TIMEOUT="${INFRA_START_TIMEOUT:-120}"
# Seconds `stop` waits after SIGTERM before SIGKILL.
INFRA_STOP_TIMEOUT="${INFRA_STOP_TIMEOUT:-60}"
INFRA_NAME="${INFRA_NAME:-infra}"

# The project's Node (.nvmrc), installed by scripts/infra/node.sh, comes first on PATH once it exists.
NODE_VERSION="$(tr -d '[:space:]' <"$REPO_ROOT/.nvmrc")"
NODE_HOME="$CACHE_DIR/node/$NODE_VERSION"
[[ ":$PATH:" == *":$NODE_HOME/bin:"* ]] || PATH="$NODE_HOME/bin:$PATH"

export INFRA_DIR REPO_ROOT CACHE_DIR RUN_DIR NODE_VERSION NODE_HOME PATH

log() { printf '[%s] %s\n' "$INFRA_NAME" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$INFRA_NAME" "$*" >&2; }
die() {
  printf '[%s] ERROR: %s\n' "$INFRA_NAME" "$*" >&2
  exit 1
}

# select_services ORDER... -- NAMES: fills the array `services` with the NAMES given (every one of
# ORDER when none is), refusing a name that is not in ORDER. up and down walk ORDER in opposite directions.
select_services() {
  local known=() name
  while (($#)) && [[ $1 != -- ]]; do
    known+=("$1")
    shift
  done
  shift
  services=("$@")
  ((${#services[@]})) || services=("${known[@]}")
  for name in "${services[@]}"; do
    [[ -x "$INFRA_DIR/$name.sh" && " ${known[*]} " == *" $name "* ]] ||
      die "unknown service '$name' (known: ${known[*]})"
  done
}

# usage "install|start|stop|status" -- print usage and exit 2
usage() {
  printf 'usage: %s {%s}\n' "$(basename "$0")" "$1" >&2
  exit 2
}

ensure_dir() { mkdir -p "$@"; }

# Print the last lines of a log file to stderr (for failure reports), only
# from the latest start marker written by start_bg when there is one.
tail_log() {
  local file="$1" lines="${2:-25}" from
  if [[ -s "$file" ]]; then
    from="$(grep -n '^===== .* starting: ' "$file" | tail -n 1 | cut -d: -f1 || true)"
    printf -- '----- last lines of %s -----\n' "$file" >&2
    tail -n "+${from:-1}" "$file" | tail -n "$lines" >&2 || true
    printf -- '-----\n' >&2
  fi
}

# port_open PORT [HOST] -- true if a TCP connection succeeds.
port_open() {
  local port="$1" host="${2:-$INFRA_HOST}"
  # shellcheck disable=SC2016 # expanded by the inner bash, on purpose
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}

# http_ok URL -- true if the URL answers with a 2xx status.
http_ok() { curl -fsS -o /dev/null --max-time 3 "$1" 2>/dev/null; }

# http_any URL -- true if the server answers HTTP at all (any status).
http_any() {
  local code
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "$1" 2>/dev/null)" || true
  [[ -n "$code" && "$code" != "000" ]]
}

# ensure_port_free PORT WHAT -- fail early if something else already listens.
ensure_port_free() {
  local port="$1" what="$2"
  if port_open "$port"; then
    die "port $port (needed by $what) is already in use by another process; stop it or pick another port"
  fi
}

# read_pid PIDFILE -- print the pid stored in the file (empty if none).
read_pid() {
  local file="$1"
  [[ -f "$file" ]] || return 0
  tr -dc '0-9' <"$file"
}

# pid_alive PID [CMDLINE_SUBSTRING] -- true if the process exists (and its
# command line contains the substring, which guards against pid reuse).
pid_alive() {
  local pid="$1" match="${2:-}"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -n "$match" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$match" || return 1
  fi
  return 0
}

# proc_started PID -- the process's start time in clock ticks since boot (field 22 of /proc/PID/stat;
# the command name before it may hold spaces, so fields are counted after its closing parenthesis).
# Fails for a zombie: it has exited, only its parent has not reaped it yet.
proc_started() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat
  [[ "$1" != Z ]] || return 1
  printf '%s\n' "${20}"
}

# pidfile_alive PIDFILE [CMDLINE_SUBSTRING] -- true if the process the file names still runs. A pid
# recorded by start_bg is checked by its start time, which no reused pid shares, so a server started
# from another checkout or cache dir (another command line) is still recognised and can be stopped;
# a pid file without that record falls back to the command line check.
pidfile_alive() {
  local pid started
  pid="$(read_pid "$1")"
  if [[ -f "$1.started" ]]; then
    started="$(cat "$1.started")"
    [[ -n "$pid" && -n "$started" && "$(proc_started "$pid" || true)" == "$started" ]]
  else
    pid_alive "$pid" "${2:-}"
  fi
}

# start_bg PIDFILE LOGFILE CMD... -- start CMD detached (own session, no
# stdin, stdout/stderr appended to LOGFILE) and record its pid.
start_bg() {
  local pidfile="$1" logfile="$2"
  shift 2
  ensure_dir "$(dirname "$pidfile")" "$(dirname "$logfile")"
  printf '\n===== %s starting: %s =====\n' "$(date -Is)" "$*" >>"$logfile"
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  echo "$!" >"$pidfile"
  proc_started "$!" >"$pidfile.started" || rm -f "$pidfile.started"
}

# stop_pidfile PIDFILE WHAT [CMDLINE_SUBSTRING] -- SIGTERM, wait, SIGKILL.
stop_pidfile() {
  local pidfile="$1" what="$2" match="${3:-}" pid i
  pid="$(read_pid "$pidfile")"
  if ! pidfile_alive "$pidfile" "$match"; then
    rm -f "$pidfile" "$pidfile.started"
    log "$what is not running"
    return 0
  fi
  log "stopping $what (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < INFRA_STOP_TIMEOUT * 5; i++)); do
    pidfile_alive "$pidfile" "$match" || break
    sleep 0.2
  done
  if pidfile_alive "$pidfile" "$match"; then
    warn "$what did not exit after ${INFRA_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile" "$pidfile.started"
  log "$what stopped"
}

# wait_until WHAT LOGFILE PIDFILE MATCH CHECK_CMD... -- poll CHECK_CMD until it
# succeeds; fail (pointing at LOGFILE) if the process dies or on timeout.
# PIDFILE/MATCH may be empty to skip the liveness check.
wait_until() {
  local what="$1" logfile="$2" pidfile="$3" match="$4"
  shift 4
  local deadline=$((SECONDS + INFRA_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if "$@"; then
      return 0
    fi
    if [[ -n "$pidfile" ]] && ! pidfile_alive "$pidfile" "$match"; then
      tail_log "$logfile"
      die "$what exited during startup; see $logfile"
    fi
    sleep 0.5
  done
  tail_log "$logfile"
  local hint=""
  if [[ -n "$pidfile" ]] && pidfile_alive "$pidfile" "$match"; then
    hint=" (process $(read_pid "$pidfile") still running: run 'stop' or 'start' again)"
  fi
  die "$what did not become ready within ${INFRA_START_TIMEOUT}s$hint; see $logfile"
}

# guard_port WHAT PORTFILE PORT -- for an instance that is already running:
# die if it was started on another port than the one requested now.
guard_port() {
  local what="$1" file="$2" port="$3" old
  old="$(cat "$file" 2>/dev/null || true)"
  if [[ -n "$old" && "$old" != "$port" ]]; then
    die "$what is already running on port $old (requested $port); run stop first to change ports"
  fi
}

# apt_install PKG... -- apt-get update (once per run) + install, noninteractive.
APT_UPDATED=0
apt_install() {
  [[ "$(id -u)" -eq 0 ]] || die "need root to apt-get install $*"
  if [[ "$APT_UPDATED" -eq 0 ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# dispatch install|start|stop|status|restart to functions do_<cmd>.
dispatch() {
  local cmd="${1:-}"
  case "$cmd" in
    install | start | stop | status) "do_$cmd" ;;
    restart)
      do_stop
      do_start
      ;;
    *) usage "install|start|stop|restart|status" ;;
  esac
}
