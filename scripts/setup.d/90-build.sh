#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# The compiled agent (dist/antimetal-agent, dist/antimetal-agent-arm64), built last because it
# embeds the eBPF objects and native libraries the earlier steps produce. With
# ANTIMETAL_SETUP_RUN_ONLY=1 (npm start) only the x64 binary that scripts/run-local.sh starts.
# needed-to-run
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ "${ANTIMETAL_SETUP_RUN_ONLY:-0}" == 1 ]]; then
  "$ROOT/node_modules/.bin/bun" "$ROOT/scripts/build.ts" --arch x64
else
  "$ROOT/node_modules/.bin/bun" "$ROOT/scripts/build.ts"
fi
