// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * A ring buffer read on the main thread, for low-rate tracers (procexit, oomkill): the mapped ring
 * (src/ebpf/ringbuf-map.ts, same memory ordering) is checked on a timer and its committed records
 * are handed to onRecord in place (no copy, no reader thread). A Bun Worker costs 1.3–3.9 MiB
 * resident that its end does not give back, so a tracer whose records come a few per second does
 * without one. The check is two loads (producer and consumer positions) when the ring is empty;
 * after a drain that found records it runs again at once-ish (1 ms), so a burst is read as fast as
 * the main thread can, and the timer's period bounds how long a record waits otherwise (the reader
 * Worker's poll timeout plays that part there).
 */

import type { LoadedLibbpf } from "../../ffi/loader.ts";
import { type BoundMeter, meterBound } from "../metrics/registry.ts";
import { errorMessage } from "../util/errors.ts";
import type { RingBufferReaderOptions } from "./ringbuf.ts";
import { MappedRing, ringSize } from "./ringbuf-map.ts";
import { forEachBatchRecord } from "./ringbuf-walk.ts";

/** What both ring readers offer the tracer lifecycle (src/ebpf/tracer-attach.ts). */
export interface RingReader {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface InlineRingReaderOptions extends Omit<RingBufferReaderOptions, "maxInflight" | "libbpf"> {
  libbpf: LoadedLibbpf;
}

/** After a drain that found records, the next check runs this soon (ms): a burst is followed closely. */
const BUSY_RECHECK_MS = 1;

export class InlineRingReader implements RingReader {
  private ring: MappedRing | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly meter: BoundMeter;
  private readonly batchBytes: number;
  private readonly pollMs: number;
  private readonly sink = (view: DataView, _records: number, oversized: number): void => {
    try {
      forEachBatchRecord(view, this.opts.onRecord);
    } finally {
      this.opts.onBatchEnd?.();
      if (oversized > 0) this.opts.onOversized?.(oversized);
    }
  };

  constructor(private readonly opts: InlineRingReaderOptions) {
    // The same queue metric as the Worker reader: here at most one batch is ever held (the one being read).
    this.meter = meterBound(opts.queueName ?? "ebpf_ringbuf_batches", 1);
    this.batchBytes = opts.batchBytes ?? 1 << 20;
    this.pollMs = opts.pollTimeoutMs ?? 100;
  }

  /** Maps the ring and starts the timed check (resolves at once: there is no thread to wait for). */
  async start(): Promise<void> {
    if (this.ring) throw new Error("ring buffer reader already running");
    this.ring = new MappedRing(ringSize(this.opts.libbpf.lib, this.opts.mapFd), this.opts.mapFd);
    this.schedule(this.pollMs);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref?.();
  }

  private tick(): void {
    const ring = this.ring;
    if (!ring) return;
    let n = 0;
    try {
      if (ring.pending() > 0) n = this.drain(ring);
    } catch (e) {
      this.opts.onError?.(new Error(`ring buffer: ${errorMessage(e)}`));
    }
    this.schedule(n > 0 ? BUSY_RECHECK_MS : this.pollMs);
  }

  private drain(ring: MappedRing): number {
    this.meter.depth(1);
    try {
      return ring.drainInPlace(this.batchBytes, this.sink);
    } finally {
      this.meter.depth(0);
    }
  }

  /** Stops the timer, reads what the kernel already committed (nothing produced before stop is lost) and unmaps the ring. */
  async stop(): Promise<void> {
    const ring = this.ring;
    if (!ring) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      this.drain(ring);
    } catch (e) {
      this.opts.onError?.(new Error(`ring buffer: ${errorMessage(e)}`));
    } finally {
      ring.close();
      this.ring = undefined;
    }
  }
}
