// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// File access for the collectors (HostIo): reads raced against the collection's AbortSignal, a global
// bound on concurrent /sys reads, and overlapping reads of one path sharing a single underlying read.

//
// HostIo: every read of a host file by collectors and the host graph. Blocking calls run on the
// read pool's own threads, raced against the caller's deadline, one underlying call per path at a
// time, files that could block refused, and sizes capped. Views made with nativeFirst (the runtime
// graph, the host facts) first use Bun's own I/O threads, one call at a time under a deadline
// (native-read.ts), until a call misses it or the pool has a thread: an idle agent then needs no Worker.
// Over 400 lines: every host-file operation (read, list, stat, statfs, readlink, their sync forms for
// procfs) shares the same in-flight table, owner caps and routing, which splitting would scatter.

import * as fs from "node:fs";
import { type BoundMeter, meterBound } from "../metrics/registry.ts";
import { DEFAULT_MAX_FILE_BYTES, readBounded } from "./bounded-read.ts";
import { NativeLane } from "./native-read.ts";
import { ReadPool } from "./read-pool.ts";
import type { ReadOp, WireDirent, WireFileResult, WireStat, WireStatfs } from "./read-protocol.ts";

/**
 * Error codes that mean "not there / not allowed", which optional reads turn into undefined. ESRCH: a
 * /proc/<pid> file whose process exited between the open and the read (short-lived processes do that).
 */
const SOFT_CODES = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM", "EISDIR", "EINVAL", "ENODEV", "ENXIO", "EOPNOTSUPP", "EIO", "ESRCH"]);

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
  } catch (e) {
    if (SOFT_CODES.has(errCode(e) ?? "")) return false;
    throw new Error(`statfs ${root}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** statfs magics of filesystems that answer from memory: cgroup2, cgroup (v1), tmpfs (the v1 hierarchy's parent). */
const IN_MEMORY_MAGICS = new Set([0x63677270, 0x27e0eb, 0x01021994]);

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

/** A directory entry (what readdir withFileTypes gives, as far as collectors use it). */
export interface DirEntry {
  name: string;
  isDirectory(): boolean;
  isFile(): boolean;
  isSymbolicLink(): boolean;
}

function dirEntry(d: WireDirent): DirEntry {
  return { name: d.name, isDirectory: () => d.kind === "dir", isFile: () => d.kind === "file", isSymbolicLink: () => d.kind === "link" };
}

export interface HostIoOptions {
  /** Reader threads (default: one pool per process, see sharedReadPool). */
  pool?: ReadPool;
  /** Calls on Bun's I/O threads for nativeFirst views (default: one lane per process, see sharedNativeLane). */
  lane?: NativeLane;
  /**
   * Calls go to the native lane first while it is open and the pool has never started a thread (native-read.ts);
   * else (default) to the pool. Views made by forOwner choose their own.
   */
  nativeFirst?: boolean;
  /** Largest file read whole (default 32 MiB); a larger one is an EFBIG error naming it. */
  maxFileBytes?: number;
  /**
   * Refuse FIFOs, sockets and devices (default true): they are opened non-blocking and not read.
   * False reads whatever is there with a blocking open (a FIFO then blocks like a hung mount).
   */
  regularOnly?: boolean;
}

interface SharedState {
  pool: ReadPool;
  lane: NativeLane;
  trace: Set<string> | undefined;
  inflight: Map<string, Promise<unknown>>;
  maxFileBytes: number;
  regularOnly: boolean;
  refused: BoundMeter;
}

let processPool: ReadPool | undefined;
/** The process's read pool (created on first use). */
export function sharedReadPool(): ReadPool {
  processPool ??= new ReadPool();
  return processPool;
}

let processLane: NativeLane | undefined;
/** The process's native lane (created on first use). */
export function sharedNativeLane(): NativeLane {
  processLane ??= new NativeLane();
  return processLane;
}

/** Calls stuck in the shared native lane and pool threads (none when nothing ever read through them: none is made for the question). */
export function stuckReadCalls(): string[] {
  return [...(processLane?.stuckCalls() ?? []), ...(processPool?.stuckCalls() ?? [])];
}

/** `owner`'s calls not answered yet (queued, running or stuck) in the shared native lane and pool, as "op path". */
export function inflightReadsOf(owner: string): string[] {
  return [...(processLane?.inflightOf(owner) ?? []), ...(processPool?.inflightOf(owner) ?? [])];
}

/**
 * File access for collectors: reads raced against the collection's AbortSignal, on the read pool's
 * threads. A call the kernel does not answer within the pool's stuck threshold holds one
 * abandoned thread (replaced, up to a cap), never the threads every other read needs.
 *
 * Reads of the same path that overlap share one underlying read, so a hung file costs one thread
 * however many collections time out on it. An owner (a collector, see forOwner) with too many stuck
 * calls gets errors at once instead of starting more.
 */
export class HostIo {
  private readonly state: SharedState;
  /** Who the calls are for (a collector type); "" for unscoped. */
  readonly owner: string;
  constructor(
    readonly sysRoot: string,
    /** Kept for callers; the read pool's size now bounds concurrent calls. */
    readonly sysConcurrency = 4,
    /**
     * When set and it is a procfs mount (checked with statfs), files under it are read synchronously: procfs answers from kernel memory
     * (it is not a disk or network filesystem and cannot hang on I/O), and a thread round trip per
     * small file costs more than the read on a busy host. Per-process files that take the mm lock
     * (smaps, smaps_rollup, maps, cmdline, environ, mem) go to the read pool, under the timeout.
     */
    readonly procRoot?: string,
    opts: HostIoOptions & { state?: SharedState; owner?: string } = {},
  ) {
    const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.state = opts.state ?? {
      pool: opts.pool ?? sharedReadPool(),
      lane: opts.lane ?? sharedNativeLane(),
      trace: undefined,
      inflight: new Map(),
      maxFileBytes,
      regularOnly: opts.regularOnly ?? true,
      refused: meterBound("host_file_read_bytes", maxFileBytes),
    };
    this.owner = opts.owner ?? "";
    this.nativeFirst = opts.nativeFirst ?? false;
    this.syncProc = procRoot && isProcfs(procRoot) ? procRoot + "/" : undefined;
  }
  /** The proc root + "/" when it is verified to be a procfs mount (statfs magic), else undefined. */
  private readonly syncProc: string | undefined;

  /** Whether calls try the native lane first (HostIoOptions.nativeFirst). */
  readonly nativeFirst: boolean;

  /** The same files, pool, lane and sharing, with calls counted against `owner`'s stuck-call cap; `nativeFirst` as HostIoOptions says (default: this view's). */
  forOwner(owner: string, opts: { nativeFirst?: boolean } = {}): HostIo {
    return new HostIo(this.sysRoot, this.sysConcurrency, this.procRoot, {
      state: this.state,
      owner,
      nativeFirst: opts.nativeFirst ?? this.nativeFirst,
    });
  }

  /**
   * One underlying call: on the native lane while this view is nativeFirst, the lane is open and the
   * pool has no thread yet (once a Worker is paid for, it serves everything); else on the pool, with
   * the owner's call stuck in the lane counted against its cap.
   */
  private call<T>(op: ReadOp): Promise<T> {
    const { pool, lane } = this.state;
    const viaPool = () => pool.run<T>(op, this.owner, undefined, lane.stuckOf(this.owner));
    if (this.nativeFirst && lane.open && !pool.started) return lane.run(op, this.owner, viaPool);
    return viaPool();
  }

  /** When set, every underlying operation is recorded as "r:path" (read), "l:" (list), "s:" (stat), "k:" (readlink); shared with the forOwner views. Benchmarks use it to build the C floor reader. */
  get trace(): Set<string> | undefined {
    return this.state.trace;
  }
  set trace(t: Set<string> | undefined) {
    this.state.trace = t;
  }

  /** Paths whose underlying operation has not returned yet (stuck or just slow). */
  pending(): string[] {
    return [...this.state.inflight.keys()];
  }

  /** Calls the native lane and the read pool have marked stuck, as "op path (owner)". */
  stuck(): string[] {
    return [...this.state.lane.stuckCalls(), ...this.state.pool.stuckCalls()];
  }

  private shared<T>(key: string, op: () => Promise<T>): Promise<T> {
    let p = this.state.inflight.get(key) as Promise<T> | undefined;
    if (!p) {
      this.trace?.add(key);
      p = op();
      const inflight = this.state.inflight;
      inflight.set(key, p);
      const clear = () => {
        if (inflight.get(key) === p) inflight.delete(key);
      };
      p.then(clear, clear);
    }
    return p;
  }

  private countRefusal(e: unknown): never {
    const code = errCode(e);
    if (code === "EFBIG") this.state.refused.dropped("too_large");
    else if (code === "ENOTREG") this.state.refused.dropped("not_regular");
    else if (code === "ESTUCK") this.state.refused.dropped("owner_stuck");
    throw e;
  }

  /**
   * Reads a file; errors (ENOENT, EACCES, ENOTREG, EFBIG, abort) propagate. `maxBytes` bounds this read
   * below the shared limit (a runtime's JSON state file, which has no business being megabytes).
   */
  read(path: string, signal?: AbortSignal, maxBytes?: number): Promise<string> {
    const { regularOnly } = this.state;
    const maxFileBytes = maxBytes !== undefined ? Math.min(maxBytes, this.state.maxFileBytes) : this.state.maxFileBytes;
    if (this.syncProc && path.startsWith(this.syncProc) && !MM_LOCKED.test(path)) {
      if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      this.trace?.add(`r:${path}`);
      try {
        return Promise.resolve(readBounded(path, maxFileBytes, regularOnly));
      } catch (e) {
        return Promise.reject(e).catch((err) => this.countRefusal(err));
      }
    }
    const key = maxBytes !== undefined ? `r:${path}\0${maxFileBytes}` : `r:${path}`;
    const procfs = this.syncProc !== undefined && path.startsWith(this.syncProc);
    const p = this.shared(key, () =>
      this.call<string>({ op: "read", path, maxBytes: maxFileBytes, regularOnly, ...(procfs ? { procfs } : {}) }),
    );
    return raceAbort(p, signal).catch((e) => this.countRefusal(e));
  }

  /**
   * Synchronous read for per-process procfs files that the kernel answers from memory without taking
   * the mm lock (/proc/<pid>/stat, status, the fd directory): a thread round trip per file costs
   * more than the read itself on a busy host. Never use it for sysfs, cgroupfs or smaps.
   * Returns the error code instead of throwing (the process exited, permission). `oneRecord`: the file
   * is printed in one piece (procfs's /proc/<pid>/stat and /proc/<pid>/cgroup are single seq_file
   * records), so a read that does not fill the buffer has it all: no second read to see EOF.
   */
  readSyncSoft(path: string, oneRecord = false): { text?: string; code?: string } {
    this.trace?.add(`r:${path}`);
    try {
      return { text: readBounded(path, this.state.maxFileBytes, this.state.regularOnly, "latin1", oneRecord) };
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

  /** Reads a file; undefined when it is missing or not readable (optional files). Aborts, refusals and stuck reads still throw. */
  async readOptional(path: string, signal?: AbortSignal, maxBytes?: number): Promise<string | undefined> {
    try {
      return await this.read(path, signal, maxBytes);
    } catch (e) {
      if (SOFT_CODES.has(errCode(e) ?? "")) return undefined;
      throw e;
    }
  }

  /**
   * Reads several small files in one reader-thread round trip (a sysfs directory's attributes, where
   * a round trip per file costs more than the reads); each is its text, or undefined when missing or
   * not readable as readOptional says. A refused or stuck file, or an abort, throws.
   */
  async readManyOptional(paths: string[], signal?: AbortSignal): Promise<(string | undefined)[]> {
    const { maxFileBytes, regularOnly } = this.state;
    if (this.syncProc && paths.every((f) => f.startsWith(this.syncProc!) && !MM_LOCKED.test(f))) {
      // procfs answers from kernel memory: read in place, as read() does
      return Promise.all(paths.map((f) => this.readOptional(f, signal)));
    }
    const p = this.shared(`m:${paths.join("\0")}`, () =>
      this.call<WireFileResult[]>({ op: "readMany", paths, maxBytes: maxFileBytes, regularOnly }),
    );
    const results = await raceAbort(p, signal);
    return results.map((r) => {
      if ("text" in r) return r.text;
      if (SOFT_CODES.has(r.code)) return undefined;
      return this.countRefusal(Object.assign(new Error(r.message), { code: r.code }));
    });
  }

  private readonly inMemory = new Map<string, boolean>();
  /**
   * Whether `dir` is on cgroupfs (v1 or v2) or tmpfs (statfs magic; remembered per path): filesystems the
   * kernel answers from memory, with no device or server behind them that could stop answering.
   */
  isInMemoryFs(dir: string): boolean {
    let v = this.inMemory.get(dir);
    if (v === undefined) {
      try {
        v = IN_MEMORY_MAGICS.has(Number(fs.statfsSync(dir).type));
      } catch {
        v = false; // missing or unreadable: the pool's path reports it
      }
      this.inMemory.set(dir, v);
    }
    return v;
  }

  /**
   * Reads small files in place, for cgroupfs files under a directory isInMemoryFs accepted (a scan's
   * hundreds of cgroup limit files): the kernel answers them from memory, so they cannot hang on a
   * stuck device the way a disk or network file can, and a reader-thread round trip costs more than
   * the reads. Still bounded and refusing anything but a regular file, opened non-blocking, like every
   * HostIo read. Each result is the text, or undefined as readOptional says; a refused file throws.
   */
  readManyInMemorySync(paths: string[]): (string | undefined)[] {
    return paths.map((f) => {
      try {
        return this.readInMemorySync(f);
      } catch (e) {
        if (SOFT_CODES.has(errCode(e) ?? "")) return undefined;
        throw e;
      }
    });
  }

  /**
   * Reads a file in place, for a file under a directory isInMemoryFs accepted (a container runtime's state
   * on tmpfs /run): bounded, opened non-blocking, regular files only, errors as read() gives them.
   */
  readInMemorySync(path: string, maxBytes?: number): string {
    const { maxFileBytes, regularOnly } = this.state;
    this.trace?.add(`r:${path}`);
    try {
      return readBounded(path, maxBytes !== undefined ? Math.min(maxBytes, maxFileBytes) : maxFileBytes, regularOnly);
    } catch (e) {
      if (SOFT_CODES.has(errCode(e) ?? "")) throw e;
      return this.countRefusal(e);
    }
  }

  /** Whether `path` exists, by a stat in place: only for kernfs (cgroupfs) or tmpfs paths, which answer from memory. */
  existsInMemorySync(path: string): boolean {
    this.trace?.add(`s:${path}`);
    return fs.existsSync(path);
  }

  /**
   * Synchronous typed listing of a kernfs directory (cgroupfs) or one on tmpfs (isInMemoryFs), which the
   * kernel answers from memory without I/O: a reader-thread round trip per directory costs more than the listing when a walk
   * visits hundreds. Never for a filesystem that can block (NFS, FUSE, a disk). Missing or not
   * readable (SOFT codes): [].
   */
  listKernfsSync(path: string): DirEntry[] {
    this.trace?.add(`l:${path}`);
    try {
      return fs.readdirSync(path, { withFileTypes: true });
    } catch (e) {
      if (SOFT_CODES.has(errCode(e) ?? "")) return [];
      throw e;
    }
  }

  list(path: string, signal?: AbortSignal): Promise<DirEntry[]> {
    if (this.syncProc && (path + "/").startsWith(this.syncProc)) {
      this.trace?.add(`l:${path}`);
      try {
        return Promise.resolve(fs.readdirSync(path, { withFileTypes: true }));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const p = this.shared(`l:${path}`, () => this.call<WireDirent[]>({ op: "list", path }));
    return raceAbort(p, signal).then(
      (list) => list.map(dirEntry),
      (e) => this.countRefusal(e),
    );
  }

  async listOptional(path: string, signal?: AbortSignal): Promise<DirEntry[]> {
    try {
      return await this.list(path, signal);
    } catch (e) {
      if (SOFT_CODES.has(errCode(e) ?? "")) return [];
      throw e;
    }
  }

  private stat(path: string, signal?: AbortSignal): Promise<WireStat> {
    return raceAbort(
      this.shared(`s:${path}`, () => this.call<WireStat>({ op: "stat", path })),
      signal,
    );
  }

  /** statfs(2) with bigint fields, on a reader thread (a hung NFS mount holds that thread only). */
  statfs(path: string, signal?: AbortSignal): Promise<WireStatfs> {
    return raceAbort(
      this.shared(`f:${path}`, () => this.call<WireStatfs>({ op: "statfs", path })),
      signal,
    ).catch((e) => this.countRefusal(e));
  }

  /** Whether `path` exists; false for missing or unreadable, errors for aborts and stuck calls. */
  async exists(path: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.stat(path, signal);
      return true;
    } catch (e) {
      if (signal?.aborted || errCode(e) === "ESTUCK") throw e;
      return false;
    }
  }

  async isDir(path: string, signal?: AbortSignal): Promise<boolean> {
    try {
      return (await this.stat(path, signal)).isDirectory;
    } catch (e) {
      if (signal?.aborted || errCode(e) === "ESTUCK") throw e;
      return false;
    }
  }

  /** The canonical path (links resolved); undefined when missing or unreadable. */
  realpath(path: string, signal?: AbortSignal): Promise<string | undefined> {
    return this.pathString("p", "realpath", path, signal, (code) => SOFT_CODES.has(code ?? ""));
  }

  /** A link's target; undefined on any error but a stuck read (an abort throws). */
  readlink(path: string, signal?: AbortSignal): Promise<string | undefined> {
    return this.pathString("k", "readlink", path, signal, (code) => code !== "ESTUCK");
  }

  /** realpath or readlink on the pool, shared by overlapping calls; undefined when the error is one `soft` accepts. */
  private async pathString(
    key: string,
    op: "realpath" | "readlink",
    path: string,
    signal: AbortSignal | undefined,
    soft: (code: string | undefined) => boolean,
  ): Promise<string | undefined> {
    try {
      return await raceAbort(
        this.shared(`${key}:${path}`, () => this.call<string>({ op, path })),
        signal,
      );
    } catch (e) {
      if (signal?.aborted || !soft(errCode(e))) throw e;
      return undefined;
    }
  }
}
