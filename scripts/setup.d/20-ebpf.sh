#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# eBPF: build the CO-RE objects (x64 + arm64), stage libz/libelf/libbpf per arch for embedding
# (arm64 ones extracted from Debian's arm64 .debs, cached in /var/cache/antimetal-dev/ebpf), and
# make sure tracefs is mounted for tracepoint attachment. Idempotent. (That the generated
# TypeScript decoders match the C headers is checked by test/ebpf/gen-types.test.ts.)
# With ANTIMETAL_SETUP_RUN_ONLY=1 (npm start) the arm64 libraries are not fetched.
# needed-to-run
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ "${ANTIMETAL_SETUP_RUN_ONLY:-0}" == 1 ]]; then
  bash "$ROOT/scripts/build-ebpf.sh" --no-arm64-libs
else
  bash "$ROOT/scripts/build-ebpf.sh"
fi
if [[ ! -d /sys/kernel/tracing/events && $(id -u) == 0 ]]; then
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
