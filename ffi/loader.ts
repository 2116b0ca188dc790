// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Loads libbpf for bun:ffi. By default the agent's own copies of libz, libelf and libbpf (embedded
 * in the compiled binary, or staged in ebpf/build/lib/<arch>/ when running from source) are
 * copied into memfd_create() files and dlopen()ed as /proc/self/fd/N in the order
 * libz -> libelf -> libbpf, so glibc resolves libbpf's DT_NEEDED entries by SONAME to the copies
 * already loaded. No writable directory is needed and no system libbpf is used. Only when asked
 * (source "system", or ANTIMETAL_LIBBPF=system) does it dlopen the host's libbpf.so.1.
 *
 * The memfds stay open for the life of the process: a Worker that dlopens the same
 * /proc/self/fd/N path gets the already-loaded copy (glibc matches the file identity).
 */

import { CString, dlopen, type Library, type Pointer, ptr, read } from "bun:ffi";
import { readFileSync, statSync } from "node:fs";
import { LIBBPF_SYMBOLS, LIBC_SYMBOLS } from "./libbpf.ts";

export type Libbpf = Library<typeof LIBBPF_SYMBOLS>["symbols"];
export type Libc = Library<typeof LIBC_SYMBOLS>["symbols"];

export interface EmbeddedLibs {
  libz: string;
  libelf: string;
  libbpf: string;
}

export type LibbpfSource = "embedded" | "system";

export interface LoadedLibbpf {
  lib: Libbpf;
  /** Path handed to dlopen for libbpf; pass it to Workers so they reuse this copy. */
  path: string;
  source: LibbpfSource;
  version: string;
}

let libc: Libc | undefined;
export function getLibc(): Libc {
  libc ??= dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  return libc;
}

/** errno of the calling thread, right after a failed libc/libbpf call. */
export function lastErrno(): number {
  const p = getLibc().__errno_location();
  return p ? read.i32(p, 0) : 0;
}

export function strerror(errno: number): string {
  return String(getLibc().strerror(Math.abs(errno)));
}

const MFD_CLOEXEC = 0x1;
const MFD_EXEC = 0x10;

/** Copies bytes into an executable memfd and returns /proc/self/fd/N. */
export function memfdFile(name: string, bytes: Uint8Array): string {
  const c = getLibc();
  const cname = Buffer.from(name + "\0");
  let fd = c.memfd_create(ptr(cname), MFD_CLOEXEC | MFD_EXEC);
  if (fd < 0) fd = c.memfd_create(ptr(cname), MFD_CLOEXEC); // kernels < 6.3 reject MFD_EXEC
  if (fd < 0) throw new Error(`memfd_create(${name}) failed: ${strerror(lastErrno())}`);
  let off = 0;
  while (off < bytes.length) {
    const n = Number(c.write(fd, ptr(bytes, off), bytes.length - off));
    if (n <= 0) {
      const e = lastErrno();
      c.close(fd);
      throw new Error(`write to memfd for ${name} failed: ${strerror(e)}`);
    }
    off += n;
  }
  return `/proc/self/fd/${fd}`;
}

let loaded: LoadedLibbpf | undefined;

function finish(lib: Libbpf, path: string, source: LibbpfSource): LoadedLibbpf {
  const version = `${lib.libbpf_major_version()}.${lib.libbpf_minor_version()}`;
  if (lib.libbpf_major_version() < 1) throw new Error(`libbpf ${version} at ${path} is too old (need 1.x)`);
  loaded = { lib, path, source, version };
  return loaded;
}

/**
 * Loads libbpf once per thread. `embedded` supplies the three library files (paths readable with
 * fs, including /$bunfs/... paths inside the compiled binary).
 */
export function loadLibbpf(opts: { source?: LibbpfSource; embedded?: EmbeddedLibs | undefined }): LoadedLibbpf {
  if (loaded) return loaded;
  const source = opts.source ?? (process.env.ANTIMETAL_LIBBPF === "system" ? "system" : "embedded");
  if (source === "system") {
    return finish(dlopen("libbpf.so.1", LIBBPF_SYMBOLS).symbols, "libbpf.so.1", "system");
  }
  const e = opts.embedded;
  if (!e) {
    throw new Error(
      "embedded libbpf is not available (run scripts/build-ebpf.sh, or set ANTIMETAL_LIBBPF=system to use the host's libbpf.so.1)",
    );
  }
  // Order matters: libbpf needs libelf needs libz; each is found by SONAME once loaded.
  const zPath = memfdFile("libz.so.1", readFileSync(e.libz));
  dlopen(zPath, { zlibVersion: { args: [], returns: "cstring" } });
  const elfPath = memfdFile("libelf.so.1", readFileSync(e.libelf));
  dlopen(elfPath, { elf_version: { args: ["u32"], returns: "u32" } });
  const bpfPath = memfdFile("libbpf.so.1", readFileSync(e.libbpf));
  return finish(dlopen(bpfPath, LIBBPF_SYMBOLS).symbols, bpfPath, "embedded");
}

/** In a Worker: dlopen the exact path the main thread loaded (no new copy is mapped). */
export function attachLibbpf(path: string): Libbpf {
  if (loaded && loaded.path === path) return loaded.lib;
  const lib = dlopen(path, LIBBPF_SYMBOLS).symbols;
  loaded = {
    lib,
    path,
    source: path === "libbpf.so.1" ? "system" : "embedded",
    version: `${lib.libbpf_major_version()}.${lib.libbpf_minor_version()}`,
  };
  return lib;
}

/** Formats a NULL-returning libbpf call's failure using errno. */
export function libbpfError(what: string, ret?: number): Error {
  const errno = ret !== undefined && ret < 0 ? -ret : lastErrno();
  const err = new Error(`${what}: ${strerror(errno)} (errno ${errno})`) as Error & { errno: number };
  err.errno = errno;
  return err;
}

export function cstr(p: Pointer | null): string {
  return p ? new CString(p).toString() : "";
}

/** clock_gettime(clk) in nanoseconds (0 = CLOCK_REALTIME, 1 = CLOCK_MONOTONIC, bpf_ktime_get_ns). */
export function clockNs(clk: 0 | 1): bigint {
  const ts = new BigInt64Array(2);
  if (getLibc().clock_gettime(clk, ptr(ts)) !== 0) throw new Error(`clock_gettime(${clk}): ${strerror(lastErrno())}`);
  return ts[0]! * 1_000_000_000n + ts[1]!;
}

/**
 * True when `path` exists. tracefs denies a non-root process even a stat of its directories (with
 * CAP_DAC_READ_SEARCH too), so "permission denied" also means the mount is there.
 */
function tracefsPresent(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EACCES" || (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Tracepoint attachment needs tracefs (libbpf reads the event id from events/<cat>/<name>/id).
 * Mounts it at /sys/kernel/tracing when neither that nor debugfs' tracing dir is present.
 */
export function ensureTracefs(): void {
  if (tracefsPresent("/sys/kernel/tracing/events") || tracefsPresent("/sys/kernel/debug/tracing/events")) return;
  const c = (s: string) => Buffer.from(s + "\0");
  const ret = getLibc().mount(ptr(c("tracefs")), ptr(c("/sys/kernel/tracing")), ptr(c("tracefs")), 0n, null);
  if (ret !== 0) {
    const e = lastErrno();
    throw new Error(
      `tracefs is not mounted at /sys/kernel/tracing and mounting it failed: ${strerror(e)} (mount it, or mount the host's /sys/kernel/tracing into the container)`,
    );
  }
}
