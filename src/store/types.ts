// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The store's interfaces and errors: Store (the resource graph, one SQLite transaction per mutation),
// StoreOp, events and subscriptions, and the Outbox with its entry shapes.

import type { TypeDescriptor, Object$ as WireObject } from "../proto/gen/resource/v1/object_pb.ts";
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

/** AddResource on a key that exists. */
export class ResourceExistsError extends Error {
  constructor(key: string) {
    super(`resource already exists: ${key}`);
    this.name = "ResourceExistsError";
  }
}

/** A call on a closed store (mutations and reads; subscribe on a closed store returns a closed subscription). */
export class StoreClosedError extends Error {
  constructor() {
    super("store closed");
    this.name = "StoreClosedError";
  }
}

/** Input the store refuses (missing type, missing predicate, self-loop, bad key). Nothing was written. */
export { InvalidInputError } from "../graph/keys.ts";

/** Criteria of a relationship lookup; an undefined criterion matches any value. */
export interface RelationshipQuery {
  subject?: ResourceRef;
  object?: ResourceRef;
  /** Full proto name of the predicate ("kubernetes.v1.Contains"). */
  predicate?: string;
}

/** One mutation for `Store.apply` / `Store.applyAsync`. */
export type StoreOp =
  | { op: "add"; resource: Resource }
  | { op: "update"; resource: Resource }
  | { op: "delete"; ref: ResourceRef }
  | { op: "addRelationships"; relationships: Relationship[] }
  | { op: "deleteRelationships"; relationships: Relationship[] };

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
  /**
   * Throws ResourceExistsError if the key exists. Sets created_at = updated_at = now (on the caller's
   * object, as the original does). Emits ADD. The key is built from (type.type, metadata.name,
   * metadata.namespace); a missing type throws InvalidInputError.
   */
  addResource(resource: Resource): void;
  /**
   * Full replace (upsert). Keeps created_at of an existing row and sets a strictly later updated_at;
   * emits ADD when new, UPDATE otherwise. Unchanged content (ignoring the two timestamps) writes
   * nothing and emits nothing. Sets the timestamps on the caller's object.
   */
  updateResource(resource: Resource): void;
  /**
   * Deletes the resource and every relationship touching it (as subject or object, even when the
   * resource itself is absent); emits DELETE for each thing that existed. No error if absent.
   */
  deleteResource(ref: ResourceRef): void;
  /**
   * Dedup by content: identity = sha256 over (type, subject key, object key, predicate type_url and
   * value); timestamps and id do not count, and the first stored copy is kept. Rejects (throws
   * InvalidInputError, writes nothing) a missing predicate, missing subject/object and subject == object.
   * Emits one ADD event per new relationship.
   */
  addRelationships(...relationships: Relationship[]): void;
  /**
   * Removes the given relationships (matched by the identity above); emits DELETE for each one that
   * existed, carrying the stored Relationship with deleted_at = now.
   */
  deleteRelationships(...relationships: Relationship[]): void;
  /**
   * Relationships matching every given criterion of `query` (an empty query matches every
   * relationship); [] when none match. The lookup for code that treats "none" as a normal answer.
   */
  findRelationships(query?: RelationshipQuery): Relationship[];
  /**
   * findRelationships with the original's contract: throws RelationshipsNotFoundError when nothing
   * matches or all criteria are undefined. predicateType is the full proto name ("kubernetes.v1.Contains").
   */
  getRelationships(subject?: ResourceRef, object?: ResourceRef, predicateType?: string): Relationship[];
  /** All resources whose type matches the filters (dot-segment prefix on TypeDescriptor.type/kind). */
  listResources(filters?: TypeDescriptor[]): Resource[];
  /**
   * listResources of only the resources whose stored encoding contains `bytes` (a byte search inside
   * SQLite: the others are never read into JavaScript). A pre-filter: the bytes may occur in any field,
   * so the caller checks the one it means (a Pod's UID among 10k Pods).
   */
  listResourcesContaining(filters: TypeDescriptor[], bytes: Uint8Array): Resource[];
  /**
   * Runs `fn` inside one transaction: every store mutation made by `fn` commits together (one
   * commit, one outbox entry per object), and events are delivered after the commit. If `fn` throws,
   * nothing is written and no event is delivered. Nested calls join the outer transaction. Keep it
   * short: it blocks the event loop (about 20 us per 1 KiB upsert, plus a WAL checkpoint backstop
   * when a long run of synchronous batches never yields); use applyAsync for thousands of objects.
   */
  batch<T>(fn: () => T): T;
  /** Applies ops in one transaction (see batch). */
  apply(ops: ReadonlyArray<StoreOp>): void;
  /**
   * Applies ops in transactions of at most `chunkSize` ops (default 256), yielding to the event loop
   * between chunks, so a 10k-object initial sync never blocks it for more than a few ms at a time.
   * Each chunk is atomic; a failing op rejects the promise after the chunks before it committed.
   */
  applyAsync(ops: ReadonlyArray<StoreOp>, opts?: { chunkSize?: number }): Promise<void>;
  /**
   * First delivers the current matching state as ADD events (one event with all of it, as the
   * original; none when nothing matches), then live events, with no gap and no duplicate between the
   * two: the state is read at the moment of the call. The snapshot is delivered in a microtask after
   * subscribe returns, or earlier if a live event comes first. Filters: a TypeDescriptor matches
   * when its non-empty kind and non-empty type both match (dot-segment prefix); the list matches when
   * any entry does; an empty list matches everything. So kind-only filters work. Handlers run
   * synchronously after the transaction commits; a throwing handler is logged and skipped.
   * `snapshot: false`: live events only (for a subscriber that looks up what it needs by key instead).
   */
  subscribe(filters: TypeDescriptor[], handler: (event: StoreEvent) => void, opts?: { snapshot?: boolean }): Subscription;
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

/**
 * An outbox entry as stored, without building protobuf-es messages: either the complete encoded
 * `resource.v1.Object` (`encoded`, DELETE entries) or the parts of
 * `Object{type:{kind, type}, object: Any{typeUrl, value}}` (`kind`..`value`, CREATE/UPDATE entries,
 * `value` being the stored Resource/Relationship bytes). Encoding the parts gives exactly the bytes
 * of the decoded entry's `object` (asserted in src/intake/wire.test.ts).
 */
export interface OutboxRawEntry {
  seq: number;
  channel: string;
  key: string;
  op: OutboxOp;
  /** Complete encoded resource.v1.Object (no ttl/delta_version), when set; the fields below are then unset. */
  encoded?: Uint8Array;
  kind?: string;
  type?: string;
  typeUrl?: string;
  value?: Uint8Array;
  /** Encoded size of the object, for byte accounting (as OutboxEntry.bytes). */
  bytes: number;
  enqueuedAt: number;
}

export interface OutboxStats {
  depth: number;
  bytes: number;
  oldestEnqueuedAt: number | undefined;
  /** Highest seq pending in the channel (undefined when empty). Optional so fakes need not set it. */
  newestSeq?: number | undefined;
}

/** What confirm needs of an entry: its key and seq, and for a range confirm the bytes (and op) it was read with. */
export type ConfirmRef = Pick<OutboxEntry, "key" | "seq"> & { bytes?: number; op?: OutboxOp };

/**
 * Transactional outbox. Channels separate streams with different upload rules: "cluster"
 * (Kubernetes objects, uploaded by the leader only) and "instance" (this host's graph, uploaded by
 * every agent). The store assigns the channel from the object's type.
 */

export interface Outbox {
  /**
   * Entries with seq > afterSeq in seq order, at most `limit` of them and about `maxBytes` (at
   * least one entry is returned when any is pending). CREATE/UPDATE entries carry the object's
   * state at read time, which is its newest state.
   */
  read(channel: string, afterSeq: number, limit: number, maxBytes?: number): OutboxEntry[];
  /**
   * Same entries, order and limits as `read`, without decoding: for consumers that splice the
   * stored bytes into their own encoding (the intake).
   */
  readRaw(channel: string, afterSeq: number, limit: number, maxBytes?: number): OutboxRawEntry[];
  /**
   * Confirms (removes from what is pending) the entries whose (key, seq) still match: an entry coalesced after it was
   * read stays. Returns how many were confirmed.
   * `readAfter` (optional, an implementation may ignore it): `entries` are every entry the caller read with seq in
   * (readAfter, last entry's seq], in seq order, each read starting at the previous one's last seq, with the `bytes`
   * (and `op`) read; the store may then confirm that seq range as a whole (move a confirmed-up-to mark, or delete the
   * range in one statement), with the same result.
   */
  confirm(channel: string, entries: ReadonlyArray<ConfirmRef>, readAfter?: number): number;
  stats(channel: string): OutboxStats;
  /** Highest pending seq of `channel`, 0 when nothing is pending. */
  newestSeq(channel: string): number;
  /**
   * The channel's current state from the tables (not history), as CREATE entries with seq 0
   * (confirm ignores them), in pages read lazily as the iterator advances. For full resync after a
   * TTL lapse or a cap drop. Writes made while iterating also land in the outbox as usual.
   */
  snapshot(channel: string, pageSize: number): Iterable<OutboxEntry[]>;
  /** `snapshot` without decoding (same pages, entries as `readRaw` gives them). */
  snapshotRaw(channel: string, pageSize: number): Iterable<OutboxRawEntry[]>;
  /** Called after a commit that appended to `channel`. Returns an unsubscribe function. */
  onAppend(listener: (channel: string) => void): () => void;
  /**
   * True after the byte/entry cap dropped pending entries of `channel` (counted in
   * antimetal_queue_dropped_total{queue="outbox_<channel>",reason="cap_bytes"|"cap_entries"}):
   * the consumer must upload `snapshot(channel)` and then call clearResync. Persists across restarts.
   */
  needsResync(channel: string): boolean;
  clearResync(channel: string): void;
  /** Channels that currently have pending entries or a resync flag. */
  channels(): string[];
}
