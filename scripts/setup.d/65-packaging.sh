#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Packaging tools (issue 21): helm (chart lint/template/package) and nfpm (deb and rpm), built
# from their published Go modules at pinned versions into /var/cache/antimetal-dev/bin. `go install`
# builds report "(devel)", so a stamp file per tool records the version there. Idempotent: a no-op
# when both are built at the pinned versions.
set -euo pipefail
CACHE=/var/cache/antimetal-dev
HELM_VERSION=v3.22.0
NFPM_VERSION=v2.48.0
mkdir -p "$CACHE/bin"

build() { # name, module path, version
  local name="$1" module="$2" version="$3" stamp="$CACHE/bin/.$1-version"
  if [[ -x "$CACHE/bin/$name" && "$(cat "$stamp" 2>/dev/null)" == "$version" ]]; then
    echo "$name $version at $CACHE/bin/$name"; return 0
  fi
  export PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || { echo "65-packaging: go not found (needed to build $name)" >&2; exit 1; }
  echo "65-packaging: building $name $version (cached afterwards)"
  (cd /tmp && GOBIN="$CACHE/bin" GOPATH="$CACHE/go" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 \
    go install -trimpath -ldflags=-s "$module@$version")
  echo "$version" > "$stamp"
  echo "$name $version at $CACHE/bin/$name"
}
build helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
build nfpm github.com/goreleaser/nfpm/v2/cmd/nfpm "$NFPM_VERSION"
