#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Kernel matrix (issue 20): the Debian kernels of several releases (amd64 and arm64), busybox and
# glibc for the guests, fetched through a private apt state and cached under
# /var/cache/antimetal-dev/kernel-matrix. A no-op when the cache is complete. The initramfs is
# built by the runner (scripts/kernel-matrix/run.ts), since it holds the compiled agent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../kernel-matrix/fetch.sh"
