#!/usr/bin/env bash
# `make down`: deletes the kind cluster of `make up` and everything in it. Safe when it is gone.
set -euo pipefail
CLUSTER=conveyor
command -v kind >/dev/null || { echo "[down] kind is not installed: nothing to remove" >&2; exit 0; }
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  echo "[down] no kind cluster named $CLUSTER"
fi
