#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# OpenTelemetry Collector for test/otlp (OTLP receiver over gRPC and HTTP, file exporter), built with
# the collector builder from the published Go modules and cached under /var/cache/antimetal-dev/otelcol.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../otelcol/build.sh"
