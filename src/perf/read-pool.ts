// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// ReadPool: the agent's own reader threads for host files, apart from Bun's shared I/O threads.
// A call that does not return in time marks its thread stuck; the thread is abandoned (terminated
// once the kernel lets go) and replaced, within a cap on stuck threads, overall and per owner.
// Threads start on demand: the first with the first call, each further one only once a call has
// waited growAfterMs behind busy threads that are up (a Bun Worker is 1.3–3.9 MiB resident that its end does
// not give back, so a burst of quick reads that one thread keeps up with does not start a second).

import * as fs from "node:fs";
import { MessageChannel, type MessagePort, receiveMessageOnPort } from "node:worker_threads";
import type { ReadOp, ReadReply, ReadRequest, ReadWorkerInit } from "./read-protocol.ts";

/** The file(s) an op is about, for messages: a readMany names its first file and how many more. */
function opPath(op: ReadOp): string {
  if (op.op !== "readMany") return op.path;
  return op.paths.length > 1 ? `${op.paths[0]} (+${op.paths.length - 1} more)` : (op.paths[0] ?? "");
}

export interface ReadPoolOptions {
  /** Reader threads doing work (default 2); a stuck one is replaced, so this many keep serving. */
  size?: number;
  /** A call running longer than this marks its thread stuck (default 1000 ms). */
  stuckAfterMs?: number;
  /** Stuck threads kept at most; past this, stuck ones are not replaced (default 8). */
  maxStuck?: number;
  /** Stuck calls one owner (a collector) may have; its further calls fail at once (default 2). */
  maxStuckPerOwner?: number;
  /**
   * A thread beyond the first starts only once the oldest queued call has waited this long behind
   * busy threads (default 50 ms; 0: at once, as many as calls queued up to `size`).
   */
  growAfterMs?: number;
  /** Module URL of read-worker (default: next to this file, or embedded in the compiled binary). */
  workerUrl?: string;
}

interface Job {
  op: ReadOp;
  owner: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** performance.now() when it was queued. */
  queuedAt: number;
}

interface Slot {
  worker: Worker;
  /** Replies arrive here; `signals[0]` counts them (the thread bumps and notifies after each). */
  port: MessagePort;
  signals: Int32Array;
  received: number;
  polling: boolean;
  ended: boolean;
  job?: Job;
  id: number;
  stuck: boolean;
  /** The thread has loaded its module (startup time is not counted as a stuck call, nor as a wait to grow the pool). */
  ready: boolean;
  /** When it did (performance.now()). */
  readyAt?: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** An error with a Node-style code (ENOENT, EACCES, ENOTREG, EFBIG, ...) rebuilt from a reader thread. */
export class ReadError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "ReadError";
  }
}

export class ReadPool {
  private readonly size: number;
  private readonly stuckAfterMs: number;
  private readonly maxStuck: number;
  private readonly maxStuckPerOwner: number;
  private readonly live = new Set<Slot>();
  private readonly stuck = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private nextSlot = 0;
  private closed = false;
  private readonly growAfterMs: number;
  private growTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly opts: ReadPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? 2);
    this.stuckAfterMs = opts.stuckAfterMs ?? 1000;
    this.maxStuck = opts.maxStuck ?? 8;
    this.maxStuckPerOwner = opts.maxStuckPerOwner ?? 2;
    this.growAfterMs = opts.growAfterMs ?? 50;
  }

  /**
   * Runs one call on a reader thread. Rejects at once when `owner` already has too many stuck calls
   * (its calls stuck elsewhere, `stuckElsewhere`, count too: the native lane's, see native-read.ts).
   */
  run<T>(op: ReadOp, owner = "", signal?: AbortSignal, stuckElsewhere: string[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new Error("read pool closed"));
    const ownerStuck = stuckElsewhere.concat(this.stuckOf(owner));
    if (ownerStuck.length >= this.maxStuckPerOwner) {
      return Promise.reject(
        new ReadError(`${opPath(op)}: not read, ${ownerStuck.length} earlier reads are stuck (${ownerStuck.join(", ")})`, "ESTUCK"),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = { op, owner, resolve: resolve as (v: unknown) => void, reject, signal, queuedAt: performance.now() };
      if (signal) {
        // a call still queued when its caller gives up is dropped, so a queue behind stuck threads cannot grow
        job.onAbort = () => {
          const i = this.queue.indexOf(job);
          if (i >= 0) {
            this.queue.splice(i, 1);
            reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
          }
        };
        signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /** Calls running past stuckAfterMs, as "op path (owner)", oldest first. */
  stuckCalls(): string[] {
    return [...this.stuck]
      .filter((s) => s.job)
      .map((s) => `${s.job!.op.op} ${opPath(s.job!.op)}${s.job!.owner ? ` (${s.job!.owner})` : ""}`);
  }

  /** Calls of `owner` not answered yet (queued, running or stuck), as "op path". */
  inflightOf(owner: string): string[] {
    const jobs = [...this.stuck, ...this.live].map((s) => s.job).concat(this.queue);
    return jobs.filter((j): j is Job => j !== undefined && j.owner === owner).map((j) => `${j.op.op} ${opPath(j.op)}`);
  }

  /** Whether a reader thread was ever started (a Worker's memory is not given back when it ends). */
  get started(): boolean {
    return this.nextSlot > 0;
  }

  /** Reader threads alive: working or idle, and abandoned ones still blocked in the kernel. */
  threads(): { live: number; stuck: number } {
    return { live: this.live.size, stuck: this.stuck.size };
  }

  /** Ends every idle or working thread; calls in flight and queued are rejected. Stuck threads end with the process. */
  close(): void {
    this.closed = true;
    clearTimeout(this.growTimer);
    for (const job of this.queue.splice(0)) this.settle(job, new Error("read pool closed"));
    for (const slot of this.live) {
      if (slot.job) this.settle(slot.job, new Error("read pool closed"));
      this.retire(slot);
    }
    this.live.clear();
  }

  private stuckOf(owner: string): string[] {
    const out: string[] = [];
    for (const s of this.stuck) if (s.job && s.job.owner === owner) out.push(opPath(s.job.op));
    return out;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = [...this.live].find((s) => !s.job);
      if (!slot) {
        if (this.live.size >= this.size || this.stuck.size >= this.maxStuck) return;
        if (this.live.size > 0 && !this.mayGrow()) return;
        slot = this.spawn();
      }
      this.assign(slot, this.queue.shift()!);
    }
  }

  /**
   * Whether the oldest queued call has waited growAfterMs behind threads that are up; if not, pump() runs again
   * when it will have. While a thread is still starting (a Worker's start can take longer than growAfterMs on a
   * loaded machine) nothing is counted: that thread serves the queue first, and the wait counts from its start.
   */
  private mayGrow(): boolean {
    let since = this.queue[0]!.queuedAt;
    for (const s of this.live) {
      if (!s.ready) return false; // onReply("ready") pumps again
      if (s.readyAt !== undefined && s.readyAt > since) since = s.readyAt;
    }
    const waited = performance.now() - since;
    if (waited >= this.growAfterMs) return true;
    if (!this.growTimer) {
      this.growTimer = setTimeout(
        () => {
          this.growTimer = undefined;
          if (!this.closed) this.pump();
        },
        Math.ceil(this.growAfterMs - waited),
      );
      this.growTimer.unref?.();
    }
    return false;
  }

  private spawn(): Slot {
    this.nextSlot++;
    const worker = new Worker(this.opts.workerUrl ?? readWorkerUrl());
    worker.unref();
    const channel = new MessageChannel();
    const signals = new Int32Array(new SharedArrayBuffer(4));
    const slot: Slot = {
      worker,
      port: channel.port1,
      signals,
      received: 0,
      polling: false,
      ended: false,
      id: 0,
      stuck: false,
      ready: false,
    };
    worker.onerror = (ev) => this.crashed(slot, new Error(`reader thread failed: ${(ev as ErrorEvent).message ?? String(ev)}`));
    const init: ReadWorkerInit = { port: channel.port2, signals: signals.buffer as SharedArrayBuffer };
    worker.postMessage(init, [channel.port2 as never]);
    this.live.add(slot);
    void this.poll(slot);
    return slot;
  }

  /**
   * Takes the slot's replies while one is expected (its "ready", or a call in flight). Replies are
   * pulled with receiveMessageOnPort after an Atomics.waitAsync wake-up rather than delivered as
   * message events, which a nested event loop (bun test's expect().rejects) does not dispatch.
   */
  private async poll(slot: Slot): Promise<void> {
    if (slot.polling) return;
    slot.polling = true;
    try {
      while (!slot.ended && (!slot.ready || slot.job)) {
        const msg = receiveMessageOnPort(slot.port);
        if (msg) {
          slot.received++;
          this.onReply(slot, msg.message as ReadReply | "ready");
          continue;
        }
        const posted = Atomics.load(slot.signals, 0);
        if (posted === slot.received) {
          const wait = Atomics.waitAsync(slot.signals, 0, posted);
          if (wait.async) await wait.value;
        } else {
          // counted but not yet receivable: give the port a turn
          await new Promise((r) => setTimeout(r, 0));
        }
      }
    } finally {
      slot.polling = false;
    }
  }

  private onReply(slot: Slot, reply: ReadReply | "ready"): void {
    if (reply !== "ready") {
      this.done(slot, reply);
      return;
    }
    slot.ready = true;
    slot.readyAt = performance.now();
    if (slot.job) this.armStuckTimer(slot);
    this.pump();
  }

  private assign(slot: Slot, job: Job): void {
    if (job.signal && job.onAbort) job.signal.removeEventListener("abort", job.onAbort);
    slot.job = job;
    slot.id = this.nextId++;
    if (slot.ready) this.armStuckTimer(slot);
    const req: ReadRequest = { id: slot.id, op: job.op };
    slot.worker.postMessage(req);
    void this.poll(slot);
  }

  private armStuckTimer(slot: Slot): void {
    slot.timer = setTimeout(() => this.markStuck(slot), this.stuckAfterMs);
    slot.timer.unref?.();
  }

  private markStuck(slot: Slot): void {
    if (!slot.job || !this.live.has(slot)) return;
    slot.stuck = true;
    this.live.delete(slot);
    this.stuck.add(slot);
    this.pump();
  }

  private done(slot: Slot, reply: ReadReply): void {
    const job = slot.job;
    if (!job || reply.id !== slot.id) return;
    clearTimeout(slot.timer);
    slot.job = undefined;
    if (reply.ok) job.resolve(reply.value);
    else job.reject(new ReadError(reply.message, reply.code));
    if (slot.stuck) {
      // the kernel let go: the thread can end now, and the pool may grow back to its size
      this.stuck.delete(slot);
      this.retire(slot);
    }
    this.pump();
  }

  private crashed(slot: Slot, err: Error): void {
    clearTimeout(slot.timer);
    if (slot.job) this.settle(slot.job, err);
    slot.job = undefined;
    this.live.delete(slot);
    this.stuck.delete(slot);
    this.retire(slot);
    this.pump();
  }

  private settle(job: Job, err: Error): void {
    if (job.signal && job.onAbort) job.signal.removeEventListener("abort", job.onAbort);
    job.reject(err);
  }

  private retire(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.ended = true;
    slot.worker.onerror = null;
    slot.port.close();
    slot.worker.terminate();
  }
}

/**
 * read-worker's module URL. From source it sits next to this file; in a compiled binary it is an
 * extra entrypoint under /$bunfs/root (path depends on the entrypoints' common root), so it is looked up.
 */
export function readWorkerUrl(): string {
  if (!import.meta.url.includes("$bunfs")) return new URL("./read-worker.ts", import.meta.url).href;
  const found = findEmbedded("/$bunfs/root", "read-worker.js", 4);
  if (!found) throw new Error("reader thread is not embedded: scripts/build.ts must pass src/perf/read-worker.ts as an entrypoint");
  return found;
}

function findEmbedded(dir: string, name: string, depth: number): string | undefined {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT" || (e as { code?: string }).code === "ENOTDIR") return undefined;
    throw e;
  }
  if (entries.some((e) => e.name === name)) return `${dir}/${name}`;
  if (depth <= 0) return undefined;
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const f = findEmbedded(`${dir}/${e.name}`, name, depth - 1);
    if (f) return f;
  }
  return undefined;
}
