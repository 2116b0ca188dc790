#!/bin/busybox sh
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Kernel matrix guest /init: runs the agent's tests inside a freshly booted kernel and sends each
# result back over the serial console as "KMATRIX-BEGIN <step> <exit code>", the step's output
# gzipped and base64-encoded, "KMATRIX-END <step>". Steps (kernel command line kmatrix.*):
#   check        antimetal-agent check --format json
#   execsnoop    collect --collectors execsnoop while a burst of kmatrix.burst execs with known
#                arguments (and one exec of a missing file) runs
#   collect      antimetal-agent collect (the point collectors)
#   nobtf-check, nobtf-execsnoop   the same with /sys/kernel/btf hidden (kernel without BTF)
#   programs     collect --collectors tcpflow,oomkill,procexit (one agent start, all three
#                programs attached) while a loopback nc exchange of 7 bytes each way, 5 runs of
#                /bin/true and one OOM kill in a 16 MiB memory cgroup happen; then SIGINT
# tracefs is deliberately not mounted: the agent mounts it itself, as on a bare host.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t tmpfs tmpfs /tmp
# What systemd provides on every host the agent runs on (the cgroup collectors read it).
/bin/busybox mount -t cgroup2 cgroup2 /sys/fs/cgroup
/bin/busybox --install -s /bin
export PATH=/bin:/sbin HOME=/tmp
echo 1 > /proc/sys/kernel/printk # keep kernel messages off the console the results travel on

param() { sed -n "s/.*kmatrix\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
BURST="$(param burst)"; BURST="${BURST:-200}"
DURATION="$(param duration)"; DURATION="${DURATION:-6s}"
STEPS="$(param steps | tr , ' ')"; STEPS="${STEPS:-check execsnoop collect nobtf}"
AGENT=/agent/antimetal-agent
NONCE="$(cat /proc/sys/kernel/random/uuid | cut -c1-8)"

emit() { # step exit-code file
  echo "KMATRIX-BEGIN $1 $2"
  gzip -c "$3" | base64
  echo "KMATRIX-END $1"
}

# Waits until the agent (pid $1) holds its tracepoint attachments ($2, default 2): one perf event fd per program.
wait_attached() {
  i=0
  while [ $i -lt 1200 ]; do
    kill -0 "$1" 2>/dev/null || return 1
    n="$(ls -l /proc/$1/fd 2>/dev/null | grep -c 'perf_event')"
    [ "$n" -ge "${2:-2}" ] && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

# The burst: BURST execs of /bin/true with known arguments, then one exec of a missing file (ENOENT).
burst() {
  i=1
  while [ $i -le "$BURST" ]; do
    /bin/true kmatrix-burst "$NONCE" "$i"
    i=$((i + 1))
  done
  /kmatrix-missing kmatrix-fail "$NONCE" 2>/dev/null
  return 0
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

run_execsnoop() { # step-name
  t_start="$(uptime_s)"
  "$AGENT" collect --collectors execsnoop --duration "$DURATION" > /tmp/$1.out 2> /tmp/$1.err &
  pid=$!
  attached=no
  t_attached=0; t_burst=0
  if wait_attached $pid; then
    attached=yes
    t_attached="$(uptime_s)"
    sleep 0.2
    burst
    t_burst="$(uptime_s)"
  fi
  wait $pid; rc=$?
  t_end="$(uptime_s)"
  # Guest uptime (s) when the agent started, held both attachments, the burst ended, the agent exited.
  times="\"duration\":\"$DURATION\",\"start_s\":$t_start,\"attached_s\":$t_attached,\"burst_done_s\":$t_burst,\"exited_s\":$t_end"
  { echo "{\"nonce\":\"$NONCE\",\"burst\":$BURST,\"attached_before_burst\":\"$attached\",$times}"; cat /tmp/$1.out; } > /tmp/$1.res
  emit "$1-stderr" 0 /tmp/$1.err
  emit "$1" $rc /tmp/$1.res
}

# tcpflow, oomkill and procexit at once: 9 tracepoints (5 + 2 + 2), each program given something to see.
# tcpflow attaches its three raw tracepoints (bpf_links, not perf events) first, so 6 perf events = all nine.
run_programs() {
  "$AGENT" collect --collectors tcpflow,oomkill,procexit --duration 300s > /tmp/programs.out 2> /tmp/programs.err &
  pid=$!
  attached=no; echoed=0; procs=""; oompid=0; oomrc=0
  if wait_attached $pid 6; then
    attached=yes
    sleep 0.2
    # tcpflow: the client sends 7 bytes and half-closes, the server (cat) echoes them and closes.
    ifconfig lo 127.0.0.1 up
    nc -l -p 7777 -e /bin/cat > /dev/null 2>&1 &
    t=0
    while [ $t -lt 20 ]; do
      printf kmatrix | nc 127.0.0.1 7777 > /tmp/nc.got 2>/dev/null && [ -s /tmp/nc.got ] && break
      sleep 0.2; t=$((t + 1))
    done
    echoed="$(wc -c < /tmp/nc.got)"
    # procexit: known pids exec and exit.
    i=1
    while [ $i -le 5 ]; do
      /bin/true kmatrix-proc & procs="$procs${procs:+,}$!"; wait $!
      i=$((i + 1))
    done
    # oomkill: a shell doubling a string in a 16 MiB memory cgroup (cgroup v2) is killed.
    echo +memory > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
    mkdir -p /sys/fs/cgroup/kmatrix-oom
    echo 16M > /sys/fs/cgroup/kmatrix-oom/memory.max
    echo 0 > /sys/fs/cgroup/kmatrix-oom/memory.swap.max 2>/dev/null
    sh -c 'echo $$ > /sys/fs/cgroup/kmatrix-oom/cgroup.procs && x=kmatrix && while :; do x="$x$x"; done' &
    oompid=$!
    wait $oompid; oomrc=$?
    sleep 1 # the records reach the reader (it polls every 100 ms)
    kill -INT $pid
  fi
  wait $pid; rc=$?
  echo "{\"attached\":\"$attached\",\"port\":7777,\"sent\":7,\"echoed\":$echoed,\"procs\":[$procs],\"oom_pid\":$oompid,\"oom_status\":$oomrc}" > /tmp/programs.res
  cat /tmp/programs.out >> /tmp/programs.res
  emit programs-stderr 0 /tmp/programs.err
  emit programs $rc /tmp/programs.res
}

echo "KMATRIX-BOOTED $(uname -r) $(uname -m)"
for step in $STEPS; do
  case "$step" in
    check)
      "$AGENT" check --format json > /tmp/check.out 2> /tmp/check.err; rc=$?
      emit check-stderr 0 /tmp/check.err; emit check $rc /tmp/check.out ;;
    execsnoop) run_execsnoop execsnoop ;;
    programs) run_programs ;;
    collect)
      "$AGENT" collect > /tmp/collect.out 2> /tmp/collect.err; rc=$?
      emit collect-stderr 0 /tmp/collect.err; emit collect $rc /tmp/collect.out ;;
    nobtf)
      # A kernel without CONFIG_DEBUG_INFO_BTF has no /sys/kernel/btf/vmlinux; hide it the same way.
      mount -t tmpfs -o ro,size=4k nobtf /sys/kernel/btf
      "$AGENT" check --format json > /tmp/nobtf-check.out 2> /tmp/nobtf-check.err; rc=$?
      emit nobtf-check-stderr 0 /tmp/nobtf-check.err; emit nobtf-check $rc /tmp/nobtf-check.out
      "$AGENT" collect --collectors execsnoop --duration 1s > /tmp/nobtf-execsnoop.out 2> /tmp/nobtf-execsnoop.err; rc=$?
      cat /tmp/nobtf-execsnoop.err >> /tmp/nobtf-execsnoop.out
      emit nobtf-execsnoop $rc /tmp/nobtf-execsnoop.out
      umount /sys/kernel/btf ;;
    *) echo "unknown step $step" > /tmp/unknown; emit "$step" 127 /tmp/unknown ;;
  esac
done
echo "KMATRIX-DONE"
sync
poweroff -f
