// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// NativeLane: host-file calls on Bun's own I/O threads (node:fs/promises), one call at a time, each
// raced against a deadline, so a quiet agent needs no reader Worker (a Bun Worker is ~5 MiB resident,
// Bun's I/O threads ~1 MiB). A call that misses the deadline is stuck: it holds one of Bun's I/O
// threads until the kernel answers, and the lane closes for good (queued and later calls go to the
// read pool's Workers). So at most one of Bun's I/O threads is ever held by a hung file.

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { Counter } from "prom-client";
import { registry } from "../metrics/registry.ts";
import { fileKind, HostFileError } from "./bounded-read.ts";
import type { ReadOp, WireDirent, WireFileResult, WireStat, WireStatfs } from "./read-protocol.ts";

const nativeStuck = new Counter({
  name: "antimetal_host_file_native_calls_stuck_total",
  help: "Host-file calls on Bun's I/O threads that missed their deadline (the lane then hands every call to the reader threads), by owner.",
  labelNames: ["owner"] as const,
  registers: [registry],
});

/** Does one call the way a reader thread would (read-worker.ts), on Bun's I/O threads. */
export type NativeRunner = (op: ReadOp) => Promise<unknown>;

export interface NativeLaneOptions {
  /** A call running longer than this is stuck and closes the lane (default 500 ms). */
  deadlineMs?: number;
  /** The calls themselves (default runNative; unit tests pass their own). */
  runner?: NativeRunner;
}

interface LaneCall {
  op: ReadOp;
  owner: string;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  fallback: () => Promise<unknown>;
}

function describe(c: LaneCall): string {
  const path =
    c.op.op === "readMany" ? (c.op.paths[0] ?? "") + (c.op.paths.length > 1 ? ` (+${c.op.paths.length - 1} more)` : "") : c.op.path;
  return `${c.op.op} ${path}`;
}

export class NativeLane {
  private readonly deadlineMs: number;
  private readonly runner: NativeRunner;
  private readonly queue: LaneCall[] = [];
  private running: LaneCall | undefined;
  /** The call that missed its deadline, until the kernel answers it. */
  private stuckCall: LaneCall | undefined;
  private closedFor: string | undefined;

  constructor(opts: NativeLaneOptions = {}) {
    this.deadlineMs = opts.deadlineMs ?? 500;
    this.runner = opts.runner ?? runNative;
  }

  /** Whether calls may still come here (no call has ever missed its deadline). */
  get open(): boolean {
    return this.closedFor === undefined;
  }

  /** Why the lane closed (undefined while open). */
  get closedReason(): string | undefined {
    return this.closedFor;
  }

  /**
   * Runs `op` here when the lane is open (after the calls queued before it), else `fallback()` (the
   * read pool). A call that misses its deadline keeps its caller waiting for the kernel's answer, as a
   * stuck reader thread does; the callers' own deadlines (AbortSignal) are raced by HostIo.
   */
  run<T>(op: ReadOp, owner: string, fallback: () => Promise<T>): Promise<T> {
    if (!this.open) return fallback();
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, owner, resolve: resolve as (v: unknown) => void, reject, fallback });
      this.pump();
    });
  }

  /** Closes the lane for good: queued calls go to their fallbacks now. */
  close(reason: string): void {
    this.closedFor ??= reason;
    for (const c of this.queue.splice(0)) c.fallback().then(c.resolve, c.reject);
  }

  /** The call stuck here, as "op path (owner)" (at most one). */
  stuckCalls(): string[] {
    const c = this.stuckCall;
    return c ? [`${describe(c)}${c.owner ? ` (${c.owner})` : ""}`] : [];
  }

  /** `owner`'s stuck call here, as "op path" (for the read pool's per-owner cap). */
  stuckOf(owner: string): string[] {
    return this.stuckCall?.owner === owner ? [describe(this.stuckCall)] : [];
  }

  /** `owner`'s calls not answered yet here (running, stuck or queued), as "op path". */
  inflightOf(owner: string): string[] {
    const calls = [this.stuckCall, this.running, ...this.queue];
    return calls.filter((c): c is LaneCall => c !== undefined && c.owner === owner).map(describe);
  }

  private pump(): void {
    if (this.running || !this.open) return;
    const call = this.queue.shift();
    if (!call) return;
    this.running = call;
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      this.running = undefined;
      this.stuckCall = call;
      nativeStuck.inc({ owner: call.owner });
      this.close(`${describe(call)} did not return within ${this.deadlineMs} ms`);
    }, this.deadlineMs);
    const settle = (ok: boolean, v: unknown) => {
      clearTimeout(timer);
      if (late) {
        if (this.stuckCall === call) this.stuckCall = undefined; // the kernel let go; the lane stays closed
      } else {
        this.running = undefined;
      }
      if (ok) call.resolve(v);
      else call.reject(v);
      if (!late) this.pump();
    };
    let p: Promise<unknown>;
    try {
      p = this.runner(call.op);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => settle(true, v),
      (e) => settle(false, e),
    );
  }
}

const SCRATCH_BYTES = 64 * 1024;
/** One call runs at a time, so one buffer serves every read (the text is copied out). */
const scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

/**
 * readBounded (bounded-read.ts) on Bun's I/O threads: opened non-blocking, the open file checked with
 * fstat (anything but a regular file refused unread with ENOTREG), read until EOF, more than
 * `maxBytes` an EFBIG error.
 */
export async function readBoundedAsync(path: string, maxBytes: number, regularOnly: boolean): Promise<string> {
  const fh = await fsp.open(path, regularOnly ? fs.constants.O_RDONLY | fs.constants.O_NONBLOCK : fs.constants.O_RDONLY);
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: "EISDIR" });
    if (regularOnly && !st.isFile())
      throw new HostFileError("ENOTREG", `${path} is a ${fileKind(st)}, not a regular file: not read (it could block)`);
    const cap = maxBytes + 1;
    let buf = st.size < SCRATCH_BYTES ? scratch : Buffer.allocUnsafe(Math.min(cap, st.size + 1));
    let len = 0;
    for (;;) {
      const limit = Math.min(cap, buf.length);
      if (len === limit) {
        if (len > maxBytes) break;
        const bigger = Buffer.allocUnsafe(Math.min(cap, buf.length * 2));
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
        continue;
      }
      const { bytesRead } = await fh.read(buf, len, limit - len, null);
      if (bytesRead === 0) break;
      len += bytesRead;
    }
    if (len > maxBytes) throw new HostFileError("EFBIG", `${path} is larger than the ${maxBytes}-byte read cap: not read`);
    return buf.toString("utf8", 0, len);
  } finally {
    await fh.close();
  }
}

/**
 * A file on a verified procfs mount (a process's cmdline), in one call on Bun's I/O threads: procfs has
 * no FIFOs or devices to refuse, and the kernel bounds what it prints; more than `maxBytes` is an EFBIG
 * error. Fewer calls than readBoundedAsync's open, fstat, reads and close: ~1 MiB less resident at idle
 * (the JIT code and promise machinery of five calls per file).
 */
export async function readProcfsAsync(path: string, maxBytes: number): Promise<string> {
  const buf = await fsp.readFile(path);
  if (buf.length > maxBytes) throw new HostFileError("EFBIG", `${path} is larger than the ${maxBytes}-byte read cap: not read`);
  return buf.toString("utf8");
}

function kind(d: fs.Dirent): WireDirent["kind"] {
  if (d.isDirectory()) return "dir";
  if (d.isFile()) return "file";
  if (d.isSymbolicLink()) return "link";
  return "other";
}

function errorCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

/** Every ReadOp on node:fs/promises, with the results a reader thread sends (read-protocol.ts). */
export async function runNative(op: ReadOp): Promise<unknown> {
  switch (op.op) {
    case "read":
      return op.procfs ? readProcfsAsync(op.path, op.maxBytes) : readBoundedAsync(op.path, op.maxBytes, op.regularOnly);
    case "readMany": {
      const out: WireFileResult[] = [];
      for (const p of op.paths) {
        try {
          out.push({ text: await readBoundedAsync(p, op.maxBytes, op.regularOnly) });
        } catch (e) {
          out.push({ code: errorCode(e) ?? "error", message: e instanceof Error ? e.message : String(e) });
        }
      }
      return out;
    }
    case "list":
      return (await fsp.readdir(op.path, { withFileTypes: true })).map((d): WireDirent => ({ name: d.name, kind: kind(d) }));
    case "stat": {
      const s = await fsp.stat(op.path);
      return { isDirectory: s.isDirectory(), isFile: s.isFile(), size: s.size } satisfies WireStat;
    }
    case "statfs": {
      const s = await fsp.statfs(op.path, { bigint: true });
      return {
        type: s.type,
        bsize: s.bsize,
        blocks: s.blocks,
        bfree: s.bfree,
        bavail: s.bavail,
        files: s.files,
        ffree: s.ffree,
      } satisfies WireStatfs;
    }
    case "readlink":
      return fsp.readlink(op.path);
    case "realpath":
      return fsp.realpath(op.path);
  }
}
