#!/usr/bin/env bash
# Install (cached) and start local infrastructure; idempotent.
#   scripts/infra/up.sh [postgres] [kafka] [sqs] [prometheus] [redis] [zipkin]   (default: all)
set -euo pipefail
INFRA_NAME=up
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

services=()
select_services postgres kafka sqs prometheus redis zipkin -- "$@"

started=$SECONDS
for s in "${services[@]}"; do
  "$INFRA_DIR/$s.sh" install
  "$INFRA_DIR/$s.sh" start
done
log "up in $((SECONDS - started))s: ${services[*]}"
