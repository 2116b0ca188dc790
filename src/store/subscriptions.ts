// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The store's subscribers and the fan-out of committed events: each gets its snapshot first, then the
// live events of later commits in commit order, with no gap and no duplicate.

import { clone } from "@bufbuild/protobuf";
import type { Logger } from "../log/logger.ts";
import { ObjectSchema, type TypeDescriptor } from "../proto/gen/resource/v1/object_pb.ts";
import { matchesFilters } from "./filter.ts";
import type { StoreEvent, StoreEventType, Subscription, WireObject } from "./types.ts";

export interface PendingEvent {
  type: StoreEventType;
  obj: WireObject;
  /** Number of the transaction that committed it. */
  commit: number;
}

interface Sub {
  filters: TypeDescriptor[];
  handler: (e: StoreEvent) => void;
  snapshot: WireObject[] | null;
  closed: boolean;
  /** Commits up to this number are in the snapshot: their events are not delivered. */
  after: number;
}

/**
 * The store's subscribers and the fan-out of committed events to them. A subscriber first gets
 * its snapshot (one ADD), then the live events of every later commit, in commit order; events of
 * a commit made by a handler go after the ones being delivered.
 */
export class Subscriptions {
  private readonly subs = new Set<Sub>();
  private readonly deliveryQueue: PendingEvent[] = [];
  private delivering = false;

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.subs.size;
  }

  /** Whether an open subscriber's filters take objects of (kind, type): the store builds an event only then. */
  wants(kind: string, type: string): boolean {
    for (const sub of this.subs) {
      if (!sub.closed && matchesFilters(sub.filters, kind, type)) return true;
    }
    return false;
  }

  /**
   * Registers a subscriber. `readSnapshot` reads the current state (called synchronously, so every
   * commit after `after` is a live event); the snapshot is delivered on a microtask, or before the
   * first live event, whichever comes first.
   */
  add(
    filters: TypeDescriptor[],
    handler: (event: StoreEvent) => void,
    after: number,
    readSnapshot: (filters: TypeDescriptor[]) => WireObject[],
  ): Subscription {
    const sub: Sub = { filters, handler, snapshot: null, closed: false, after };
    sub.snapshot = readSnapshot(sub.filters);
    this.subs.add(sub);
    queueMicrotask(() => this.flushSnapshot(sub));
    return {
      close: () => {
        sub.closed = true;
        this.subs.delete(sub);
      },
    };
  }

  /** Delivers the events of a commit (numbered in `commit`). */
  deliverCommitted(events: PendingEvent[]): void {
    if (events.length === 0) return;
    for (const e of events) this.deliveryQueue.push(e);
    if (this.delivering) return; // a handler mutated the store: its events go after the current ones
    this.delivering = true;
    let i = 0;
    try {
      for (; i < this.deliveryQueue.length; i++) this.deliver(this.deliveryQueue[i]!);
    } finally {
      this.deliveryQueue.length = 0;
      this.delivering = false;
    }
  }

  private deliver(e: PendingEvent): void {
    let first = true;
    for (const sub of this.subs) {
      // closed, or subscribed (by a handler) after this commit: the event is in its snapshot
      if (sub.closed || e.commit <= sub.after) continue;
      if (!matchesFilters(sub.filters, e.obj.type?.kind, e.obj.type?.type)) continue;
      this.flushSnapshot(sub);
      if (sub.closed) continue;
      const obj = first ? e.obj : clone(ObjectSchema, e.obj);
      first = false;
      this.call(sub, { type: e.type, objs: [obj] });
    }
  }

  private flushSnapshot(sub: Sub): void {
    const snap = sub.snapshot;
    if (snap === null) return;
    sub.snapshot = null;
    if (snap.length > 0 && !sub.closed) this.call(sub, { type: "ADD", objs: snap });
  }

  private call(sub: Sub, ev: StoreEvent): void {
    try {
      sub.handler(ev);
    } catch (err) {
      this.log.error({ err: String((err as Error)?.stack ?? err) }, "store subscriber handler threw; event skipped for it");
    }
  }

  closeAll(): void {
    for (const sub of this.subs) sub.closed = true;
    this.subs.clear();
  }
}
