// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import type { Dirent } from "node:fs";

/** Error codes that mean "not there / not allowed", which optional reads turn into undefined. */
const SOFT_CODES = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM", "EISDIR", "EINVAL", "ENODEV", "ENXIO", "EOPNOTSUPP", "EIO"]);

export function errCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

/** Rejects as soon as `signal` aborts, even if `p` never settles (a hung mount, a stuck sysfs read). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  if (r instanceof Error) return r;
  return new Error(typeof r === "string" ? r : "aborted");
}

/** Per-process procfs files whose read takes the target's mm lock (can block behind a busy process). */
const MM_LOCKED = /\/\d+\/(task\/\d+\/)?(smaps|smaps_rollup|maps|numa_maps|cmdline|environ|mem|pagemap)$/;

const PROC_SUPER_MAGIC = 0x9fa0;
function isProcfs(root: string): boolean {
  try {
    return Number(fs.statfsSync(root).type) === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** Counting semaphore bounding concurrent reads (sysfs: see node_exporter #2500, #1880). */
export class Semaphore {
  private waiting: (() => void)[] = [];
  private held = 0;
  constructor(readonly limit: number) {}
  async acquire(): Promise<void> {
    if (this.held < this.limit) {
      this.held++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held--;
  }
}

/**
 * File access for collectors: async reads raced against the collection's AbortSignal, and at most
 * `sysConcurrency` reads under /sys in flight at once for the whole process.
 *
 * Reads of the same path that overlap share one underlying read. This also bounds what a hung file
 * (a dead NFS mount, a stuck sysfs attribute) can cost: its first read occupies one I/O thread until the
 * kernel returns; every later caller waits on that same read (and gives up at its own deadline) instead
 * of starting another one, so a stuck file never eats the I/O thread pool one collection at a time.
 */
export class HostIo {
  private readonly sysSem: Semaphore;
  private readonly inflight = new Map<string, Promise<unknown>>();
  constructor(
    readonly sysRoot: string,
    sysConcurrency = 4,
    /**
     * When set and it is a procfs mount (checked with statfs), files under it are read synchronously: procfs answers from kernel memory
     * (it is not a disk or network filesystem and cannot hang on I/O), and a thread-pool round trip per
     * small file costs more than the read on a busy host. Per-process files that take the mm lock
     * (smaps, smaps_rollup, maps, cmdline, environ, mem) stay asynchronous and under the timeout.
     */
    readonly procRoot?: string,
  ) {
    this.sysSem = new Semaphore(Math.max(1, sysConcurrency));
    this.syncProc = procRoot && isProcfs(procRoot) ? procRoot + "/" : undefined;
  }
  /** The proc root + "/" when it is verified to be a procfs mount (statfs magic), else undefined. */
  private readonly syncProc: string | undefined;

  /** When set, every underlying operation is recorded as "r:path" (read), "l:" (list), "s:" (stat), "k:" (readlink). Benchmarks use it to build the C floor reader. */
  trace: Set<string> | undefined;

  /** Paths whose underlying operation has not returned yet (stuck or just slow). */
  pending(): string[] {
    return [...this.inflight.keys()];
  }

  private shared<T>(key: string, path: string, op: () => Promise<T>): Promise<T> {
    let p = this.inflight.get(key) as Promise<T> | undefined;
    if (!p) {
      this.trace?.add(key);
      const bounded = path.startsWith(this.sysRoot + "/");
      p = (async () => {
        if (bounded) await this.sysSem.acquire();
        try {
          return await op();
        } finally {
          if (bounded) this.sysSem.release();
        }
      })();
      this.inflight.set(key, p);
      const clear = () => {
        if (this.inflight.get(key) === p) this.inflight.delete(key);
      };
      p.then(clear, clear);
    }
    return p;
  }

  /** Reads a file; errors (ENOENT, EACCES, abort) propagate. */
  read(path: string, signal?: AbortSignal): Promise<string> {
    if (this.syncProc && path.startsWith(this.syncProc) && !MM_LOCKED.test(path)) {
      if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      this.trace?.add(`r:${path}`);
      try {
        return Promise.resolve(fs.readFileSync(path, "utf8"));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return raceAbort(this.shared(`r:${path}`, path, () => fsp.readFile(path, "utf8")), signal);
  }

  /**
   * Synchronous read for per-process procfs files that the kernel answers from memory without taking
   * the mm lock (/proc/<pid>/stat, status, the fd directory): a thread-pool round trip per file costs
   * more than the read itself on a busy host. Never use it for sysfs, cgroupfs or smaps.
   * Returns undefined on any error (the process exited, permission).
   */
  readSyncSoft(path: string): { text?: string; code?: string } {
    this.trace?.add(`r:${path}`);
    try {
      return { text: fs.readFileSync(path, "latin1") };
    } catch (e) {
      return { code: errCode(e) ?? "error" };
    }
  }

  /**
   * Number of entries of a /proc/<pid>/fd directory: since Linux 6.2 stat() reports the open-file count
   * as the directory size, which is much cheaper than listing thousands of fds; older kernels report 0
   * and the directory is listed.
   */
  fdCountSoft(path: string): { count?: number; code?: string } {
    if (this.syncProc && path.startsWith(this.syncProc)) {
      this.trace?.add(`s:${path}`);
      try {
        const size = fs.statSync(path).size;
        if (size > 0) return { count: size };
      } catch (e) {
        return { code: errCode(e) ?? "error" };
      }
    }
    const l = this.listSyncSoft(path);
    return l.names ? { count: l.names.length } : { code: l.code };
  }

  listSyncSoft(path: string): { names?: string[]; code?: string } {
    this.trace?.add(`l:${path}`);
    try {
      return { names: fs.readdirSync(path) };
    } catch (e) {
      return { code: errCode(e) ?? "error" };
    }
  }

  /** Reads a file; undefined when it is missing or not readable (optional files). Aborts still throw. */
  async readOptional(path: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      return await this.read(path, signal);
    } catch (e) {
      if (SOFT_CODES.has(errCode(e) ?? "")) return undefined;
      throw e;
    }
  }

  list(path: string, signal?: AbortSignal): Promise<Dirent[]> {
    if (this.syncProc && (path + "/").startsWith(this.syncProc)) {
      this.trace?.add(`l:${path}`);
      try {
        return Promise.resolve(fs.readdirSync(path, { withFileTypes: true }));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return raceAbort(this.shared(`l:${path}`, path, () => fsp.readdir(path, { withFileTypes: true })), signal);
  }

  async listOptional(path: string, signal?: AbortSignal): Promise<Dirent[]> {
    try {
      return await this.list(path, signal);
    } catch (e) {
      if (SOFT_CODES.has(errCode(e) ?? "")) return [];
      throw e;
    }
  }

  private stat(path: string, signal?: AbortSignal) {
    return raceAbort(this.shared(`s:${path}`, path, () => fsp.stat(path)), signal);
  }

  /** statfs(2) with bigint fields, shared and raced like reads (a hung NFS mount holds one thread). */
  statfs(path: string, signal?: AbortSignal) {
    return raceAbort(this.shared(`f:${path}`, path, () => fsp.statfs(path, { bigint: true })), signal);
  }

  async exists(path: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.stat(path, signal);
      return true;
    } catch (e) {
      if (signal?.aborted) throw e;
      return false;
    }
  }

  async isDir(path: string, signal?: AbortSignal): Promise<boolean> {
    try {
      return (await this.stat(path, signal)).isDirectory();
    } catch (e) {
      if (signal?.aborted) throw e;
      return false;
    }
  }

  async readlink(path: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      return await raceAbort(this.shared(`k:${path}`, path, () => fsp.readlink(path)), signal);
    } catch (e) {
      if (signal?.aborted) throw e;
      return undefined;
    }
  }
}
