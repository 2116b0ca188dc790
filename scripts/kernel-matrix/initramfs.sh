#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Kernel matrix: builds the guest initramfs for one architecture:
#   initramfs.sh amd64|arm64 AGENT_BINARY OUT.cpio
# It holds /init (init.sh), busybox-static, the glibc files the agent links (from Debian's libc6
# for that architecture, fetched by fetch.sh) and the agent at /agent/antimetal-agent. The archive
# is left uncompressed: the kernel unpacks it without a decompressor, which is what costs time
# under emulation. Rebuilt only when the agent, init.sh or the cached root changes.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${KMATRIX_CACHE:-/var/cache/antimetal-dev/kernel-matrix}"
arch="${1:?usage: initramfs.sh amd64|arm64 AGENT OUT}" agent="${2:?agent binary}" out="${3:?output path}"
root="$CACHE/root-$arch"
[[ -e "$root/.complete" ]] || { echo "initramfs: $root missing; run scripts/kernel-matrix/fetch.sh" >&2; exit 1; }
[[ -x "$agent" ]] || { echo "initramfs: agent binary $agent missing; run bun scripts/build.ts" >&2; exit 1; }
case "$arch" in
  amd64) triplet=x86_64-linux-gnu; ld=ld-linux-x86-64.so.2; ldir=lib64 ;;
  arm64) triplet=aarch64-linux-gnu; ld=ld-linux-aarch64.so.1; ldir=lib ;;
  *) echo "initramfs: unknown arch $arch" >&2; exit 2 ;;
esac

key="$( { sha256sum "$agent" "$HERE/init.sh" "$HERE/initramfs.sh"; cat "$root/.packages"; } | sha256sum | cut -c1-16)"
if [[ -s "$out" && "$(cat "$out.key" 2>/dev/null)" == "$key" ]]; then
  echo "initramfs: $out up to date"
  exit 0
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,agent,proc,sys,dev,tmp,run,etc,"$ldir","lib/$triplet"}
cp "$root/bin/busybox" "$stage/bin/busybox"
# The agent's NEEDED libraries (libc, libm, libpthread, libdl) and the dynamic loader.
for so in libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 "$ld"; do
  src="$(find "$root/lib" "$root/usr/lib" -name "$so" \( -type f -o -type l \) 2>/dev/null | head -1)"
  [[ -n "$src" ]] || { echo "initramfs: $so not found in $root" >&2; exit 1; }
  cp -L "$src" "$stage/lib/$triplet/$so"
done
ln -sf "/lib/$triplet/$ld" "$stage/$ldir/$ld"
cp "$agent" "$stage/agent/antimetal-agent"
cp "$HERE/init.sh" "$stage/init"
mknod -m 600 "$stage/dev/console" c 5 1 # the kernel opens it for init before anything is mounted
chmod 0755 "$stage/init" "$stage/agent/antimetal-agent" "$stage/bin/busybox"
echo "root:x:0:0:root:/tmp:/bin/sh" > "$stage/etc/passwd"
# Archived with the (amd64, static) busybox from the cache: the host needs no cpio package.
(cd "$stage" && find . | sort | "$CACHE/root-amd64/bin/busybox" cpio -o -H newc 2>/dev/null) > "$out.tmp"
mv "$out.tmp" "$out"
echo "$key" > "$out.key"
echo "initramfs: built $out ($(du -h "$out" | cut -f1))"
