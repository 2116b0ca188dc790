// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Shared plumbing of the collectors: constructor options, BaseCollector, spec(), path validation,
// exposition-only extras, and /proc helpers (USER_HZ, page size, boot time).

import * as fs from "node:fs";
import type { Logger } from "../../log/logger.ts";
import { errorMessage } from "../../util/errors.ts";
import type { CollectorSpec, HostPaths, MetricType } from "../collector.ts";
import { DEFAULT_DELTA_CONFIG, type DeltaConfig } from "../delta.ts";
import { type DirEntry, HostIo } from "../io.ts";
import { countBadNumbers, countMalformed } from "../self-metrics.ts";

/** Options every collector constructor accepts. All optional. */
export interface CollectorOptions {
  /** Shared file access (one per agent so the /sys concurrency bound is global). */
  io?: HostIo;
  delta?: DeltaConfig;
  /** Wall clock in ms, injectable for delta tests. */
  now?: () => number;
  logger?: Logger;
  /** process: how many processes to report (0 or less means 20). */
  topProcessCount?: number;
  /** process: reuse a process's smaps_rollup (PSS/USS) for this long (default 60000; 0 = every time). */
  processSmapsMaxAgeMs?: number;
  /** tcp: how connection states are counted (see docs/metrics.md). */
  tcpStates?: "auto" | "netlink" | "proc" | "off";
  /** filesystem: mount points to leave out (default node_exporter's: /dev, /proc, /sys, container storage). */
  filesystemMountExclude?: RegExp;
  /** kernel: ring of the last N records in point mode (default 50). */
  kmsgLimit?: number;
  /** kernel: follow-mode poll period in ms (default 1000). */
  kmsgPollMs?: number;
  /** container_metrics: containers served per cycle (default 1000); the rest are counted as dropped. */
  containerMetricsMaxContainers?: number;
  /** disk: the udev database directory node_disk_info's labels come from (default /run/udev/data). */
  udevDataPath?: string;
}

/**
 * Data that the exposition uses but that is not part of the original's JSON (all meminfo keys, the
 * whole of /proc/net/netstat, ...). Stored under a symbol so JSON output never shows it.
 */
export const EXTRA: unique symbol = Symbol.for("antimetal.perf.extra") as never;

/** Data carrying an X under EXTRA (absent on data built elsewhere, e.g. in tests). */
export interface HasExtra<X> {
  readonly [EXTRA]?: X;
}

export function withExtra<T extends object, X>(data: T, extra: X): T & HasExtra<X> {
  Object.defineProperty(data, EXTRA, { value: extra, enumerable: false });
  return data as T & HasExtra<X>;
}

export function getExtra<X>(data: HasExtra<X> | undefined): X | undefined {
  return typeof data === "object" && data !== null ? data[EXTRA] : undefined;
}

const PATH_NAMES = { proc: "HostProcPath", sys: "HostSysPath", dev: "HostDevPath" } as const;

/** The original's Validate: required paths must be non-empty and absolute. Never touches the filesystem. */
export function validatePaths(paths: HostPaths, required: readonly ("proc" | "sys" | "dev")[]): void {
  for (const k of required) {
    const p = paths[k];
    if (!p) throw new Error(`${PATH_NAMES[k]} is required but not provided`);
  }
  for (const k of ["proc", "sys", "dev"] as const) {
    const p = paths[k];
    if (p && !p.startsWith("/")) throw new Error(`${PATH_NAMES[k]} must be an absolute path, got: ${JSON.stringify(p)}`);
  }
}

const ioCache = new Map<string, HostIo>();
/** One HostIo per sys root unless the caller passes its own. */
export function defaultIo(paths: HostPaths): HostIo {
  let io = ioCache.get(`${paths.sys}\0${paths.proc}`);
  if (!io) {
    io = new HostIo(paths.sys, 4, paths.proc);
    ioCache.set(`${paths.sys}\0${paths.proc}`, io);
  }
  return io;
}

/** Base with the shared plumbing. */
export abstract class BaseCollector {
  abstract readonly spec: CollectorSpec;
  private readonly sharedIo: HostIo;
  private ownIo: HostIo | undefined;
  protected readonly now: () => number;
  protected readonly deltaConfig: DeltaConfig;
  constructor(
    readonly paths: HostPaths,
    protected readonly opts: CollectorOptions,
    required: readonly ("proc" | "sys" | "dev")[],
  ) {
    validatePaths(paths, required);
    this.sharedIo = opts.io ?? defaultIo(paths);
    this.now = opts.now ?? Date.now;
    this.deltaConfig = opts.delta ?? DEFAULT_DELTA_CONFIG;
  }
  /** File access counted against this collector's stuck-read cap (spec is set after the base constructor, hence lazy). */
  protected get io(): HostIo {
    this.ownIo ??= this.sharedIo.forOwner(this.spec.type);
    return this.ownIo;
  }
  protected malformed(n: number): void {
    countMalformed(this.spec.type, n);
  }
  private readonly filesWithBadNumbers = new Set<string>();
  /** Numbers of `file` (relative to its root) that could not be read and were reported as 0: counted, warned once. */
  protected badNumbers(file: string, n: number): void {
    if (n <= 0) return;
    countBadNumbers(this.spec.type, file, n);
    if (this.filesWithBadNumbers.has(file)) return;
    this.filesWithBadNumbers.add(file);
    this.opts.logger?.warn(
      { collector: this.spec.type, file, count: n },
      "unparseable numbers reported as 0; repeats are counted in antimetal_collector_malformed_values_total",
    );
  }
  /** Reads a critical file: errors name the path. */
  protected async readCritical(path: string, signal: AbortSignal, verb = "failed to open"): Promise<string> {
    try {
      return await this.io.read(path, signal);
    } catch (e) {
      if (signal.aborted) throw e;
      throw new Error(`${verb} ${path}: ${errorMessage(e)}`);
    }
  }
}

export function spec(
  type: MetricType,
  name: string,
  point: boolean,
  continuous: boolean,
  minKernel: string,
  requiredCapabilities: CollectorSpec["requiredCapabilities"] = [],
): CollectorSpec {
  return { type, name, point, continuous, requiredCapabilities, minKernel };
}

// ---- pkg/proc helpers: boot time, USER_HZ, page size (cached per proc root) ----

const auxvCache = new Map<string, { hz: number; page: number }>();

/** AT_CLKTCK (17) and AT_PAGESZ (6) from <proc>/self/auxv; defaults 100 and 4096 on any problem. */
export async function auxvValues(procRoot: string): Promise<{ hz: number; page: number }> {
  const hit = auxvCache.get(procRoot);
  if (hit) return hit;
  let hz = 100;
  let page = 4096;
  try {
    // In place (procfs answers from memory; read once per proc root): an async read would start Bun's
    // own I/O threads for this one file, two threads that stay for the life of the process.
    const buf = fs.readFileSync(`${procRoot}/self/auxv`);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let off = 0; off + 16 <= buf.byteLength; off += 16) {
      const key = dv.getBigUint64(off, true);
      const val = dv.getBigUint64(off + 8, true);
      if (key === 0n) break;
      if (key === 17n && val > 0n) hz = Number(val);
      if (key === 6n && val > 0n) page = Number(val);
    }
  } catch {
    // no readable auxv (fixture trees, hidepid): the defaults above (USER_HZ 100, 4 KiB pages)
  }
  const v = { hz, page };
  auxvCache.set(procRoot, v);
  return v;
}

/** Exact seconds.fraction text to integer nanoseconds ("1234.56" -> 1234560000000n). */
export function decimalSecondsToNanos(s: string): bigint {
  const m = /^(\d+)(?:\.(\d*))?$/.exec(s.trim());
  if (!m) return 0n;
  const frac = (m[2] ?? "").slice(0, 9).padEnd(9, "0");
  return BigInt(m[1]!) * 1000000000n + BigInt(frac);
}

/** The entries of <sys>/class/net (network interfaces); a failure names the directory. */
export async function listClassNet(io: HostIo, sysRoot: string, signal: AbortSignal): Promise<DirEntry[]> {
  const dir = `${sysRoot}/class/net`;
  try {
    return await io.list(dir, signal);
  } catch (e) {
    if (signal.aborted) throw e;
    throw new Error(`failed to read network interfaces at ${dir}: ${errorMessage(e)}`);
  }
}
