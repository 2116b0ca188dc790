#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Builds kube-apiserver and etcd from the published Go modules at pinned versions and caches them
# under /var/cache/antimetal-dev/kube/<version>/bin. Idempotent: a second run with the same pins is a
# no-op. k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces every staging module with a
# local path), so a throwaway module pins each staging module to the published v0.<minor>.<patch>.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
CACHE_ROOT="${ANTIMETAL_KUBE_CACHE:-/var/cache/antimetal-dev/kube}"
DIR="$CACHE_ROOT/$KUBE_VERSION-etcd-$ETCD_VERSION"
BIN="$DIR/bin"

if [[ -x "$BIN/kube-apiserver" && -x "$BIN/etcd" && -f "$BIN/.complete" ]]; then
  echo "kube-testenv: cached $BIN"
  exit 0
fi

export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "kube-testenv: go (>= 1.26) not found; needed to build kube-apiserver and etcd" >&2; exit 1; }
mkdir -p "$BIN"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

staging_minor="v0.${KUBE_VERSION#v1.}"

# kube-apiserver
src="$DIR/src/kube"
mkdir -p "$src"
cd "$src"
if [[ ! -x "$BIN/kube-apiserver" ]]; then
  modfile="$(mktemp)"
  curl -fsSL "https://proxy.golang.org/k8s.io/kubernetes/@v/$KUBE_VERSION.mod" -o "$modfile" \
    || go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" >/dev/null
  {
    echo "module antimetal.dev/kube-testenv-build"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    grep -oP '^\tk8s\.io/\S+(?= => \./staging/)' "$modfile" | while read -r m; do
      # sample modules are not published; nothing kube-apiserver needs
      if [[ "$m" == k8s.io/sample-cli-plugin || "$m" == k8s.io/sample-controller ]]; then continue; fi
      echo "	$m => $m $staging_minor"
    done
    echo ")"
  } > go.mod
  rm -f "$modfile"
  cat > tools.go <<'GO'
//go:build tools

package tools
GO
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION"
  go build -trimpath -ldflags=-s -o "$BIN/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
fi

# etcd (Debian's 3.4 is older than what current kube-apiserver supports)
src="$DIR/src/etcd"
mkdir -p "$src"
cd "$src"
if [[ ! -x "$BIN/etcd" ]]; then
  cat > go.mod <<MOD
module antimetal.dev/etcd-testenv-build

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags=-s -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN/etcd.tmp" "$BIN/etcd"
fi

touch "$BIN/.complete"
ln -sfn "$DIR" "$CACHE_ROOT/current"
echo "kube-testenv: built $BIN"
