// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Main-thread side of a BPF ring buffer: starts src/ebpf/ringbuf-worker.ts, hands it the map fd
 * and the ring's size, and calls onRecord for each record of each batch it posts (a batch is a
 * copy of consecutive ring records, headers included; discarded records are skipped here).
 */

import { readdirSync } from "node:fs";
import type { LoadedLibbpf } from "../../ffi/loader.ts";
import { type BoundMeter, meterBound } from "../metrics/registry.ts";
import { ringSize } from "./ringbuf-map.ts";
import { RECYCLE_MIN_BYTES, type RingWorkerInit, type RingWorkerMessage } from "./ringbuf-protocol.ts";
import { forEachBatchRecord } from "./ringbuf-walk.ts";

/** The largest batch the reader copies out of the ring at once (see RingBufferReaderOptions.batchBytes). */
export const DEFAULT_BATCH_BYTES = 1 << 20;

export interface RingBufferReaderOptions {
  libbpf: LoadedLibbpf;
  mapFd: number;
  /**
   * Called for every record; `view` covers the batch, the record is [offset, offset+length). The
   * view is valid during the call only (a large batch's memory is reused): copy what you keep.
   */
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
  /** Where processed large batches go back to the worker for reuse. */
  private recycle: MessagePort | undefined;
  private readonly control = new SharedArrayBuffer(8);
  private readonly ctrl = new Int32Array(this.control);
  private stopped: Promise<void> | undefined;
  private resolveStopped: (() => void) | undefined;
  private meter: BoundMeter;
  private readonly maxInflight: number;
  private readonly onRecord = (view: DataView, offset: number, length: number): void => this.opts.onRecord(view, offset, length);

  constructor(private readonly opts: RingBufferReaderOptions) {
    this.maxInflight = opts.maxInflight ?? 64;
    this.meter = meterBound(opts.queueName ?? "ebpf_ringbuf_batches", this.maxInflight);
  }

  /** Resolves once the worker polls the ring. */
  start(): Promise<void> {
    if (this.worker) return Promise.reject(new Error("ring buffer reader already running"));
    let size: number;
    try {
      size = ringSize(this.opts.libbpf.lib, this.opts.mapFd);
    } catch (e) {
      return Promise.reject(e);
    }
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
            this.consume(m.buf, m.len);
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
      const channel = new MessageChannel();
      this.recycle = channel.port1;
      const init: RingWorkerInit = {
        recycle: channel.port2,
        ringSize: size,
        mapFd: this.opts.mapFd,
        control: this.control,
        pollTimeoutMs: this.opts.pollTimeoutMs ?? 100,
        batchBytes: this.opts.batchBytes ?? DEFAULT_BATCH_BYTES,
        maxInflight: this.maxInflight,
      };
      worker.postMessage(init, [channel.port2]);
    });
  }

  private consume(buf: ArrayBuffer, len: number): void {
    try {
      forEachBatchRecord(new DataView(buf, 0, len), this.onRecord);
    } finally {
      this.opts.onBatchEnd?.();
      if (buf.byteLength >= RECYCLE_MIN_BYTES) this.recycle?.postMessage(buf, [buf]);
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
    this.recycle?.close();
    this.recycle = undefined;
    this.worker = undefined;
  }
}
