#!/usr/bin/env bash
# Debian's Chromium, the browser the console's tests drive (Playwright, headless). Not a server:
# only `install` and `status`; the tests start and stop their own browser.
#   scripts/infra/chromium.sh {install|status}
set -euo pipefail
INFRA_NAME=chromium
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHROMIUM_BIN=/usr/bin/chromium

do_install() {
  if [[ -x "$CHROMIUM_BIN" ]]; then
    log "already installed ($("$CHROMIUM_BIN" --version 2>/dev/null | head -n 1))"
    return 0
  fi
  # fonts-liberation: metric-compatible fonts, so screenshots lay text out as on a desktop.
  apt_install chromium fonts-liberation
  [[ -x "$CHROMIUM_BIN" ]] || die "$CHROMIUM_BIN missing after apt-get install chromium"
  log "installed $("$CHROMIUM_BIN" --version 2>/dev/null | head -n 1)"
}

do_status() {
  if [[ -x "$CHROMIUM_BIN" ]]; then
    log "installed: $("$CHROMIUM_BIN" --version 2>/dev/null | head -n 1)"
    return 0
  fi
  log "not installed"
  return 3
}

case "${1:-}" in
  install | status) "do_$1" ;;
  *) usage "install|status" ;;
esac
