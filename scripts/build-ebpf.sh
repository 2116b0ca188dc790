#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Builds the eBPF CO-RE objects and stages the shared libraries the compiled agent embeds.
#
#   ebpf/include/vmlinux.h                      from /sys/kernel/btf/vmlinux (bpftool btf dump)
#   ebpf/build/<arch>/<name>.bpf.o              for arch in x64 arm64 (clang -target bpf, CO-RE)
#   ebpf/build/lib/<arch>/{libz,libelf,libbpf}.so.1
#
# Every object is checked for a .BTF section, and loaded with `bpftool prog loadall` as a smoke
# test when run as root. The arm64 libraries come from Debian's arm64 packages (apt-get download,
# extracted with dpkg-deb, never installed); they are cached in /var/cache/antimetal-dev/ebpf.
# Usage: scripts/build-ebpf.sh [--no-arm64-libs] [--no-smoke]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EBPF="$ROOT/ebpf"
OUT="$EBPF/build"
CACHE="${ANTIMETAL_CACHE:-/var/cache/antimetal-dev}/ebpf"
ARM64_LIBS=1
SMOKE=1
for a in "$@"; do
  case "$a" in
    --no-arm64-libs) ARM64_LIBS=0 ;;
    --no-smoke) SMOKE=0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

CLANG="${CLANG:-clang}"
BPFTOOL="${BPFTOOL:-$(command -v bpftool || echo /usr/sbin/bpftool)}"
STRIP="${LLVM_STRIP:-$(command -v llvm-strip || true)}"

mkdir -p "$OUT/x64" "$OUT/arm64" "$OUT/lib/x64" "$OUT/lib/arm64"

# 1. vmlinux.h from the running kernel's BTF (regenerated when missing or older than a day).
VMLINUX_H="$EBPF/include/vmlinux.h"
if [[ ! -s "$VMLINUX_H" || -n "$(find "$VMLINUX_H" -mmin +1440 2>/dev/null)" ]]; then
  [[ -r /sys/kernel/btf/vmlinux ]] || { echo "build-ebpf: /sys/kernel/btf/vmlinux missing (kernel without CONFIG_DEBUG_INFO_BTF)" >&2; exit 1; }
  "$BPFTOOL" btf dump file /sys/kernel/btf/vmlinux format c > "$VMLINUX_H.tmp"
  mv "$VMLINUX_H.tmp" "$VMLINUX_H"
fi

# 2. Objects, one per target arch. The programs use tracepoints and CO-RE field reads only, so the
#    host's vmlinux.h serves both targets; __TARGET_ARCH_* selects bpf_tracing.h's register layout.
build_obj() {
  local src="$1" arch="$2" define="$3"
  local name; name="$(basename "$src" .bpf.c)"
  local out="$OUT/$arch/$name.bpf.o"
  "$CLANG" -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_"$define" -D__BPF_TRACING__ \
    -fno-stack-protector -I "$EBPF/include" -c "$src" -o "$out.tmp"
  # Drop DWARF, keep .BTF and .BTF.ext (CO-RE relocations live there).
  if [[ -n "$STRIP" ]]; then "$STRIP" -g "$out.tmp"; fi
  if ! readelf -S "$out.tmp" | grep -q ' \.BTF '; then echo "build-ebpf: $out has no .BTF section" >&2; exit 1; fi
  if ! readelf -S "$out.tmp" | grep -q ' \.BTF\.ext '; then echo "build-ebpf: $out has no .BTF.ext section (no CO-RE relocations)" >&2; exit 1; fi
  mv "$out.tmp" "$out"
  echo "build-ebpf: $out ($(stat -c %s "$out") bytes, BTF ok)"
}
for src in "$EBPF"/src/*.bpf.c; do
  build_obj "$src" x64 x86
  build_obj "$src" arm64 arm64
done

# 3. Smoke test: the kernel verifier accepts every x64 object (root only).
if [[ $SMOKE == 1 && $(id -u) == 0 && $(uname -m) == x86_64 ]]; then
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
  for obj in "$OUT"/x64/*.bpf.o; do
    pin="/sys/fs/bpf/antimetal_build_smoke_$$"
    if "$BPFTOOL" prog loadall "$obj" "$pin" >/dev/null 2>"$OUT/smoke.log"; then
      echo "build-ebpf: $(basename "$obj") loads ($(ls "$pin" | tr '\n' ' '))"
      rm -rf "$pin"
    else
      rm -rf "$pin"; cat "$OUT/smoke.log" >&2; echo "build-ebpf: $obj failed to load" >&2; exit 1
    fi
  done
fi

# 4. Shared libraries to embed: libz -> libelf -> libbpf, per arch.
copy_lib() { # $1 = real file, $2 = dest dir, $3 = soname
  install -m 0644 "$(readlink -f "$1")" "$2/$3"
}
find_lib() { # $1 = root, $2 = triplet, $3 = soname
  local f
  for d in "$1/lib/$2" "$1/usr/lib/$2"; do
    f="$d/$3"; if [[ -e "$f" ]]; then echo "$f"; return 0; fi
  done
  return 1
}
if [[ $(uname -m) == x86_64 ]]; then
  for so in libz.so.1 libelf.so.1 libbpf.so.1; do
    copy_lib "$(find_lib "" x86_64-linux-gnu "$so")" "$OUT/lib/x64" "$so"
  done
  echo "build-ebpf: staged x64 libraries from the host"
fi

if [[ $ARM64_LIBS == 1 ]]; then
  mkdir -p "$CACHE/arm64-debs" "$CACHE/arm64-root"
  if ! ls "$CACHE"/arm64-debs/libbpf1_*arm64.deb >/dev/null 2>&1 || ! ls "$CACHE"/arm64-debs/libelf1_*arm64.deb >/dev/null 2>&1 \
     || ! ls "$CACHE"/arm64-debs/zlib1g_*arm64.deb >/dev/null 2>&1; then
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      dpkg --add-architecture arm64
      apt-get update -qq
    fi
    chown _apt "$CACHE/arm64-debs" 2>/dev/null || true # lets apt download without its sandbox warning
    (cd "$CACHE/arm64-debs" && apt-get download -qq libbpf1:arm64 libelf1:arm64 zlib1g:arm64)
  fi
  for deb in "$CACHE"/arm64-debs/*.deb; do dpkg-deb -x "$deb" "$CACHE/arm64-root"; done
  for so in libz.so.1 libelf.so.1 libbpf.so.1; do
    copy_lib "$(find_lib "$CACHE/arm64-root" aarch64-linux-gnu "$so")" "$OUT/lib/arm64" "$so"
  done
  echo "build-ebpf: staged arm64 libraries from $(ls "$CACHE"/arm64-debs | tr '\n' ' ')"

  # An arm64 glibc sysroot, so test/ebpf/compiled-arm64.test.ts can run the arm64 agent under
  # qemu-aarch64-static (-L sysroot).
  mkdir -p "$CACHE/arm64-sysroot-debs" "$CACHE/arm64-sysroot"
  if ! ls "$CACHE"/arm64-sysroot-debs/libc6_*arm64.deb >/dev/null 2>&1; then
    chown _apt "$CACHE/arm64-sysroot-debs" 2>/dev/null || true
    (cd "$CACHE/arm64-sysroot-debs" && apt-get download -qq libc6:arm64 libgcc-s1:arm64)
  fi
  if [[ ! -e "$CACHE/arm64-sysroot/lib/ld-linux-aarch64.so.1" ]]; then
    for deb in "$CACHE"/arm64-sysroot-debs/*.deb; do dpkg-deb -x "$deb" "$CACHE/arm64-sysroot"; done
  fi
fi
