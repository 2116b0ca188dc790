#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# What --release-startup-pages costs and saves on an idle standalone agent: two copies of one build
# (separate files, so no page is shared), the release on in one and off in the other, started
# together after drop_caches; major faults, CPU ticks (1/100 s), RSS and resident file pages at 10 s,
# 60 s and SECONDS. Needs root (drop_caches). Usage: bash bench/startup/release-cost.sh [BINARY] [SECONDS]
set -euo pipefail
binary=${1:-dist/antimetal-agent}
secs=${2:-300}
tmp=$(mktemp -d)
trap 'kill $on $off 2>/dev/null || true; rm -rf "$tmp"' EXIT
cp "$binary" "$tmp/agent-on"
cp "$binary" "$tmp/agent-off"
sync
echo 3 >/proc/sys/vm/drop_caches
start() {
  "$1" run --intake-address "" --enable-kubernetes-controller=false --data-directory "" \
    --health-probe-bind-address "127.0.0.1:0" --metrics-bind-address 0 --log-level warn \
    --release-startup-pages="$2" >/dev/null 2>&1 &
  echo $!
}
on=$(start "$tmp/agent-on" true)
off=$(start "$tmp/agent-off" false)
sample() {
  # /proc/<pid>/stat fields 12 (majflt), 14 (utime), 15 (stime); the comm field has no spaces here
  read -r -a f <"/proc/$1/stat"
  echo "majflt=${f[11]} cpu_ticks=$((f[13] + f[14])) rss_kib=$(awk '/VmRSS/{print $2}' "/proc/$1/status") file_kib=$(awk '/RssFile/{print $2}' "/proc/$1/status")"
}
prev=0
for t in 10 60 "$secs"; do
  sleep $((t - prev))
  prev=$t
  echo "t=$t release on:  $(sample "$on")"
  echo "t=$t release off: $(sample "$off")"
done
