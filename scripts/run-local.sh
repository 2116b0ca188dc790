#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Runs the agent's main job on this host, standalone: installs and builds only what running needs
# (scripts/setup.sh --run-only: base tools, the eBPF build, npm packages, the x64 binary; none of
# the test toolchain), then
# starts the compiled agent with its store in ./.data, host collectors and the host graph on,
# upload and the cluster view off. Extra arguments go to `antimetal-agent run`
# (e.g. npm start -- --metrics-bind-address 127.0.0.1:9100).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --run-only
mkdir -p "$ROOT/.data"
exec "$ROOT/dist/antimetal-agent" run --data-directory "$ROOT/.data" --intake-address "" \
  --enable-performance-collectors --enable-kubernetes-controller=false --log-format text "$@"
