// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The resource graph store on bun:sqlite: resources, relationships and the outbox written in one
// transaction per mutation, and the subscriptions fed after each commit.
// Over 400 lines: every write path of the graph stays in the one class that owns the transaction, so
// the invariant (table change + outbox entry + event, or none) is checked in one place.

import type { Database } from "bun:sqlite";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { encodeKey, encodeResourceKey, relationshipIdentity } from "../graph/keys.ts";
import { type Channel, type Classifier, defaultClassifier } from "../graph/names.ts";
import type { Logger } from "../log/logger.ts";
import { ObjectSchema, type TypeDescriptor } from "../proto/gen/resource/v1/object_pb.ts";
import { RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { ResourceMetaSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { errorMessage } from "../util/errors.ts";
import type { Checkpointer } from "./checkpointer.ts";
import type { DirectoryLock } from "./lock.ts";
import { closeDatabase } from "./open.ts";
import { ENTITY_RELATIONSHIP, ENTITY_RESOURCE, type OutboxAppend, relKey, SqliteOutbox } from "./outbox.ts";
import {
  decodedRelationships,
  type RelationshipKeyQuery,
  type RelationshipRow,
  type RelRow,
  type ResourceRow,
  type ResRow,
  selectRelationships,
  selectResources,
  snapshotObjects,
} from "./queries.ts";
import { decodeRelationship } from "./relationship-decode.ts";
import { encodeRelationship } from "./relationship-encode.ts";
import { finalizeStatements, type OutboxStatements, prepareOutbox, prepareTables, type TableStatements } from "./statements.ts";
import { type PendingEvent, Subscriptions } from "./subscriptions.ts";
import {
  InvalidInputError,
  type OutboxOp,
  type Relationship,
  type RelationshipQuery,
  RelationshipsNotFoundError,
  type Resource,
  ResourceExistsError,
  ResourceNotFoundError,
  type ResourceRef,
  type Store,
  StoreClosedError,
  type StoreEvent,
  type StoreEventType,
  type StoreOp,
  type Subscription,
  type WireObject,
} from "./types.ts";
import { RELATIONSHIP_TYPE_URL, RESOURCE_KIND, RESOURCE_TYPE_URL, wireObject, wireObjectSize } from "./wire.ts";

export { DEFAULT_OUTBOX_MAX_BYTES, DEFAULT_OUTBOX_MAX_ENTRIES, SqliteOutbox } from "./outbox.ts";

/** An applyAsync of this many operations starts the background checkpoints at once (a runtime graph scan is ~100). */
const LONG_BURST_OPS = 2048;

export interface SqliteStoreOptions {
  logger: Logger;
  classify?: Classifier;
  /** Outbox byte cap per channel (sum of entry sizes). Default 256 MiB. */
  outboxMaxBytes?: number;
  /** Outbox entry cap per channel. Default 4M. */
  outboxMaxEntries?: number;
  /** Channels whose changes are recorded in the outbox (the ones with a consumer). Default: all. */
  outboxChannels?: readonly Channel[];
  readonly?: boolean;
  /** Clock in ms since epoch (tests). */
  now?: () => number;
  /** Background WAL checkpointer of a file store (closed with the store). */
  checkpointer?: Checkpointer;
  /** The data directory's lock (released when the store closes). */
  lock?: DirectoryLock;
}

interface TxCtx {
  events: PendingEvent[];
  /** Outbox depth/bytes changes per channel, applied to the counters on commit. */
  channels: Map<string, { depth: number; bytes: number }>;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function tsFromMicros(us: number): Timestamp {
  // a literal instead of create(TimestampSchema, ...): same message, no reflection on the hot path
  return { $typeName: TimestampSchema.typeName, seconds: BigInt(Math.floor(us / 1e6)), nanos: (us % 1e6) * 1000 } as Timestamp;
}

/**
 * The resource store on bun:sqlite. One instance per database connection; single writer per process.
 * See schema.ts for the tables and docs/store.md for the design.
 */
export class SqliteStore implements Store {
  readonly outbox: SqliteOutbox;
  private readonly log: Logger;
  private readonly classify: Classifier;
  private readonly nowMs: () => number;
  private lastMicros = 0;
  private nextSeq: number;
  private ctx: TxCtx | null = null;
  private closed = false;
  private readonly subscriptions: Subscriptions;
  private commits = 0;
  private readonly txRunner: (fn: () => unknown) => unknown;

  // prepared once; never build SQL text per call (bun#28911: statement cache grows with SQL text)
  private readonly s: TableStatements;
  private readonly obs: OutboxStatements;

  constructor(
    readonly db: Database,
    private readonly opts: SqliteStoreOptions,
  ) {
    this.log = opts.logger;
    this.classify = opts.classify ?? defaultClassifier;
    this.nowMs = opts.now ?? Date.now;
    this.subscriptions = new Subscriptions(this.log);
    this.s = prepareTables(db);
    this.obs = prepareOutbox(db);
    this.txRunner = db.transaction((fn: () => unknown) => fn()) as unknown as (fn: () => unknown) => unknown;
    this.outbox = new SqliteOutbox(this, this.obs, opts);
    this.nextSeq = this.outbox.recount() + 1;
    if (!opts.readonly) {
      this.outbox.dropUnrecorded();
      for (const ch of this.outbox.channels()) this.outbox.enforceCap(ch);
      this.outbox.trackMetrics();
    }
  }

  // ---------------- helpers ----------------

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.opts.readonly) throw new Error("store opened read-only");
  }

  /** Strictly increasing wall-clock microseconds. */
  private micros(): number {
    let us = this.nowMs() * 1000;
    if (us <= this.lastMicros) us = this.lastMicros + 1;
    this.lastMicros = us;
    return us;
  }

  /** Runs fn in the current transaction or a new one; delivers events after the outermost commit. */
  private tx<T>(fn: () => T): T {
    if (this.ctx) return fn();
    const ctx: TxCtx = { events: [], channels: new Map() };
    this.ctx = ctx;
    let out: T;
    try {
      out = this.txRunner(fn) as T;
    } finally {
      this.ctx = null;
    }
    this.commits++;
    for (const e of ctx.events) e.commit = this.commits;
    this.afterCommit(ctx);
    return out;
  }

  private afterCommit(ctx: TxCtx): void {
    for (const [ch, d] of ctx.channels) this.outbox.addCounts(ch, d.depth, d.bytes);
    for (const ch of ctx.channels.keys()) this.outbox.enforceCap(ch);
    for (const ch of ctx.channels.keys()) this.outbox.notify(ch);
    this.subscriptions.deliverCommitted(ctx.events);
  }

  /** Whether a subscriber takes objects of (kind, type); a write builds its event only then. */
  private wants(kind: string, type: string): boolean {
    return this.subscriptions.size > 0 && this.subscriptions.wants(kind, type);
  }

  /** Queues the event of a write for delivery after the commit (build `obj` only when wants() said so). */
  private emit(type: StoreEventType, obj: WireObject): void {
    this.ctx!.events.push({ type, obj, commit: 0 });
  }

  /** Appends to the outbox in the current transaction, unless the channel has no consumer. */
  private appendOutbox(entry: Omit<OutboxAppend, "seq" | "enqueuedAt">): void {
    if (!this.outbox.records(entry.channel)) return;
    this.outbox.append({ ...entry, seq: this.nextSeq++, enqueuedAt: this.nowMs() });
  }

  /** @internal records an outbox depth/bytes change inside the current transaction. */
  countDelta(channel: string, depth: number, bytes: number): void {
    const m = this.ctx!.channels;
    const d = m.get(channel);
    if (d) {
      d.depth += depth;
      d.bytes += bytes;
    } else m.set(channel, { depth, bytes });
  }

  private resourceKey(r: Resource): string {
    const type = r.type?.type;
    if (!type) throw new InvalidInputError("missing type");
    return encodeKey(type, r.metadata?.name ?? "", r.metadata?.namespace);
  }

  private putResource(r: Resource, mode: "add" | "update"): void {
    const key = this.resourceKey(r);
    this.tx(() => {
      const row = this.s.resGet.values(key)[0] as ResRow | undefined;
      if (row && mode === "add") throw new ResourceExistsError(key);
      const meta = (r.metadata ??= create(ResourceMetaSchema));
      const kind = r.type!.kind;
      const type = r.type!.type;
      const channel = this.classify(type);
      let body: Uint8Array;
      let op: OutboxOp;
      let rid: number;
      if (row) {
        const [oldRid, createdUs, updatedUs, oldBody] = row;
        meta.createdAt = tsFromMicros(createdUs);
        meta.updatedAt = tsFromMicros(updatedUs);
        if (bytesEqual(toBinary(ResourceSchema, r), oldBody)) return; // unchanged: nothing to write or send
        let now = this.micros();
        if (now <= updatedUs) now = this.lastMicros = updatedUs + 1;
        meta.updatedAt = tsFromMicros(now);
        body = toBinary(ResourceSchema, r);
        this.s.resUpdate.run(kind, type, channel, now, body, oldRid);
        rid = oldRid;
        op = "UPDATE";
      } else {
        const now = this.micros();
        meta.createdAt = tsFromMicros(now);
        meta.updatedAt = meta.createdAt;
        body = toBinary(ResourceSchema, r);
        rid = Number(this.s.resInsert.run(key, kind, type, channel, now, now, body).lastInsertRowid);
        op = "CREATE";
      }
      this.appendOutbox({
        channel,
        key,
        entity: ENTITY_RESOURCE,
        op,
        rid,
        body: null,
        bytes: wireObjectSize(kind, type, RESOURCE_TYPE_URL, body.length),
      });
      if (this.wants(kind, type)) this.emit(op === "CREATE" ? "ADD" : "UPDATE", wireObject(kind, type, RESOURCE_TYPE_URL, body));
    });
  }

  /** Deletes a stored relationship (row and by-object copy), appends its DELETE; its endpoints' kids go to `endpoints` for gcKeys. */
  private removeRelationship(row: RelRow, endpoints: Set<number>): void {
    const [rid, body, kind, type, channel, , subject, object, pred] = row;
    this.s.relDelete.run(rid);
    this.s.relCopyDelete.run(object, pred, rid);
    endpoints.add(subject).add(object);
    const rel = decodeRelationship(body);
    rel.deletedAt = tsFromMicros(this.micros());
    const value = toBinary(RelationshipSchema, rel);
    const obj = wireObject(kind, type, RELATIONSHIP_TYPE_URL, value);
    const wire = toBinary(ObjectSchema, obj);
    this.appendOutbox({ channel, key: relKey(rid), entity: ENTITY_RELATIONSHIP, op: "DELETE", rid: null, body: wire, bytes: wire.length });
    if (this.wants(kind, type)) this.emit("DELETE", obj);
  }

  /** Removes the interned keys no relationship refers to any more (after removeRelationship). */
  private gcKeys(kids: Set<number>): void {
    for (const kid of kids) {
      if (!(this.s.keyUsed.values(kid, kid)[0]![0] as number)) this.s.keyDelete.run(kid);
    }
  }

  /** An endpoint key's kid, from `cache` or the key table (found ones are cached); undefined when no relationship has it. */
  private kid(key: string, cache: Map<string, number>): number | undefined {
    let k = cache.get(key);
    if (k !== undefined) return k;
    k = this.s.keyGet.values(key)[0]?.[0] as number | undefined;
    if (k !== undefined) cache.set(key, k);
    return k;
  }

  /** The kid of a key kid() did not find: `cache` holds it if this call already interned it, else a new entry. */
  private internKey(key: string, cache: Map<string, number>): number {
    let k = cache.get(key);
    if (k === undefined) {
      k = Number(this.s.keyInsert.run(key).lastInsertRowid);
      cache.set(key, k);
    }
    return k;
  }

  // ---------------- Store ----------------

  getResource(ref: ResourceRef): Resource {
    this.assertOpen();
    const key = encodeResourceKey(ref);
    const row = this.s.resGet.values(key)[0] as ResRow | undefined;
    if (!row) throw new ResourceNotFoundError(key);
    return fromBinary(ResourceSchema, row[3]);
  }

  addResource(resource: Resource): void {
    this.assertWritable();
    this.putResource(resource, "add");
  }

  updateResource(resource: Resource): void {
    this.assertWritable();
    this.putResource(resource, "update");
  }

  deleteResource(ref: ResourceRef): void {
    this.assertWritable();
    const key = encodeResourceKey(ref);
    this.tx(() => {
      // every relationship touching the key, as subject and as object, in insertion order
      const rows = new Map<number, RelRow>();
      for (const stmt of [this.s.relBySubjectRows, this.s.relByObjectRows]) {
        for (const r of stmt.values(key) as RelRow[]) rows.set(r[0], r);
      }
      const endpoints = new Set<number>();
      for (const r of [...rows.values()].sort((a, b) => a[0] - b[0])) this.removeRelationship(r, endpoints);
      this.gcKeys(endpoints);
      const row = this.s.resGet.values(key)[0] as ResRow | undefined;
      if (!row) return;
      const [rid, , , , type, channel] = row;
      this.s.resDelete.run(rid);
      const stub = create(ResourceSchema, {
        type: { kind: RESOURCE_KIND, type },
        metadata: { name: ref.name, namespace: ref.namespace, deletedAt: tsFromMicros(this.micros()) },
      });
      const obj = wireObject(RESOURCE_KIND, type, RESOURCE_TYPE_URL, toBinary(ResourceSchema, stub));
      const wire = toBinary(ObjectSchema, obj);
      this.appendOutbox({ channel, key, entity: ENTITY_RESOURCE, op: "DELETE", rid: null, body: wire, bytes: wire.length });
      if (this.wants(RESOURCE_KIND, type)) this.emit("DELETE", obj);
    });
  }

  /** The stored row with this identity: the triple (endpoint kids) through the subject index, then the id. */
  private findRelationship(id: Uint8Array, subject: number | undefined, object: number | undefined, pred: string): RelRow | undefined {
    if (subject === undefined || object === undefined) return undefined;
    for (const r of this.s.relFind.values(subject, object, pred) as RelRow[]) {
      if (bytesEqual(r[5], id)) return r;
    }
    return undefined;
  }

  addRelationships(...relationships: Relationship[]): void {
    this.assertWritable();
    const ids = relationships.map(relationshipIdentity); // validate all before writing anything
    this.tx(() => {
      // kids looked up in this call (none is removed before it returns; a rollback discards the map with the call)
      const kids = new Map<string, number>();
      for (let i = 0; i < relationships.length; i++) {
        const { id, subjectKey, objectKey, kind, type, pred } = ids[i]!;
        const foundSubject = this.kid(subjectKey, kids);
        const foundObject = this.kid(objectKey, kids);
        if (this.findRelationship(id, foundSubject, foundObject, pred)) continue;
        const subject = foundSubject ?? this.internKey(subjectKey, kids);
        const object = foundObject ?? this.internKey(objectKey, kids);
        const body = encodeRelationship(relationships[i]!);
        const channel = this.classify(type);
        const rid = Number(this.s.relInsert.run(id, subject, object, pred, kind, type, channel, body).lastInsertRowid);
        this.s.relCopyInsert.run(object, pred, rid, body);
        const bytes = wireObjectSize(kind, type, RELATIONSHIP_TYPE_URL, body.length);
        this.appendOutbox({ channel, key: relKey(rid), entity: ENTITY_RELATIONSHIP, op: "CREATE", rid, body: null, bytes });
        if (this.wants(kind, type)) this.emit("ADD", wireObject(kind, type, RELATIONSHIP_TYPE_URL, body));
      }
    });
  }

  deleteRelationships(...relationships: Relationship[]): void {
    this.assertWritable();
    const ids = relationships.map(relationshipIdentity);
    this.tx(() => {
      const kids = new Map<string, number>();
      const endpoints = new Set<number>();
      for (const { id, subjectKey, objectKey, pred } of ids) {
        const row = this.findRelationship(id, this.kid(subjectKey, kids), this.kid(objectKey, kids), pred);
        if (row) this.removeRelationship(row, endpoints);
      }
      this.gcKeys(endpoints);
    });
  }

  getRelationships(subject?: ResourceRef, object?: ResourceRef, predicateType?: string): Relationship[] {
    this.assertOpen();
    const found =
      subject || object || predicateType !== undefined ? this.findRelationships({ subject, object, predicate: predicateType }) : [];
    if (found.length > 0) return found;
    const key = (r: ResourceRef | undefined) => (r ? encodeResourceKey(r) : "*");
    throw new RelationshipsNotFoundError(`subject=${key(subject)} object=${key(object)} predicate=${predicateType ?? "*"}`);
  }

  findRelationships(query: RelationshipQuery = {}): Relationship[] {
    this.assertOpen();
    const keys = {
      subjectKey: query.subject ? encodeResourceKey(query.subject) : undefined,
      objectKey: query.object ? encodeResourceKey(query.object) : undefined,
      predicate: query.predicate,
    };
    return decodedRelationships(this.s.relBodies, keys);
  }

  /** Rows [body, id, subject_key, object_key, predicate_type] matching every given criterion (all rows when none is). */
  relationshipRows(query: RelationshipKeyQuery = {}): RelationshipRow[] {
    this.assertOpen();
    return selectRelationships(this.s.relQuery, query) as RelationshipRow[];
  }

  /** Rows [key, kind, type, body] of resources matching the filters, in key order per filter. */
  resourceRows(filters: ReadonlyArray<Pick<TypeDescriptor, "kind" | "type">> = []): ResourceRow[] {
    this.assertOpen();
    return selectResources(this.s, filters);
  }

  listResources(filters: TypeDescriptor[] = []): Resource[] {
    return this.resourceRows(filters).map((r) => fromBinary(ResourceSchema, r[3]));
  }

  listResourcesContaining(filters: TypeDescriptor[], bytes: Uint8Array): Resource[] {
    this.assertOpen();
    return selectResources(this.s, filters, bytes).map((r) => fromBinary(ResourceSchema, r[3]));
  }

  batch<T>(fn: () => T): T {
    this.assertWritable();
    return this.tx(fn);
  }

  private applyOne(op: StoreOp): void {
    switch (op.op) {
      case "add":
        this.addResource(op.resource);
        return;
      case "update":
        this.updateResource(op.resource);
        return;
      case "delete":
        this.deleteResource(op.ref);
        return;
      case "addRelationships":
        this.addRelationships(...op.relationships);
        return;
      case "deleteRelationships":
        this.deleteRelationships(...op.relationships);
        return;
    }
  }

  apply(ops: ReadonlyArray<StoreOp>): void {
    this.batch(() => {
      for (const op of ops) this.applyOne(op);
    });
  }

  async applyAsync(ops: ReadonlyArray<StoreOp>, opts: { chunkSize?: number } = {}): Promise<void> {
    const chunk = Math.max(1, Math.floor(opts.chunkSize ?? 256));
    const cp = this.opts.checkpointer;
    if (ops.length >= LONG_BURST_OPS) cp?.start(); // checkpoints off the event loop from now on
    for (let i = 0; i < ops.length; i += chunk) {
      if (i > 0) {
        // a long burst: let the background checkpoint catch up (awaiting, not blocking) so the WAL
        // restarts instead of growing to the backstop and checkpointing inside a commit
        if (cp?.healthy && cp.walBytes() > cp.drainBytes) await cp.drain();
        else await new Promise<void>((resolve) => setImmediate(resolve));
        this.assertWritable();
      }
      this.apply(ops.slice(i, i + chunk));
    }
  }

  subscribe(filters: TypeDescriptor[], handler: (event: StoreEvent) => void, opts: { snapshot?: boolean } = {}): Subscription {
    const after = this.commits;
    const wanted = filters.filter((f) => f !== undefined && f !== null);
    if (this.closed) return { close: () => undefined };
    if (this.ctx) throw new Error("subscribe inside a store batch is not supported");
    // Read the state and register in the same synchronous step: every later commit is a live event.
    return this.subscriptions.add(wanted, handler, after, opts.snapshot === false ? () => [] : (f) => snapshotObjects(this.s, f));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.subscriptions.closeAll();
    this.outbox.untrackMetrics();
    this.outbox.closeListeners();
    this.opts.checkpointer?.close();
    if (!this.opts.readonly) {
      try {
        // refresh planner statistics cheaply (bounded analysis), as SQLite recommends on close
        this.db.run("PRAGMA analysis_limit = 1000");
        this.db.run("PRAGMA optimize");
      } catch (err) {
        this.log.debug({ err: errorMessage(err) }, "PRAGMA optimize failed");
      }
    }
    finalizeStatements(this.s);
    finalizeStatements(this.obs);
    closeDatabase(this.db);
    this.opts.lock?.release();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Counts for `store stats`. */
  counts(): { resources: number; relationships: number } {
    this.assertOpen();
    const r = this.db.query("SELECT (SELECT count(*) FROM resources) AS r, (SELECT count(*) FROM relationships) AS l").get() as {
      r: number;
      l: number;
    };
    return { resources: r.r, relationships: r.l };
  }

  /** Internal: run fn in a store transaction (the outbox uses it). */
  runTx<T>(fn: () => T): T {
    return this.tx(fn);
  }

  /** Background checkpointer state (undefined for memory/read-only/inline stores). */
  get checkpointStats() {
    return this.opts.checkpointer?.stats;
  }

  /** True inside a store transaction (the outbox's confirm by confirmed-up-to seq runs only outside one). */
  get inTransaction(): boolean {
    return this.ctx !== null;
  }

  get writable(): boolean {
    return !this.opts.readonly && !this.closed;
  }
}
