#!/usr/bin/env bash
# HashiCorp Vault, pinned, built once from its Go module (the Go module proxy) into a cache
# folder, then run with the given arguments:  scripts/vault.sh server -dev ...
# Vault is not packaged by Debian, and its module replaces its api/sdk modules with local
# folders that the module's download leaves out, so `go install vault@version` refuses it:
# download the module, drop those replace lines (the required api/sdk versions are then
# fetched like any dependency) and build it. The first build takes minutes.
set -euo pipefail
VERSION="${VAULT_VERSION:-v1.14.10}"
DIR="${FLOWSENSE_TOOLS_DIR:-$HOME/.cache/flowsense/tools}/vault-$VERSION"
if [[ ! -x "$DIR/vault" ]]; then
  command -v go >/dev/null 2>&1 || { echo "vault: needs Go to build it" >&2; exit 2; }
  echo "vault: building $VERSION into $DIR (once, several minutes)" >&2
  src="$(GOFLAGS=-mod=mod go mod download -json "github.com/hashicorp/vault@$VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  work="$(mktemp -d)"
  trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  mkdir -p "$DIR"
  (
    cd "$work"
    for m in $(go mod edit -json | python3 -c 'import json,sys; print(" ".join(r["Old"]["Path"] for r in json.load(sys.stdin).get("Replace") or [] if r["New"]["Path"].startswith(".")))'); do
      go mod edit -dropreplace "$m"
    done
    CGO_ENABLED=0 GOFLAGS=-mod=mod nice -n 19 go build -trimpath -o "$DIR/vault.partial" . >&2
  )
  mv "$DIR/vault.partial" "$DIR/vault"
fi
exec "$DIR/vault" "$@"
