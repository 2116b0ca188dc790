// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Background WAL checkpoints in a Worker thread, so commits never copy the WAL on the event loop.

import type { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import { Counter, Gauge } from "prom-client";
import type { Logger } from "../log/logger.ts";
import { registry } from "../metrics/registry.ts";
import { errorMessage } from "../util/errors.ts";

function counter(name: string, help: string): Counter {
  return (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, registers: [registry] });
}

const checkpointFailures = counter(
  "antimetal_store_checkpoint_failures_total",
  "Background WAL checkpoints that failed (disk full, store no longer writable...). Logged once per change between failing and working.",
);
const checkpointFailing =
  (registry.getSingleMetric("antimetal_store_checkpoint_failing") as Gauge | undefined) ??
  new Gauge({
    name: "antimetal_store_checkpoint_failing",
    help: "1 while background WAL checkpoints keep failing, else 0.",
    registers: [registry],
  });

/**
 * Moves WAL checkpoints off the event loop. With SQLite's autocheckpoint, the commit that crosses
 * 1000 WAL pages copies them into the database file inside the committing call: 10-100 ms of a
 * blocked event loop on this machine. Here a Worker thread with its own connection runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs` (PASSIVE never blocks the writer): it copies
 * WAL frames into the database file off the event loop. A PASSIVE checkpoint cannot reset the WAL
 * while the writer keeps appending, so the main connection keeps an autocheckpoint at
 * `backstopPages` (16 MiB): when a long burst of synchronous batches reaches it, the commit's own checkpoint finds most
 * frames already copied, copies the tail, and the WAL restarts. If the worker fails to start or
 * dies, the main connection goes back to the default autocheckpoint (logged).
 *
 * The worker starts only once the store is being written: a Bun Worker costs 2.5-4.5 MiB resident
 * that its end does not give back, and an idle agent writes a few rows a minute. Until then the main
 * connection checkpoints by itself every `idlePages` (256: ~1 MiB, a few ms), and a check every
 * `watchMs` (1 s) starts the worker when `startRows` rows (256) were written since the last check
 * (SQLite's total_changes()); an applyAsync of 2048 operations or more starts it at once.
 *
 * The worker is created from a Blob URL, so it works the same in `bun build --compile` binaries
 * (no extra entrypoint).
 */
const WORKER_SOURCE = `
import { Database } from "bun:sqlite";
let db;
let timer;
let run;
self.onmessage = (e) => {
  const m = e.data;
  if (m.type === "open") {
    try {
      db = new Database(m.path, { readwrite: true, create: false });
      db.run("PRAGMA busy_timeout = " + m.busyTimeoutMs);
      const q = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
      run = (requested) => {
        try {
          const t = performance.now();
          const r = q.values()[0];
          postMessage({ type: "checkpoint", busy: r[0], log: r[1], checkpointed: r[2], ms: performance.now() - t, requested });
        } catch (err) {
          postMessage({ type: "error", message: String(err && err.message || err), requested });
        }
      };
      timer = setInterval(() => run(false), m.intervalMs);
      postMessage({ type: "ready" });
    } catch (err) {
      postMessage({ type: "error", fatal: true, message: String(err && err.message || err) });
    }
  } else if (m.type === "checkpoint") {
    if (run) run(true);
  } else if (m.type === "close") {
    clearInterval(timer);
    // shutting down: this connection only read the WAL; the store's own close reports real problems
    try { db && db.close(true); } catch (_ignoredAtShutdown) { /* see above */ }
    Atomics.store(m.done, 0, 1);
    Atomics.notify(m.done, 0);
  }
};
`;

let workerUrl: string | undefined;

export interface CheckpointStats {
  checkpoints: number;
  lastMs: number;
  maxMs: number;
  /** WAL frames at the last checkpoint. */
  lastLogFrames: number;
  healthy: boolean;
  /** Failed checkpoints since open. */
  failures: number;
  /** The last checkpoint failed (a warning was logged when this turned true, an info line when it turned false). */
  failing: boolean;
}

export class Checkpointer {
  private worker: Worker | undefined;
  private readonly watchTimer: ReturnType<typeof setInterval>;
  /** The worker failed or exited: the main connection checkpoints for the rest of the store's life. */
  private gaveUp = false;
  private closed = false;
  private readonly backstopPages: number;
  private readonly walPath: string;
  private waiter: ((complete: boolean) => void) | undefined;
  /** applyAsync waits for a complete checkpoint when the WAL is larger than this. */
  readonly drainBytes: number;
  readonly stats: CheckpointStats = { checkpoints: 0, lastMs: 0, maxMs: 0, lastLogFrames: 0, healthy: false, failures: 0, failing: false };

  constructor(
    private readonly db: Database,
    private readonly path: string,
    private readonly log: Logger,
    private readonly opts: {
      intervalMs?: number;
      busyTimeoutMs?: number;
      backstopPages?: number;
      drainBytes?: number;
      idlePages?: number;
      startRows?: number;
      watchMs?: number;
    } = {},
  ) {
    this.backstopPages = opts.backstopPages ?? 4096;
    this.drainBytes = opts.drainBytes ?? 8 * 1024 * 1024;
    this.walPath = `${path}-wal`;
    this.db.run(`PRAGMA wal_autocheckpoint = ${opts.idlePages ?? 256}`);
    const changes = db.prepare("SELECT total_changes()");
    const written = () => changes.values()[0]![0] as number;
    let seen = written();
    this.watchTimer = setInterval(() => {
      const now = written();
      if (now - seen >= (opts.startRows ?? 256)) this.start();
      seen = now;
    }, opts.watchMs ?? 1000);
    this.watchTimer.unref?.();
  }

  /** Starts the worker (once; nothing after close or after it failed). */
  start(): void {
    if (this.worker || this.closed || this.gaveUp) return;
    clearInterval(this.watchTimer);
    try {
      workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
      const w = new Worker(workerUrl);
      this.worker = w;
      w.onmessage = (e: MessageEvent) => this.onMessage(e.data);
      w.onerror = (e) => this.fallback(`checkpoint worker error: ${(e as ErrorEvent).message ?? e}`);
      w.addEventListener("close", () => {
        if (!this.closed) this.fallback("checkpoint worker exited");
      });
      w.postMessage({
        type: "open",
        path: this.path,
        intervalMs: this.opts.intervalMs ?? 200,
        busyTimeoutMs: this.opts.busyTimeoutMs ?? 5000,
      });
      w.unref();
    } catch (err) {
      this.fallback(`checkpoint worker did not start: ${errorMessage(err)}`);
    }
  }

  private onMessage(m: {
    type: string;
    ms?: number;
    log?: number;
    checkpointed?: number;
    message?: string;
    fatal?: boolean;
    requested?: boolean;
  }): void {
    if (this.closed) return;
    if (m.requested && this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(m.type === "checkpoint" && m.log === m.checkpointed);
    }
    if (m.type === "ready") {
      this.stats.healthy = true;
      this.db.run(`PRAGMA wal_autocheckpoint = ${this.backstopPages}`);
    } else if (m.type === "checkpoint") {
      this.recovered();
      this.stats.checkpoints++;
      this.stats.lastMs = m.ms ?? 0;
      this.stats.maxMs = Math.max(this.stats.maxMs, m.ms ?? 0);
      this.stats.lastLogFrames = m.log ?? 0;
    } else if (m.type === "error") {
      if (m.fatal) this.fallback(`checkpoint worker: ${m.message}`);
      else this.failed(m.message ?? "unknown error");
    }
  }

  /** A failed checkpoint: counted every time, logged only when checkpoints start failing (it repeats every interval). */
  private failed(message: string): void {
    this.stats.failures++;
    checkpointFailures.inc();
    if (this.stats.failing) return;
    this.stats.failing = true;
    checkpointFailing.set(1);
    this.log.warn(
      { err: message, path: this.walPath },
      "background WAL checkpoints failing (disk full or store not writable?); retrying quietly until one succeeds",
    );
  }

  private recovered(): void {
    if (!this.stats.failing) return;
    this.stats.failing = false;
    checkpointFailing.set(0);
    this.log.info({ failures: this.stats.failures, path: this.walPath }, "background WAL checkpoints work again");
  }

  get healthy(): boolean {
    return this.stats.healthy && !this.closed;
  }

  /** Current WAL file size (it only shrinks when the WAL restarts after a complete checkpoint). */
  walBytes(): number {
    try {
      return statSync(this.walPath).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw err;
    }
  }

  /**
   * Asks the worker for a checkpoint now and resolves when it reports (true when it copied every
   * frame, so the next write restarts the WAL). The caller awaits instead of writing, so the worker
   * can catch up: used by applyAsync between chunks of a long burst. Never rejects.
   */
  drain(timeoutMs = 5000): Promise<boolean> {
    if (!this.worker || !this.stats.healthy || this.closed) return Promise.resolve(false);
    if (this.waiter) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(false);
      }, timeoutMs);
      this.waiter = (complete) => {
        clearTimeout(timer);
        resolve(complete);
      };
      this.worker!.postMessage({ type: "checkpoint" });
    });
  }

  private fallback(reason: string): void {
    if (this.closed) return;
    this.gaveUp = true;
    this.stats.healthy = false;
    try {
      this.db.run("PRAGMA wal_autocheckpoint = 1000");
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, "resetting wal_autocheckpoint failed (store closing)");
    }
    this.log.warn({ reason }, "WAL checkpoints back on the main thread (autocheckpoint)");
    this.worker?.terminate();
    this.worker = undefined;
  }

  /**
   * Stops the worker and waits (at most 2 s, normally well under 1 ms) until its connection is
   * closed, so the store's close really releases the file. The main connection's close, being the
   * last one, does the final checkpoint.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchTimer);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(false);
    }
    if (this.worker) {
      const done = new Int32Array(new SharedArrayBuffer(4));
      this.worker.postMessage({ type: "close", done });
      Atomics.wait(done, 0, 0, 2000);
      this.worker.terminate();
    }
    this.worker = undefined;
    try {
      this.db.run("PRAGMA wal_autocheckpoint = 1000");
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, "resetting wal_autocheckpoint failed (store closing)");
    }
    if (this.stats.failing) checkpointFailing.set(0);
  }
}
