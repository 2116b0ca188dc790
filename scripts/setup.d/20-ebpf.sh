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
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/scripts/build-ebpf.sh"
if [[ ! -d /sys/kernel/tracing/events && $(id -u) == 0 ]]; then
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
