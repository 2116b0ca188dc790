#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Kernel matrix: fetches the Debian kernels in kernels.conf, busybox-static and libc6 (amd64 and
# arm64) with apt through a private sources list, state and cache directory (the machine's own
# apt configuration is never changed), and extracts what the guests need into
# $KMATRIX_CACHE (default /var/cache/antimetal-dev/kernel-matrix):
#   kernels/<id>/{vmlinuz,config,package}   boot image, its config, the .deb it came from
#   root-<arch>/                            busybox and the glibc the agent links
# No kernel module is extracted: every Debian config used has BPF, tracing, BTF, devtmpfs, the
# serial console and initramfs support built in (fetch.sh checks that in each config).
# Idempotent: a kernel or root already extracted is not fetched again.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${KMATRIX_CACHE:-/var/cache/antimetal-dev/kernel-matrix}"
APTDIR="$CACHE/apt"
DEBS="$CACHE/debs"
# Userspace for the guests comes from one release (the agent's glibc floor is bookworm's 2.36).
USERSPACE_SUITE=bookworm

mapfile -t KERNELS < <(sed 's/#.*//' "$HERE/kernels.conf" | awk 'NF == 3')

missing_work() {
  for line in "${KERNELS[@]}"; do
    read -r id _ _ <<<"$line"
    [[ -s "$CACHE/kernels/$id/vmlinuz" ]] || return 0
  done
  for arch in amd64 arm64; do [[ -x "$CACHE/root-$arch/bin/busybox" && -e "$CACHE/root-$arch/.complete" ]] || return 0; done
  return 1
}
if ! missing_work; then
  echo "kernel-matrix: cache complete in $CACHE"
  exit 0
fi

# The mirror is the one the machine already uses for Debian (its first deb822 or one-line entry),
# or $KMATRIX_MIRROR.
mirror="${KMATRIX_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
fi
if [[ -z "$mirror" ]]; then
  mirror="$(awk '/^deb / && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)"
fi
[[ -n "$mirror" ]] || { echo "kernel-matrix: no Debian mirror found in /etc/apt; set KMATRIX_MIRROR" >&2; exit 1; }
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r "$KEYRING" ]] || { echo "kernel-matrix: $KEYRING missing (install debian-archive-keyring)" >&2; exit 1; }

mkdir -p "$APTDIR/etc/preferences.d" "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial" "$DEBS"
touch "$APTDIR/state/status"
suites="$(printf '%s\n' "${KERNELS[@]}" | awk '{print $3}'; echo "$USERSPACE_SUITE")"
: > "$APTDIR/etc/sources.list.new"
for s in $(echo "$suites" | sort -u); do
  echo "deb [arch=amd64,arm64 signed-by=$KEYRING] $mirror $s main" >> "$APTDIR/etc/sources.list.new"
done
mv "$APTDIR/etc/sources.list.new" "$APTDIR/etc/sources.list"
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APTDIR/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$APTDIR/etc/preferences.d"
  -o "Dir::State=$APTDIR/state" -o "Dir::State::status=$APTDIR/state/status" -o "Dir::Cache=$APTDIR/cache"
  -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o APT::Architectures::=arm64
  -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false -o Acquire::Languages=none
)
echo "kernel-matrix: apt-get update (private lists in $APTDIR)"
apt-get "${APT_OPTS[@]}" update -qq
chown _apt "$DEBS" 2>/dev/null || true # lets apt download without its sandbox warning

# download PKG:ARCH SUITE -> prints the .deb path (the newest version in SUITE).
download() {
  local pkg="$1" suite="$2" ver
  ver="$(apt-cache "${APT_OPTS[@]}" madison "$pkg" | awk -v s="$suite" '$0 ~ " "s"/" {print $3; exit}')"
  [[ -n "$ver" ]] || { echo "kernel-matrix: $pkg not found in $suite" >&2; return 1; }
  (cd "$DEBS" && apt-get "${APT_OPTS[@]}" download -qq "$pkg=$ver" >&2)
  local name="${pkg%%:*}" arch="${pkg##*:}" file
  [[ "$pkg" == *:* ]] || arch=amd64
  file="$(ls "$DEBS/${name}_"*"_${arch}.deb" "$DEBS/${name}_"*"_all.deb" 2>/dev/null | grep -F "_${ver/:/%3a}_" | head -1)"
  [[ -n "$file" ]] || { echo "kernel-matrix: downloaded $pkg=$ver but cannot find its .deb in $DEBS" >&2; return 1; }
  echo "$file"
}

for line in "${KERNELS[@]}"; do
  read -r id arch suite <<<"$line"
  out="$CACHE/kernels/$id"
  [[ -s "$out/vmlinuz" ]] && continue
  meta="linux-image-$arch:$arch"
  # The metapackage depends on the versioned image package (linux-image-6.1.0-NN-<arch>).
  image="$(apt-cache "${APT_OPTS[@]}" show "$meta/$suite" 2>/dev/null | awk -F'[ ,]+' '/^Depends:/ {print $2; exit}')"
  [[ -n "$image" ]] || { echo "kernel-matrix: cannot resolve $meta in $suite" >&2; exit 1; }
  echo "kernel-matrix: $id -> $image ($suite, $arch)"
  deb="$(download "$image:$arch" "$suite")"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp/x"
  # ./boot comes first in the data archive: tar stops once it has both files, so the hundreds of
  # MB of modules behind them are never decompressed (dpkg-deb then dies of SIGPIPE, expected).
  { dpkg-deb --fsys-tarfile "$deb" 2>/dev/null || true; } |
    tar -x -C "$out.tmp/x" --occurrence=1 --wildcards './boot/vmlinuz-*' './boot/config-*'
  cp "$out.tmp/x"/boot/vmlinuz-* "$out.tmp/vmlinuz"
  cp "$out.tmp/x"/boot/config-* "$out.tmp/config"
  for opt in BPF_SYSCALL BPF_EVENTS FTRACE_SYSCALLS DEBUG_INFO_BTF BLK_DEV_INITRD DEVTMPFS; do
    grep -q "^CONFIG_$opt=y" "$out.tmp/config" || { echo "kernel-matrix: $id: CONFIG_$opt is not built in; the guest has no modules" >&2; exit 1; }
  done
  basename "$deb" > "$out.tmp/package"
  rm -rf "$out.tmp/x" "$out" && mv "$out.tmp" "$out"
  rm -f "$deb" # 55-110 MB of modules nothing uses; kernels/<id> is the cache
done

for arch in amd64 arm64; do
  root="$CACHE/root-$arch"
  [[ -e "$root/.complete" ]] && continue
  rm -rf "$root" && mkdir -p "$root"
  for pkg in busybox-static libc6; do
    deb="$(download "$pkg:$arch" "$USERSPACE_SUITE")"
    dpkg-deb -x "$deb" "$root"
    basename "$deb" >> "$root/.packages"
  done
  touch "$root/.complete"
done
echo "kernel-matrix: cache complete in $CACHE"
