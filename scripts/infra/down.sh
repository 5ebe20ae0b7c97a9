#!/usr/bin/env bash
# Stop local infrastructure (data is kept in .run/); idempotent.
#   scripts/infra/down.sh [postgres] [kafka] [sqs] [prometheus] [redis] [zipkin]   (default: all)
set -euo pipefail
INFRA_NAME=down
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

services=()
select_services zipkin redis prometheus sqs kafka postgres -- "$@"

failed=()
for s in "${services[@]}"; do
  "$INFRA_DIR/$s.sh" stop || failed+=("$s")
done
((${#failed[@]} == 0)) || die "failed to stop: ${failed[*]}"
log "down: ${services[*]}"
