// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import type { Object as WireObject, TypeDescriptor } from "../proto/gen/resource/v1/object_pb.ts";
import type { Relationship } from "../proto/gen/resource/v1/relationship_pb.ts";
import type { Resource, ResourceRef } from "../proto/gen/resource/v1/resource_pb.ts";

export type { Relationship, Resource, ResourceRef, TypeDescriptor, WireObject };

export class ResourceNotFoundError extends Error {
  constructor(key: string) {
    super(`resource not found: ${key}`);
    this.name = "ResourceNotFoundError";
  }
}

export class RelationshipsNotFoundError extends Error {
  constructor(what: string) {
    super(`relationships not found: ${what}`);
    this.name = "RelationshipsNotFoundError";
  }
}

export type StoreEventType = "ADD" | "UPDATE" | "DELETE";

/** What subscribers receive. `objs` are copies the receiver may keep or mutate. */
export interface StoreEvent {
  type: StoreEventType;
  objs: WireObject[];
}

export interface Subscription {
  /** Stops delivery. Idempotent. */
  close(): void;
}

/**
 * The resource graph. Single writer per process; every mutation is one SQLite transaction that
 * also appends to the outbox, so what the intake sends never disagrees with what is stored.
 * Methods are synchronous (bun:sqlite is), and each call is short.
 */
export interface Store {
  /** Throws ResourceNotFoundError. */
  getResource(ref: ResourceRef): Resource;
  /** Throws if the key exists. Sets created_at = updated_at = now. Emits ADD. */
  addResource(resource: Resource): void;
  /** Full replace (upsert). Keeps created_at of an existing row; emits ADD when new, UPDATE otherwise. Unchanged content writes nothing. */
  updateResource(resource: Resource): void;
  /** Deletes the resource and every relationship touching it; emits DELETE for each. No error if absent. */
  deleteResource(ref: ResourceRef): void;
  /** Dedup by content. Rejects a missing predicate and subject == object. Emits ADD per new relationship. */
  addRelationships(...relationships: Relationship[]): void;
  /** Removes the given relationships (matched by content); emits DELETE for each one that existed. */
  deleteRelationships(...relationships: Relationship[]): void;
  /**
   * Intersection of the given criteria; undefined means any. predicateType is the full proto name
   * ("kubernetes.v1.Contains"). Throws RelationshipsNotFoundError when nothing matches or all are undefined.
   */
  getRelationships(subject?: ResourceRef, object?: ResourceRef, predicateType?: string): Relationship[];
  /** All resources whose type matches the filters (dot-segment prefix on TypeDescriptor.type/kind). */
  listResources(filters?: TypeDescriptor[]): Resource[];
  /**
   * First delivers one ADD event with the current matching state, then live events, with no gap
   * and no duplicate between the two. Filters as in the original (dot-segment prefix), but
   * kind-only filters work too. Handlers run synchronously after the transaction commits.
   */
  subscribe(filters: TypeDescriptor[], handler: (event: StoreEvent) => void): Subscription;
  readonly outbox: Outbox;
  /** Idempotent. */
  close(): void;
}

export type OutboxOp = "CREATE" | "UPDATE" | "DELETE";

/**
 * One pending delta for one object. Entries coalesce by key: a newer mutation of the same object
 * replaces the pending entry and gets a new seq, so the outbox holds at most one entry per object.
 */
export interface OutboxEntry {
  seq: number;
  channel: string;
  key: string;
  op: OutboxOp;
  /** resource.v1.Object ready to put on the wire, without ttl/delta_version (the intake sets those). */
  object: WireObject;
  /** Encoded size of `object`, for byte accounting. */
  bytes: number;
  /** ms since epoch when this entry (this seq) was appended. */
  enqueuedAt: number;
}

export interface OutboxStats {
  depth: number;
  bytes: number;
  oldestEnqueuedAt: number | undefined;
}

/**
 * Transactional outbox. Channels separate streams with different upload rules: "cluster"
 * (Kubernetes objects, uploaded by the leader only) and "instance" (this host's graph, uploaded by
 * every agent). The store assigns the channel from the object's type.
 */
export interface Outbox {
  /** Entries with seq > afterSeq in seq order, at most `limit` of them and about `maxBytes`. */
  read(channel: string, afterSeq: number, limit: number, maxBytes?: number): OutboxEntry[];
  /** Deletes entries whose (key, seq) still match: an entry coalesced after it was read stays. Returns how many were removed. */
  confirm(channel: string, entries: ReadonlyArray<Pick<OutboxEntry, "key" | "seq">>): number;
  stats(channel: string): OutboxStats;
  /** The channel's current state from the tables (not history), as CREATE entries, in pages. For full resync after a TTL lapse. */
  snapshot(channel: string, pageSize: number): Iterable<OutboxEntry[]>;
  /** Called after a commit that appended to `channel`. Returns an unsubscribe function. */
  onAppend(listener: (channel: string) => void): () => void;
}
