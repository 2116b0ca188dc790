#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Deployment tooling (issue 9): kustomize from the Go module proxy, the arm64 dpkg architecture
# (arm64 .debs for the image root) and the image's Debian packages, cached under
# /var/cache/antimetal-dev. Idempotent: every step is skipped when its result exists.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE=/var/cache/antimetal-dev
KUSTOMIZE_VERSION=v5.6.0
mkdir -p "$CACHE/bin"

# kustomize, built from the published module (the same version the original agent pinned).
# `go install` builds report "(devel)" as their version, so a stamp file records which one is there.
STAMP="$CACHE/bin/.kustomize-version"
if [[ ! -x "$CACHE/bin/kustomize" || "$(cat "$STAMP" 2>/dev/null)" != "$KUSTOMIZE_VERSION" ]]; then
  export PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || { echo "60-deploy: go not found (needed to build kustomize)" >&2; exit 1; }
  (cd /tmp && GOBIN="$CACHE/bin" GOPATH="$CACHE/go" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 \
    go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}")
  echo "$KUSTOMIZE_VERSION" > "$STAMP"
fi
echo "kustomize $KUSTOMIZE_VERSION at $CACHE/bin/kustomize"

# kubectl, built from the published k8s.io/kubectl module (same minor as the test kube-apiserver),
# for test/deploy/kubectl-guide.test.ts, which runs the install guide's kubectl commands.
KUBECTL_VERSION=v0.37.2
KUBECTL_DIR="$CACHE/kubectl"
if [[ ! -x "$KUBECTL_DIR/kubectl" || "$(cat "$KUBECTL_DIR/.version" 2>/dev/null)" != "$KUBECTL_VERSION" ]]; then
  export PATH="$PATH:/usr/local/go/bin"
  mkdir -p "$KUBECTL_DIR/src"
  cat > "$KUBECTL_DIR/src/go.mod" <<'MOD'
module antimetal.dev/kubectl-build

go 1.26
MOD
  cat > "$KUBECTL_DIR/src/main.go" <<'GO'
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
GO
  (cd "$KUBECTL_DIR/src" && export GOPATH="$CACHE/go" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 \
    && go get "k8s.io/kubectl@$KUBECTL_VERSION" "k8s.io/component-base@$KUBECTL_VERSION" \
    && go build -trimpath -ldflags=-s -o "$KUBECTL_DIR/kubectl.tmp" . \
    && mv "$KUBECTL_DIR/kubectl.tmp" "$KUBECTL_DIR/kubectl")
  echo "$KUBECTL_VERSION" > "$KUBECTL_DIR/.version"
fi
echo "kubectl $KUBECTL_VERSION at $KUBECTL_DIR/kubectl"

# The SPDX validator (spdx-tools, PyPI) that test/deploy/release.test.ts runs on the SBOM.
SPDX_TOOLS_VERSION=0.8.5
VENV="$CACHE/spdx-venv"
if ! "$VENV/bin/pip" show spdx-tools 2>/dev/null | grep -qx "Version: $SPDX_TOOLS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "spdx-tools==$SPDX_TOOLS_VERSION"
fi
echo "spdx-tools $SPDX_TOOLS_VERSION at $VENV/bin/pyspdxtools"

# A minimal Debian 12 with systemd, booted by systemd-nspawn in test/deploy/systemd-boot.test.ts so
# the unit runs under a real systemd (CI machines do not boot systemd as PID 1).
SYSTEMD_ROOT="$CACHE/systemd-root"
SYSTEMD_ROOT_PACKAGES=systemd,systemd-sysv,dbus,libnss-systemd,curl,ca-certificates
if [[ "$(cat "$SYSTEMD_ROOT/.antimetal-stamp" 2>/dev/null)" != "$SYSTEMD_ROOT_PACKAGES" ]]; then
  rm -rf "$SYSTEMD_ROOT.tmp"
  # The Debian mirror this machine's apt uses (debootstrap's own default otherwise).
  mirror="$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)"
  [[ -n "$mirror" ]] || mirror="$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)"
  debootstrap --variant=minbase --include="$SYSTEMD_ROOT_PACKAGES" bookworm "$SYSTEMD_ROOT.tmp" $mirror >/dev/null
  rm -rf "$SYSTEMD_ROOT"
  mv "$SYSTEMD_ROOT.tmp" "$SYSTEMD_ROOT"
  echo "$SYSTEMD_ROOT_PACKAGES" > "$SYSTEMD_ROOT/.antimetal-stamp"
fi
echo "systemd root at $SYSTEMD_ROOT"

# arm64 .debs for the arm64 image root.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -qq
fi
if ! apt-cache show libc6:arm64 >/dev/null 2>&1; then apt-get update -qq; fi

# Pre-fetch the image packages for both architectures (scripts/image/build.ts reuses them).
BUN="$ROOT/node_modules/.bin/bun"
if [[ -x "$BUN" ]]; then
  (cd "$ROOT" && "$BUN" -e 'const { fetchDebs } = await import("./scripts/image/build.ts"); for (const a of ["amd64", "arm64"]) console.log(a, fetchDebs(a).length, "image packages cached");')
fi
