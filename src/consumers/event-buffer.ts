// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A consumer's own bounded event buffer: push never blocks (a full buffer refuses the event and counts it
// under antimetal_queue_dropped_total{queue="consumer_<name>",reason}), and the consumer's loop wakes when
// the buffer reaches its batch size or on its timer.

import { queueDropped } from "../metrics/registry.ts";
import type { MetricEvent } from "../perf/collector.ts";
import { BoundedQueue } from "../util/bounded-queue.ts";

/** Bounded FIFO of metric events with a wake-up for the consumer's loop. */
export class EventBuffer {
  private readonly queue: BoundedQueue<MetricEvent>;
  private waiter: (() => void) | undefined;
  private closed = false;
  dropped = 0;

  constructor(
    consumer: string,
    capacity: number,
    /** Wake the loop once this many events wait (the export batch size). */
    private readonly wakeAt = 1,
  ) {
    this.queue = new BoundedQueue(`consumer_${consumer}`, capacity);
  }

  get length(): number {
    return this.queue.length;
  }

  get capacity(): number {
    return this.queue.capacity;
  }

  /** Adds an event; false (counted under `full` or `stopped`) when refused. */
  push(event: MetricEvent): boolean {
    if (this.closed) {
      queueDropped.inc({ queue: this.queue.name, reason: "stopped" });
      this.dropped++;
      return false;
    }
    if (!this.queue.push(event, "full")) {
      this.dropped++;
      return false;
    }
    if (this.queue.length >= this.wakeAt) this.wake();
    return true;
  }

  /** Removes up to `max` events, oldest first. */
  take(max = Infinity): MetricEvent[] {
    return this.queue.drain(max);
  }

  /** Resolves when the batch size is reached, the timeout passes, or the signal aborts. */
  wait(timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.queue.length >= this.wakeAt || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        this.waiter = undefined;
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      signal.addEventListener("abort", done, { once: true });
      this.waiter = done;
    });
  }

  /** Refuses every later event (counted under `stopped`). */
  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    this.waiter?.();
  }
}
