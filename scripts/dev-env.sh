#!/usr/bin/env bash
# Runs a command with scripts/dev.env's settings as defaults: a variable already set in the
# environment wins, so tests and users can point `make start` at other ports, databases or a
# namespace without editing the file.
#   scripts/dev-env.sh CMD [ARG...]
# Sourced (by services.sh), it only defines load_dev_env.
load_dev_env() {
  local file key value
  file="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/dev.env"
  while IFS='=' read -r key value; do
    [[ "$key" =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
    [[ -n "${!key+set}" ]] || export "$key=$value"
  done <"$file"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  load_dev_env
  exec "$@"
fi
