// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// FIFO queue with a hard capacity: a push into a full queue is refused and counted on /metrics, never
// dropped silently.

import { type BoundMeter, meterBound } from "../metrics/registry.ts";

/**
 * FIFO with a hard capacity. A push into a full queue drops the new entry, counts it under
 * `reason`, and returns false, so the producer knows; nothing is dropped silently.
 */
export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;
  private readonly meter: BoundMeter;

  constructor(
    readonly name: string,
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity <= 0)
      throw new Error(`queue ${name}: capacity must be a positive integer, got ${capacity}`);
    this.meter = meterBound(name, capacity);
  }

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T, reason = "full"): boolean {
    if (this.length >= this.capacity) {
      this.meter.dropped(reason);
      return false;
    }
    this.items.push(item);
    this.meter.depth(this.length);
    return true;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.meter.depth(this.length);
    return item;
  }

  /** Removes and returns up to `max` entries, oldest first. */
  drain(max = Infinity): T[] {
    const out: T[] = [];
    while (out.length < max && this.length > 0) out.push(this.shift()!);
    return out;
  }
}
