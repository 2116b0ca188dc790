#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Builds an OpenTelemetry Collector for test/otlp with the collector builder
# (go.opentelemetry.io/collector/cmd/builder) from the published Go modules: the OTLP receiver (gRPC
# and HTTP), the file exporter and the bearer-token auth extension (to check headers), nothing else. Cached under /var/cache/antimetal-dev/otelcol/<version>;
# a second run with the same pins is a no-op.
set -euo pipefail

OTELCOL_VERSION="${OTELCOL_VERSION:-0.161.0}"
CACHE_ROOT="${ANTIMETAL_OTELCOL_CACHE:-/var/cache/antimetal-dev/otelcol}"
# the component set is part of the cache key: a new set builds anew
DIR="$CACHE_ROOT/$OTELCOL_VERSION-otlp-file-bearer"
BIN="$DIR/bin"

if [[ -x "$BIN/otelcol" && -f "$BIN/.complete" ]]; then
  echo "otelcol: cached $BIN/otelcol"
  exit 0
fi

export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "otelcol: go (>= 1.24) not found; needed to build the test collector" >&2; exit 1; }
mkdir -p "$BIN" "$DIR/src"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

if [[ ! -x "$DIR/tools/builder" ]]; then
  GOBIN="$DIR/tools" go install "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
fi

cat > "$DIR/builder.yaml" <<YAML
dist:
  name: otelcol
  description: antimetal-agent test collector (OTLP receiver, file exporter, bearer token auth)
  output_path: $DIR/src
  version: $OTELCOL_VERSION
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver v$OTELCOL_VERSION
exporters:
  - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter v$OTELCOL_VERSION
extensions:
  - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension v$OTELCOL_VERSION
YAML

"$DIR/tools/builder" --config "$DIR/builder.yaml" --skip-compilation
cd "$DIR/src"
go build -trimpath -ldflags=-s -o "$BIN/otelcol.tmp" .
mv "$BIN/otelcol.tmp" "$BIN/otelcol"
touch "$BIN/.complete"
ln -sfn "$DIR" "$CACHE_ROOT/current"
echo "otelcol: built $BIN/otelcol"
