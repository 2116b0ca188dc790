#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Runs one benchmark: bash bench/run.sh <startup|collectors|ebpf|store|intake|kube|scrape-load|otlp> [args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
name="${1:?usage: bench/run.sh <name> [args]}"; shift
exec node_modules/.bin/bun "bench/$name/run.ts" "$@"
