#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# The compiled agent (dist/antimetal-agent, dist/antimetal-agent-arm64), built last because it
# embeds the eBPF objects and native libraries the earlier steps produce.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$ROOT/node_modules/.bin/bun" "$ROOT/scripts/build.ts"
