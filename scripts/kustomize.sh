#!/usr/bin/env bash
# kustomize, pinned, built once from its Go module into a cache folder, then run with the
# given arguments:  scripts/kustomize.sh build k8s/overlays/dev
# Needs Go (the module proxy); no Go: `kubectl kustomize` where kubectl is installed.
set -euo pipefail
VERSION="${KUSTOMIZE_VERSION:-v5.5.0}"
DIR="${FLOWSENSE_TOOLS_DIR:-$HOME/.cache/flowsense/tools}/kustomize-$VERSION"
if [[ ! -x "$DIR/kustomize" ]]; then
  if command -v go >/dev/null 2>&1; then
    echo "kustomize: building $VERSION into $DIR (once)" >&2
    mkdir -p "$DIR"
    GOBIN="$DIR" GOFLAGS=-mod=mod nice -n 19 go install "sigs.k8s.io/kustomize/kustomize/v5@$VERSION" >&2
  elif command -v kubectl >/dev/null 2>&1 && [[ "${1:-}" == build ]]; then
    shift
    exec kubectl kustomize "$@"
  else
    echo "kustomize: needs Go (to build it) or kubectl" >&2
    exit 2
  fi
fi
exec "$DIR/kustomize" "$@"
