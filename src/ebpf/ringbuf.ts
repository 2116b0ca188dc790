// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Main-thread side of a BPF ring buffer: starts src/ebpf/ringbuf-worker.ts, hands it the map fd
 * and the libbpf path, and calls onRecord for each record of each batch it posts.
 */

import { readdirSync } from "node:fs";
import type { LoadedLibbpf } from "../../ffi/loader.ts";
import { type BoundMeter, meterBound } from "../metrics/registry.ts";
import type { RingWorkerInit, RingWorkerMessage } from "./ringbuf-protocol.ts";

export interface RingBufferReaderOptions {
  libbpf: LoadedLibbpf;
  mapFd: number;
  /** Called for every record; `view` covers the batch, the record is [offset, offset+length). */
  onRecord: (view: DataView, offset: number, length: number) => void;
  /** Called after each batch's records (to publish per-batch counters once). */
  onBatchEnd?: () => void;
  /** Called with the count of records the reader had to drop (larger than a batch). */
  onOversized?: (n: number) => void;
  onError?: (err: Error) => void;
  pollTimeoutMs?: number;
  batchBytes?: number;
  maxInflight?: number;
  /** Queue name for antimetal_queue_* metrics. */
  queueName?: string;
}

/**
 * The worker's module specifier. From source it sits next to this file. In a compiled binary it
 * is an extra entrypoint whose /$bunfs path depends on the entrypoints' common root (e.g.
 * /$bunfs/root/ebpf/ringbuf-worker.js when built from src/main.ts), so it is looked up.
 */
export function ringWorkerUrl(): string {
  if (!import.meta.url.includes("$bunfs")) return new URL("./ringbuf-worker.ts", import.meta.url).href;
  const root = "/$bunfs/root";
  const found = findFile(root, "ringbuf-worker.js", 4);
  if (!found) throw new Error("ring buffer worker is not embedded: scripts/build.ts must pass src/ebpf/ringbuf-worker.ts as an entrypoint");
  return found;
}

function findFile(dir: string, name: string, depth: number): string | undefined {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    // an unreadable or vanished directory holds nothing to find
    return undefined;
  }
  for (const e of entries) if (e.name === name) return `${dir}/${name}`;
  if (depth <= 0) return undefined;
  for (const e of entries) {
    if (e.isDirectory()) {
      const f = findFile(`${dir}/${e.name}`, name, depth - 1);
      if (f) return f;
    }
  }
  return undefined;
}

export class RingBufferReader {
  private worker: Worker | undefined;
  private readonly control = new SharedArrayBuffer(8);
  private readonly ctrl = new Int32Array(this.control);
  private stopped: Promise<void> | undefined;
  private resolveStopped: (() => void) | undefined;
  private meter: BoundMeter;
  private readonly maxInflight: number;

  constructor(private readonly opts: RingBufferReaderOptions) {
    this.maxInflight = opts.maxInflight ?? 64;
    this.meter = meterBound(opts.queueName ?? "ebpf_ringbuf_batches", this.maxInflight);
  }

  /** Resolves once the worker polls the ring. */
  start(): Promise<void> {
    if (this.worker) return Promise.reject(new Error("ring buffer reader already running"));
    const worker = new Worker(ringWorkerUrl());
    this.worker = worker;
    this.stopped = new Promise((r) => (this.resolveStopped = r));
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.onerror = (ev) => {
        const err = new Error(`ring buffer worker failed: ${(ev as ErrorEvent).message ?? String(ev)}`);
        if (!ready) reject(err);
        else this.opts.onError?.(err);
        this.resolveStopped?.();
      };
      worker.onmessage = (ev: MessageEvent<RingWorkerMessage>) => {
        const m = ev.data;
        switch (m.type) {
          case "ready":
            ready = true;
            resolve();
            break;
          case "batch":
            this.consume(m.buf, m.count);
            if (m.oversized > 0) this.opts.onOversized?.(m.oversized);
            break;
          case "error": {
            const err = new Error(m.message);
            if (!ready) reject(err);
            else this.opts.onError?.(err);
            break;
          }
          case "stopped":
            this.resolveStopped?.();
            if (!ready) reject(new Error("ring buffer worker stopped before it was ready"));
            break;
        }
      };
      const init: RingWorkerInit = {
        libbpfPath: this.opts.libbpf.path,
        mapFd: this.opts.mapFd,
        control: this.control,
        pollTimeoutMs: this.opts.pollTimeoutMs ?? 100,
        batchBytes: this.opts.batchBytes ?? 1 << 20,
        maxInflight: this.maxInflight,
      };
      worker.postMessage(init);
    });
  }

  private consume(buf: ArrayBuffer, count: number): void {
    try {
      const view = new DataView(buf);
      let off = 0;
      for (let i = 0; i < count && off + 4 <= buf.byteLength; i++) {
        const len = view.getUint32(off, true);
        off += 4;
        this.opts.onRecord(view, off, Math.min(len, buf.byteLength - off));
        off += len;
      }
    } finally {
      this.opts.onBatchEnd?.();
      const left = Atomics.sub(this.ctrl, 1, 1) - 1;
      this.meter.depth(left);
      Atomics.notify(this.ctrl, 1);
    }
  }

  /** Stops polling, drains what was committed, frees the ring buffer and ends the worker. */
  async stop(timeoutMs = 3000): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    Atomics.store(this.ctrl, 0, 1);
    Atomics.notify(this.ctrl, 1);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.stopped, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    // Let queued batch messages be delivered before terminating.
    await new Promise((r) => setTimeout(r, 0));
    worker.terminate();
    this.worker = undefined;
  }
}
