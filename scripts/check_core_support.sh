#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Shell equivalent of `antimetal-agent check` for people without the binary: kernel version, BTF,
# ring buffer, CO-RE level, effective capabilities, and whether execsnoop can run here.
# Informational only: always exits 0.
set -u

say() { printf '%-16s %s\n' "$1" "$2"; }

# version_ge A B: true when A >= B (major.minor[.patch], numeric).
version_ge() {
  local IFS=.
  local -a a=($1) b=($2)
  local i
  for i in 0 1 2; do
    local x=${a[i]:-0} y=${b[i]:-0}
    x=${x%%[!0-9]*}; y=${y%%[!0-9]*}
    x=${x:-0}; y=${y:-0}
    if ((10#$x > 10#$y)); then return 0; fi
    if ((10#$x < 10#$y)); then return 1; fi
  done
  return 0
}

release="$(uname -r)"
kver="${release%%-*}"
say "kernel:" "$kver ($release)"

btf=no
if [[ -r /sys/kernel/btf/vmlinux ]]; then btf=yes; fi
say "btf:" "$btf (/sys/kernel/btf/vmlinux)"

if version_ge "$kver" 5.8; then ringbuf="yes (kernel >= 5.8)"; else ringbuf="no (kernel < 5.8)"; fi
say "ring buffer:" "$ringbuf"

if version_ge "$kver" 5.2 && [[ $btf == yes ]]; then core="full"
elif version_ge "$kver" 5.2; then core="partial (enable CONFIG_DEBUG_INFO_BTF=y)"
elif version_ge "$kver" 4.18; then core="partial (no kernel BTF: use an external BTF file, e.g. from btfhub; pahole generates it)"
else core="none"; fi
say "co-re:" "$core"

capeff="$(awk '/^CapEff:/ {print $2}' /proc/self/status 2>/dev/null)"
capeff="${capeff:-0}"
has_cap() { (( (16#$capeff >> $1) & 1 )); }
caps=""
for pair in CAP_BPF:39 CAP_PERFMON:38 CAP_SYS_ADMIN:21 CAP_SYSLOG:34; do
  name=${pair%%:*}; bit=${pair##*:}
  if has_cap "$bit"; then caps+="$name=yes "; else caps+="$name=no "; fi
done
say "capabilities:" "CapEff=0x$capeff $caps"

if command -v bpftool >/dev/null 2>&1; then
  bv="$(bpftool version 2>/dev/null | head -1)"
  if [[ $btf == yes ]] && bpftool btf dump file /sys/kernel/btf/vmlinux format raw >/dev/null 2>&1; then bd="btf dump works"; else bd="btf dump fails"; fi
  say "bpftool:" "$bv; $bd"
else
  say "bpftool:" "not installed"
fi
if command -v pahole >/dev/null 2>&1; then say "pahole:" "$(pahole --version 2>/dev/null)"; else say "pahole:" "not installed"; fi
if command -v clang >/dev/null 2>&1; then
  cv="$(clang --version 2>/dev/null | head -1)"
  tmp="$(mktemp -d)"
  echo 'int x;' > "$tmp/e.c"
  if clang -target bpf -c "$tmp/e.c" -o "$tmp/e.o" >/dev/null 2>&1; then ct="-target bpf works"; else ct="-target bpf fails"; fi
  rm -rf "$tmp"
  say "clang:" "$cv; $ct"
else
  say "clang:" "not installed (only needed to build the programs)"
fi

# execsnoop: CAP_BPF+CAP_PERFMON on >= 5.8 (else CAP_SYS_ADMIN), kernel >= 5.8, BTF.
reasons=()
if version_ge "$kver" 5.8; then
  has_cap 39 || reasons+=("missing capability: CAP_BPF")
  has_cap 38 || reasons+=("missing capability: CAP_PERFMON")
else
  has_cap 21 || reasons+=("missing capability: CAP_SYS_ADMIN")
  reasons+=("kernel $kver is older than 5.8 (BPF ring buffer)")
fi
[[ $btf == yes ]] || reasons+=("kernel BTF missing")
if ((${#reasons[@]} == 0)); then
  say "execsnoop:" "available"
else
  joined="$(printf '%s; ' "${reasons[@]}")"
  say "execsnoop:" "unavailable: ${joined%; }"
fi
exit 0
