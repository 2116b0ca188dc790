// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import type { Database, Statement } from "bun:sqlite";
import { clone, create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { Gauge } from "prom-client";
import type { Logger } from "../log/logger.ts";
import { meterBound, registry, type BoundMeter } from "../metrics/registry.ts";
import { ObjectSchema, type TypeDescriptor } from "../proto/gen/resource/v1/object_pb.ts";
import { RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { ResourceMetaSchema, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { matchesFilters } from "./filter.ts";
import type { Checkpointer } from "./checkpointer.ts";
import { closeDatabase } from "./open.ts";
import { encodeKey, encodeResourceKey, protoName, relationshipId } from "./keys.ts";
import {
  InvalidInputError,
  RelationshipsNotFoundError,
  ResourceExistsError,
  ResourceNotFoundError,
  StoreClosedError,
  type Outbox,
  type OutboxEntry,
  type OutboxOp,
  type OutboxRawEntry,
  type OutboxStats,
  type Relationship,
  type Resource,
  type ResourceRef,
  type Store,
  type StoreEvent,
  type StoreEventType,
  type StoreOp,
  type Subscription,
  type WireObject,
} from "./types.ts";
import { RELATIONSHIP_KIND, RELATIONSHIP_TYPE_URL, RESOURCE_KIND, RESOURCE_TYPE_URL, wireObject, wireObjectSize } from "./wire.ts";

/** Maps an object type (TypeDescriptor.type) to an outbox channel. */
export type Classifier = (type: string) => string;

/** "antimetal.*" (this host's graph) -> "instance"; everything else (k8s.io.*, kubernetes.*, network.*) -> "cluster". */
export const defaultClassifier: Classifier = (type) => (type === "antimetal" || type.startsWith("antimetal.") ? "instance" : "cluster");

export const DEFAULT_OUTBOX_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_OUTBOX_MAX_ENTRIES = 4_000_000;

export interface SqliteStoreOptions {
  logger: Logger;
  classify?: Classifier;
  /** Outbox byte cap per channel (sum of entry sizes). Default 256 MiB. */
  outboxMaxBytes?: number;
  /** Outbox entry cap per channel. Default 4M. */
  outboxMaxEntries?: number;
  readonly?: boolean;
  /** Clock in ms since epoch (tests). */
  now?: () => number;
  /** Background WAL checkpointer of a file store (closed with the store). */
  checkpointer?: Checkpointer;
}

const OP_CODE: Record<OutboxOp, number> = { CREATE: 0, UPDATE: 1, DELETE: 2 };
const OP_NAME: OutboxOp[] = ["CREATE", "UPDATE", "DELETE"];
const ENTITY_RESOURCE = 0;
const ENTITY_RELATIONSHIP = 1;
const REL_KEY_PREFIX = "rel:";

interface PendingEvent {
  type: StoreEventType;
  obj: WireObject;
  /** Number of the transaction that committed it. */
  commit: number;
}

interface TxCtx {
  events: PendingEvent[];
  /** Outbox depth/bytes changes per channel, applied to the counters on commit. */
  channels: Map<string, { depth: number; bytes: number }>;
}

interface Sub {
  filters: TypeDescriptor[];
  handler: (e: StoreEvent) => void;
  snapshot: WireObject[] | null;
  closed: boolean;
  /** Commits up to this number are in the snapshot: their events are not delivered. */
  after: number;
}

type ResRow = [rid: number, createdAt: number, updatedAt: number, body: Uint8Array, type: string, channel: string];
type RelRow = [rid: number, body: Uint8Array, kind: string, type: string, channel: string, id: Uint8Array];

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function tsFromMicros(us: number): Timestamp {
  // a literal instead of create(TimestampSchema, ...): same message, no reflection on the hot path
  return { $typeName: TimestampSchema.typeName, seconds: BigInt(Math.floor(us / 1e6)), nanos: (us % 1e6) * 1000 } as Timestamp;
}

/**
 * Outbox key of a relationship: "rel:<rid>". rids only grow (AUTOINCREMENT), so keys are never
 * reused, and the outbox index gets sequential inserts instead of random ones. A triple deleted and
 * added again is a new row: its pending DELETE and new CREATE are two entries, sent in order.
 */
function relKey(rid: number): string {
  return REL_KEY_PREFIX + rid;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

// ---- metrics shared by every open store (bytes and age are read at scrape time) ----
const liveOutboxes = new Set<SqliteStore>();
function collectOutboxGauges(kind: "bytes" | "age", g: Gauge<"channel">): void {
  g.reset();
  for (const s of liveOutboxes) {
    for (const ch of s.outbox.channels()) {
      const st = s.outbox.stats(ch);
      if (kind === "bytes") g.set({ channel: ch }, st.bytes);
      else g.set({ channel: ch }, st.oldestEnqueuedAt === undefined ? 0 : Math.max(0, (Date.now() - st.oldestEnqueuedAt) / 1000));
    }
  }
}
function gauge(name: string, help: string, kind: "bytes" | "age"): Gauge<"channel"> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<"channel">;
  return new Gauge({
    name,
    help,
    labelNames: ["channel"] as const,
    registers: [registry],
    collect() {
      collectOutboxGauges(kind, this as Gauge<"channel">);
    },
  });
}
gauge("antimetal_store_outbox_bytes", "Bytes of pending outbox entries, by channel.", "bytes");
gauge("antimetal_store_outbox_oldest_age_seconds", "Age of the oldest pending outbox entry, by channel.", "age");

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
  private readonly subs = new Set<Sub>();
  private readonly deliveryQueue: PendingEvent[] = [];
  private delivering = false;
  private commits = 0;
  private readonly txRunner: (fn: () => unknown) => unknown;

  // prepared once; never build SQL text per call (bun#28911: statement cache grows with SQL text)
  private readonly s: ReturnType<typeof prepare>;

  constructor(
    readonly db: Database,
    private readonly opts: SqliteStoreOptions,
  ) {
    this.log = opts.logger;
    this.classify = opts.classify ?? defaultClassifier;
    this.nowMs = opts.now ?? Date.now;
    this.s = prepare(db);
    this.txRunner = db.transaction((fn: () => unknown) => fn()) as unknown as (fn: () => unknown) => unknown;
    this.outbox = new SqliteOutbox(this, this.s, opts);
    this.nextSeq = this.outbox.recount() + 1;
    if (!opts.readonly) {
      for (const ch of this.outbox.channels()) this.outbox.enforceCap(ch);
      liveOutboxes.add(this);
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
    if (ctx.events.length === 0) return;
    for (const e of ctx.events) this.deliveryQueue.push(e);
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

  private emit(type: StoreEventType, obj: () => WireObject): void {
    if (this.subs.size === 0) return;
    this.ctx!.events.push({ type, obj: obj(), commit: 0 });
  }

  private appendOutbox(
    channel: string,
    key: string,
    entity: number,
    op: OutboxOp,
    rid: number | null,
    body: Uint8Array | null,
    bytes: number,
  ): void {
    const seq = this.nextSeq++;
    const now = this.nowMs();
    // Fast path: no pending entry for this object (a new object, or its last change was confirmed):
    // one plain insert. Otherwise read the replaced entry's size (cheaper than RETURNING) and upsert.
    if (this.s.obInsert.run(seq, channel, key, entity, OP_CODE[op], rid, body, bytes, now).changes === 1) {
      this.countDelta(channel, 1, bytes);
      return;
    }
    const prev = this.s.obPrevBytes.values(channel, key)[0] as [number];
    this.s.obUpsert.run(seq, channel, key, entity, OP_CODE[op], rid, body, bytes, now);
    this.countDelta(channel, 0, bytes - prev[0]);
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
      this.appendOutbox(channel, key, ENTITY_RESOURCE, op, rid, null, wireObjectSize(kind, type, RESOURCE_TYPE_URL, body.length));
      this.emit(op === "CREATE" ? "ADD" : "UPDATE", () => wireObject(kind, type, RESOURCE_TYPE_URL, body));
    });
  }

  private removeRelationship(rid: number, body: Uint8Array, kind: string, type: string, channel: string): void {
    this.s.relDelete.run(rid);
    const rel = fromBinary(RelationshipSchema, body);
    rel.deletedAt = tsFromMicros(this.micros());
    const value = toBinary(RelationshipSchema, rel);
    const obj = wireObject(kind, type, RELATIONSHIP_TYPE_URL, value);
    const wire = toBinary(ObjectSchema, obj);
    this.appendOutbox(channel, relKey(rid), ENTITY_RELATIONSHIP, "DELETE", null, wire, wire.length);
    this.emit("DELETE", () => obj);
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
      // every relationship touching the key, from both indexes, in insertion order
      type Row = [number, Uint8Array, string, string, string, Uint8Array];
      const rows = new Map<number, Row>();
      for (const stmt of [this.s.relBySubjectRows, this.s.relByObjectRows]) {
        for (const r of stmt.values(key) as Row[]) rows.set(r[0], r);
      }
      for (const r of [...rows.values()].sort((a, b) => a[0] - b[0])) this.removeRelationship(r[0], r[1], r[2], r[3], r[4]);
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
      this.appendOutbox(channel, key, ENTITY_RESOURCE, "DELETE", null, wire, wire.length);
      this.emit("DELETE", () => obj);
    });
  }

  private relIdentity(rel: Relationship): { id: Uint8Array; subjectKey: string; objectKey: string; kind: string; type: string; pred: string } {
    if (!rel.predicate) throw new InvalidInputError("relationship: missing predicate");
    if (!rel.subject || !rel.object) throw new InvalidInputError("relationship: missing subject or object");
    if (equals(ResourceRefSchema, rel.subject, rel.object)) throw new InvalidInputError("relationship: subject equals object");
    const subjectKey = encodeResourceKey(rel.subject);
    const objectKey = encodeResourceKey(rel.object);
    const pred = protoName(rel.predicate.typeUrl);
    return {
      id: relationshipId(rel, subjectKey, objectKey),
      subjectKey,
      objectKey,
      kind: rel.type?.kind || RELATIONSHIP_KIND,
      type: rel.type?.type || pred,
      pred,
    };
  }

  /** The stored row with this identity: the triple through the subject index, then the id. */
  private findRelationship(id: Uint8Array, subjectKey: string, objectKey: string, pred: string): RelRow | undefined {
    for (const r of this.s.relFind.values(subjectKey, objectKey, pred) as RelRow[]) {
      if (sameBytes(r[5], id)) return r;
    }
    return undefined;
  }

  addRelationships(...relationships: Relationship[]): void {
    this.assertWritable();
    const ids = relationships.map((r) => this.relIdentity(r)); // validate all before writing anything
    this.tx(() => {
      for (let i = 0; i < relationships.length; i++) {
        const { id, subjectKey, objectKey, kind, type, pred } = ids[i]!;
        if (this.findRelationship(id, subjectKey, objectKey, pred)) continue;
        const body = toBinary(RelationshipSchema, relationships[i]!);
        const channel = this.classify(type);
        const rid = Number(this.s.relInsert.run(id, subjectKey, objectKey, pred, kind, type, channel, body).lastInsertRowid);
        this.appendOutbox(
          channel,
          relKey(rid),
          ENTITY_RELATIONSHIP,
          "CREATE",
          rid,
          null,
          wireObjectSize(kind, type, RELATIONSHIP_TYPE_URL, body.length),
        );
        this.emit("ADD", () => wireObject(kind, type, RELATIONSHIP_TYPE_URL, body));
      }
    });
  }

  deleteRelationships(...relationships: Relationship[]): void {
    this.assertWritable();
    const ids = relationships.map((r) => this.relIdentity(r));
    this.tx(() => {
      for (const { id, subjectKey, objectKey, pred } of ids) {
        const row = this.findRelationship(id, subjectKey, objectKey, pred);
        if (row) this.removeRelationship(row[0], row[1], row[2], row[3], row[4]);
      }
    });
  }

  getRelationships(subject?: ResourceRef, object?: ResourceRef, predicateType?: string): Relationship[] {
    this.assertOpen();
    const sk = subject ? encodeResourceKey(subject) : undefined;
    const ok = object ? encodeResourceKey(object) : undefined;
    const q = this.s.relBodies;
    let rows: [Uint8Array][] = [];
    if (sk !== undefined && ok !== undefined && predicateType !== undefined) rows = q.sop.values(sk, predicateType, ok) as [Uint8Array][];
    else if (sk !== undefined && ok !== undefined) rows = q.so.values(sk, ok) as [Uint8Array][];
    else if (sk !== undefined && predicateType !== undefined) rows = q.sp.values(sk, predicateType) as [Uint8Array][];
    else if (ok !== undefined && predicateType !== undefined) rows = q.op.values(ok, predicateType) as [Uint8Array][];
    else if (sk !== undefined) rows = q.s.values(sk) as [Uint8Array][];
    else if (ok !== undefined) rows = q.o.values(ok) as [Uint8Array][];
    else if (predicateType !== undefined) rows = q.p.values(predicateType) as [Uint8Array][];
    if (rows.length === 0) {
      throw new RelationshipsNotFoundError(`subject=${sk ?? "*"} object=${ok ?? "*"} predicate=${predicateType ?? "*"}`);
    }
    return rows.map((r) => fromBinary(RelationshipSchema, r[0]));
  }

  /** Rows [body, id, subject_key, object_key, predicate_type] matching the intersection; every row when all are undefined. */
  relationshipBodies(subjectKey?: string, objectKey?: string, predicate?: string): [Uint8Array, Uint8Array, string, string, string][] {
    this.assertOpen();
    const q = this.s.relQuery;
    type Rows = [Uint8Array, Uint8Array, string, string, string][];
    if (subjectKey !== undefined && objectKey !== undefined && predicate !== undefined) return q.sop.values(subjectKey, predicate, objectKey) as Rows;
    if (subjectKey !== undefined && objectKey !== undefined) return q.so.values(subjectKey, objectKey) as Rows;
    if (subjectKey !== undefined && predicate !== undefined) return q.sp.values(subjectKey, predicate) as Rows;
    if (objectKey !== undefined && predicate !== undefined) return q.op.values(objectKey, predicate) as Rows;
    if (subjectKey !== undefined) return q.s.values(subjectKey) as Rows;
    if (objectKey !== undefined) return q.o.values(objectKey) as Rows;
    if (predicate !== undefined) return q.p.values(predicate) as Rows;
    return q.all.values() as Rows;
  }

  /** Rows [key, kind, type, body] of resources matching the filters, in key order per filter. */
  resourceRows(filters: ReadonlyArray<Pick<TypeDescriptor, "kind" | "type">> = []): [string, string, string, Uint8Array][] {
    this.assertOpen();
    type Rows = [string, string, string, Uint8Array][];
    if (filters.length === 0 || filters.some((f) => !f.type)) {
      return (this.s.resAll.values() as Rows).filter((r) => matchesFilters(filters, r[1], r[2]));
    }
    const out: Rows = [];
    const seen = new Set<string>();
    for (const f of filters) {
      for (const r of this.s.resByType.values(f.type, f.type + ".", f.type + "/") as Rows) {
        if (seen.has(r[0]) || !matchesFilters([f], r[1], r[2])) continue;
        seen.add(r[0]);
        out.push(r);
      }
    }
    return out;
  }

  listResources(filters: TypeDescriptor[] = []): Resource[] {
    return this.resourceRows(filters).map((r) => fromBinary(ResourceSchema, r[3]));
  }

  batch<T>(fn: () => T): T {
    this.assertWritable();
    return this.tx(fn);
  }

  private applyOne(op: StoreOp): void {
    switch (op.op) {
      case "add":
        return this.addResource(op.resource);
      case "update":
        return this.updateResource(op.resource);
      case "delete":
        return this.deleteResource(op.ref);
      case "addRelationships":
        return this.addRelationships(...op.relationships);
      case "deleteRelationships":
        return this.deleteRelationships(...op.relationships);
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

  subscribe(filters: TypeDescriptor[], handler: (event: StoreEvent) => void): Subscription {
    const sub: Sub = {
      filters: filters.filter((f) => f !== undefined && f !== null),
      handler,
      snapshot: null,
      closed: false,
      after: this.commits,
    };
    if (this.closed) return { close() {} };
    if (this.ctx) throw new Error("subscribe inside a store batch is not supported");
    // Read the state and register in the same synchronous step: every later commit is a live event.
    const snap: WireObject[] = [];
    for (const [, kind, type, body] of this.resourceRows(sub.filters)) snap.push(wireObject(kind, type, RESOURCE_TYPE_URL, body));
    for (const [kind, type, body] of this.s.relAll.values() as [string, string, Uint8Array][]) {
      if (matchesFilters(sub.filters, kind, type)) snap.push(wireObject(kind, type, RELATIONSHIP_TYPE_URL, body));
    }
    sub.snapshot = snap;
    this.subs.add(sub);
    queueMicrotask(() => this.flushSnapshot(sub));
    return {
      close: () => {
        sub.closed = true;
        this.subs.delete(sub);
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subs) sub.closed = true;
    this.subs.clear();
    liveOutboxes.delete(this);
    this.outbox.closeListeners();
    this.opts.checkpointer?.close();
    if (!this.opts.readonly) {
      try {
        // refresh planner statistics cheaply (bounded analysis), as SQLite recommends on close
        this.db.run("PRAGMA analysis_limit = 1000");
        this.db.run("PRAGMA optimize");
      } catch (err) {
        this.log.debug({ err: String(err) }, "PRAGMA optimize failed");
      }
    }
    for (const st of Object.values(this.s)) {
      if (typeof (st as Statement).finalize === "function") (st as Statement).finalize();
      else for (const q of Object.values(st as Record<string, Statement>)) q.finalize();
    }
    closeDatabase(this.db);
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

  get writable(): boolean {
    return !this.opts.readonly && !this.closed;
  }
}

function prepare(db: Database) {
  const relCols = "body, id, subject_key, object_key, predicate_type";
  return {
    resGet: db.prepare("SELECT rid, created_at, updated_at, body, type, channel FROM resources WHERE key = ?"),
    resInsert: db.prepare("INSERT INTO resources(key, kind, type, channel, created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    resUpdate: db.prepare("UPDATE resources SET kind = ?, type = ?, channel = ?, updated_at = ?, body = ? WHERE rid = ?"),
    resDelete: db.prepare("DELETE FROM resources WHERE rid = ?"),
    resAll: db.prepare("SELECT key, kind, type, body FROM resources ORDER BY key"),
    resByType: db.prepare("SELECT key, kind, type, body FROM resources WHERE type = ? OR (type >= ? AND type < ?) ORDER BY key"),
    relFind: db.prepare(
      "SELECT rid, body, kind, type, channel, id FROM relationships WHERE subject_key = ? AND object_key = ? AND predicate_type = ?",
    ),
    relInsert: db.prepare(
      "INSERT INTO relationships(id, subject_key, object_key, predicate_type, kind, type, channel, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    relDelete: db.prepare("DELETE FROM relationships WHERE rid = ?"),
    relBySubjectRows: db.prepare("SELECT rid, body, kind, type, channel, id FROM relationships WHERE subject_key = ?"),
    relByObjectRows: db.prepare("SELECT rid, body, kind, type, channel, id FROM relationships WHERE object_key = ?"),
    relAll: db.prepare("SELECT kind, type, body FROM relationships ORDER BY rid"),
    // body only; the subject index is the more selective one (a pod has ~10 edges, a node ~100)
    relBodies: {
      s: db.prepare("SELECT body FROM relationships INDEXED BY relationships_subject WHERE subject_key = ?"),
      o: db.prepare("SELECT body FROM relationships INDEXED BY relationships_object WHERE object_key = ?"),
      p: db.prepare("SELECT body FROM relationships WHERE predicate_type = ?"),
      so: db.prepare("SELECT body FROM relationships INDEXED BY relationships_subject WHERE subject_key = ? AND object_key = ?"),
      sp: db.prepare("SELECT body FROM relationships INDEXED BY relationships_subject WHERE subject_key = ? AND predicate_type = ?"),
      op: db.prepare("SELECT body FROM relationships INDEXED BY relationships_object WHERE object_key = ? AND predicate_type = ?"),
      sop: db.prepare(
        "SELECT body FROM relationships INDEXED BY relationships_subject WHERE subject_key = ? AND predicate_type = ? AND object_key = ?",
      ),
    },
    relQuery: {
      all: db.prepare(`SELECT ${relCols} FROM relationships ORDER BY rid`),
      s: db.prepare(`SELECT ${relCols} FROM relationships WHERE subject_key = ?`),
      o: db.prepare(`SELECT ${relCols} FROM relationships WHERE object_key = ?`),
      p: db.prepare(`SELECT ${relCols} FROM relationships WHERE predicate_type = ?`),
      so: db.prepare(`SELECT ${relCols} FROM relationships WHERE subject_key = ? AND object_key = ?`),
      sp: db.prepare(`SELECT ${relCols} FROM relationships WHERE subject_key = ? AND predicate_type = ?`),
      op: db.prepare(`SELECT ${relCols} FROM relationships WHERE object_key = ? AND predicate_type = ?`),
      sop: db.prepare(`SELECT ${relCols} FROM relationships WHERE subject_key = ? AND predicate_type = ? AND object_key = ?`),
    },
    obUpsert: db.prepare(
      `INSERT INTO outbox(seq, channel, key, entity, op, rid, body, bytes, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(channel, key) DO UPDATE SET
         seq = excluded.seq,
         op = CASE WHEN outbox.op = 0 AND excluded.op = 1 THEN 0 ELSE excluded.op END,
         entity = excluded.entity, rid = excluded.rid, body = excluded.body,
         bytes = excluded.bytes, enqueued_at = excluded.enqueued_at`,
    ),
    obPrevBytes: db.prepare("SELECT bytes FROM outbox WHERE channel = ? AND key = ?"),
    obInsert: db.prepare(
      `INSERT INTO outbox(seq, channel, key, entity, op, rid, body, bytes, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(channel, key) DO NOTHING`,
    ),
    obRead: db.prepare(
      `SELECT o.seq, o.key, o.entity, o.op, o.body, o.bytes, o.enqueued_at,
              r.kind, r.type, r.body, l.kind, l.type, l.body
       FROM outbox o
       LEFT JOIN resources r ON o.entity = 0 AND r.rid = o.rid
       LEFT JOIN relationships l ON o.entity = 1 AND l.rid = o.rid
       WHERE o.channel = ? AND o.seq > ? ORDER BY o.seq LIMIT ?`,
    ),
    obConfirm: db.prepare("DELETE FROM outbox WHERE key = ? AND channel = ? AND seq = ? RETURNING bytes"),
    // One statement for a whole chunk: the (key, seq) pairs come as a JSON array bound as one
    // parameter (fixed SQL text, prepared once). json_each drives the loop; each pair is looked up
    // through UNIQUE(channel, key) and deleted only when its seq still matches.
    obConfirmMany: db.prepare(
      `DELETE FROM outbox WHERE id IN (
         SELECT o.id FROM json_each(?) AS j CROSS JOIN outbox AS o
         WHERE o.channel = ? AND o.key = j.value ->> 0 AND o.seq = j.value ->> 1
       ) RETURNING bytes`,
    ),
    obCounts: db.prepare("SELECT channel, count(*), coalesce(sum(bytes), 0), max(seq) FROM outbox GROUP BY channel"),
    obOldest: db.prepare("SELECT enqueued_at FROM outbox WHERE channel = ? ORDER BY seq LIMIT 1"),
    obNewest: db.prepare("SELECT seq FROM outbox WHERE channel = ? ORDER BY seq DESC LIMIT 1"),
    obTrim: db.prepare(
      "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE channel = ? ORDER BY seq LIMIT ?) RETURNING bytes",
    ),
    obResyncChannels: db.prepare("SELECT substr(k, 8) FROM meta WHERE k >= 'resync:' AND k < 'resync;'"),
    metaGet: db.prepare("SELECT v FROM meta WHERE k = ?"),
    metaSet: db.prepare("INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v"),
    metaDel: db.prepare("DELETE FROM meta WHERE k = ?"),
    snapRes: db.prepare("SELECT rid, key, kind, type, body FROM resources WHERE channel = ? AND rid > ? ORDER BY rid LIMIT ?"),
    snapRel: db.prepare("SELECT rid, id, kind, type, body FROM relationships WHERE channel = ? AND rid > ? ORDER BY rid LIMIT ?"),
  } satisfies Record<string, Statement | Record<string, Statement>>;
}

type Prepared = ReturnType<typeof prepare>;

/** Entries per confirm statement. */
const CONFIRM_CHUNK = 500;

type ObRow = [
  seq: number,
  key: string,
  entity: number,
  op: number,
  body: Uint8Array | null,
  bytes: number,
  enqueuedAt: number,
  rKind: string | null,
  rType: string | null,
  rBody: Uint8Array | null,
  lKind: string | null,
  lType: string | null,
  lBody: Uint8Array | null,
];

/**
 * Transactional outbox over the store's tables. Bounded by the number of live objects (one entry per
 * object, coalesced) plus pending deletes, and by a byte and an entry cap per channel: past a cap,
 * the oldest entries of that channel are dropped (counted), and the channel is flagged for a full
 * resync from snapshot(). Drops go down to 90% of the cap, so a full outbox does not trim per write.
 */
export class SqliteOutbox implements Outbox {
  private readonly listeners = new Set<(channel: string) => void>();
  private readonly meters = new Map<string, BoundMeter>();
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  /** depth/bytes per channel; exact: recounted on open, changed only after commits. */
  private readonly counts = new Map<string, { depth: number; bytes: number }>();

  constructor(
    private readonly store: SqliteStore,
    private readonly s: Prepared,
    private readonly opts: SqliteStoreOptions,
  ) {
    this.maxBytes = opts.outboxMaxBytes ?? DEFAULT_OUTBOX_MAX_BYTES;
    this.maxEntries = opts.outboxMaxEntries ?? DEFAULT_OUTBOX_MAX_ENTRIES;
  }

  private meter(channel: string): BoundMeter {
    let m = this.meters.get(channel);
    if (!m) {
      m = meterBound(`outbox_${channel}`, this.maxEntries);
      this.meters.set(channel, m);
    }
    return m;
  }

  private depthBytes(channel: string): { depth: number; bytes: number } {
    const c = this.counts.get(channel);
    return c ? { depth: c.depth, bytes: c.bytes } : { depth: 0, bytes: 0 };
  }

  /** @internal counts the table (on open; one pass over the outbox). Returns the highest seq. */
  recount(): number {
    this.counts.clear();
    let max = 0;
    for (const [ch, n, b, m] of this.s.obCounts.values() as [string, number, number, number][]) {
      this.counts.set(ch, { depth: n, bytes: b });
      max = Math.max(max, m);
    }
    return max;
  }

  /** @internal applies a committed change. */
  addCounts(channel: string, depth: number, bytes: number): void {
    const c = this.counts.get(channel);
    if (c) {
      c.depth += depth;
      c.bytes += bytes;
    } else this.counts.set(channel, { depth, bytes });
  }

  read(channel: string, afterSeq: number, limit: number, maxBytes = Infinity): OutboxEntry[] {
    if (this.store.isClosed) throw new StoreClosedError();
    const rows = this.s.obRead.values(channel, afterSeq, Math.max(1, Math.floor(limit))) as ObRow[];
    const out: OutboxEntry[] = [];
    let total = 0;
    for (const r of rows) {
      if (out.length > 0 && total + r[5] > maxBytes) break;
      const op = OP_NAME[r[3]]!;
      let object: WireObject;
      if (op === "DELETE") {
        object = fromBinary(ObjectSchema, r[4]!);
      } else if (r[2] === ENTITY_RESOURCE && r[9]) {
        object = wireObject(r[7]!, r[8]!, RESOURCE_TYPE_URL, r[9]);
      } else if (r[2] === ENTITY_RELATIONSHIP && r[12]) {
        object = wireObject(r[10]!, r[11]!, RELATIONSHIP_TYPE_URL, r[12]);
      } else {
        // cannot happen: entries and rows change in the same transaction
        this.opts.logger.error({ channel, key: r[1], seq: r[0] }, "outbox entry without its row; skipped");
        continue;
      }
      total += r[5];
      out.push({ seq: r[0], channel, key: r[1], op, object, bytes: r[5], enqueuedAt: r[6] });
    }
    return out;
  }

  readRaw(channel: string, afterSeq: number, limit: number, maxBytes = Infinity): OutboxRawEntry[] {
    if (this.store.isClosed) throw new StoreClosedError();
    const rows = this.s.obRead.values(channel, afterSeq, Math.max(1, Math.floor(limit))) as ObRow[];
    const out: OutboxRawEntry[] = [];
    let total = 0;
    for (const r of rows) {
      if (out.length > 0 && total + r[5] > maxBytes) break;
      const op = OP_NAME[r[3]]!;
      let e: OutboxRawEntry;
      if (op === "DELETE") {
        e = { seq: r[0], channel, key: r[1], op, encoded: r[4]!, bytes: r[5], enqueuedAt: r[6] };
      } else if (r[2] === ENTITY_RESOURCE && r[9]) {
        e = { seq: r[0], channel, key: r[1], op, kind: r[7]!, type: r[8]!, typeUrl: RESOURCE_TYPE_URL, value: r[9], bytes: r[5], enqueuedAt: r[6] };
      } else if (r[2] === ENTITY_RELATIONSHIP && r[12]) {
        e = { seq: r[0], channel, key: r[1], op, kind: r[10]!, type: r[11]!, typeUrl: RELATIONSHIP_TYPE_URL, value: r[12], bytes: r[5], enqueuedAt: r[6] };
      } else {
        // cannot happen: entries and rows change in the same transaction
        this.opts.logger.error({ channel, key: r[1], seq: r[0] }, "outbox entry without its row; skipped");
        continue;
      }
      total += r[5];
      out.push(e);
    }
    return out;
  }

  /**
   * One DELETE statement per chunk of CONFIRM_CHUNK entries (not one per entry), same rule: only
   * entries whose (key, seq) still match are removed.
   */
  confirm(channel: string, entries: ReadonlyArray<Pick<OutboxEntry, "key" | "seq">>): number {
    if (!this.store.writable) throw new StoreClosedError();
    let n = 0;
    this.store.runTx(() => {
      let bytes = 0;
      let pairs: Array<[string, number]> = [];
      const flush = () => {
        if (pairs.length === 0) return;
        for (const [b] of this.s.obConfirmMany.values(JSON.stringify(pairs), channel) as [number][]) {
          n++;
          bytes += b;
        }
        pairs = [];
      };
      for (const e of entries) {
        if (!(e.seq > 0)) continue;
        pairs.push([e.key, e.seq]);
        if (pairs.length >= CONFIRM_CHUNK) flush();
      }
      flush();
      if (n > 0) this.store.countDelta(channel, -n, -bytes);
    });
    this.meter(channel).depth(this.depthBytes(channel).depth);
    return n;
  }

  /** The original per-entry confirm (one DELETE per entry); kept for the store bench's comparison. @internal */
  confirmEach(channel: string, entries: ReadonlyArray<Pick<OutboxEntry, "key" | "seq">>): number {
    if (!this.store.writable) throw new StoreClosedError();
    let n = 0;
    this.store.runTx(() => {
      let bytes = 0;
      for (const e of entries) {
        if (e.seq <= 0) continue;
        const r = this.s.obConfirm.values(e.key, channel, e.seq)[0] as [number] | undefined;
        if (r) {
          n++;
          bytes += r[0];
        }
      }
      if (n > 0) this.store.countDelta(channel, -n, -bytes);
    });
    this.meter(channel).depth(this.depthBytes(channel).depth);
    return n;
  }

  stats(channel: string): OutboxStats {
    if (this.store.isClosed) throw new StoreClosedError();
    const { depth, bytes } = this.depthBytes(channel);
    const oldest = this.s.obOldest.values(channel)[0] as [number] | undefined;
    const newest = this.s.obNewest.values(channel)[0] as [number] | undefined;
    return { depth, bytes, oldestEnqueuedAt: oldest?.[0], newestSeq: newest?.[0] };
  }

  *snapshot(channel: string, pageSize: number): Iterable<OutboxEntry[]> {
    const size = Math.max(1, Math.floor(pageSize));
    for (const entity of [ENTITY_RESOURCE, ENTITY_RELATIONSHIP]) {
      let after = 0;
      for (;;) {
        if (this.store.isClosed) throw new StoreClosedError();
        const stmt = entity === ENTITY_RESOURCE ? this.s.snapRes : this.s.snapRel;
        const rows = stmt.values(channel, after, size) as [number, string | Uint8Array, string, string, Uint8Array][];
        if (rows.length === 0) break;
        const now = Date.now();
        const page: OutboxEntry[] = rows.map(([rid, k, kind, type, body]) => {
          const typeUrl = entity === ENTITY_RESOURCE ? RESOURCE_TYPE_URL : RELATIONSHIP_TYPE_URL;
          return {
            seq: 0,
            channel,
            key: entity === ENTITY_RESOURCE ? (k as string) : relKey(rid),
            op: "CREATE",
            object: wireObject(kind, type, typeUrl, body),
            bytes: wireObjectSize(kind, type, typeUrl, body.length),
            enqueuedAt: now,
          };
        });
        after = rows[rows.length - 1]![0];
        yield page;
        if (rows.length < size) break;
      }
    }
  }

  *snapshotRaw(channel: string, pageSize: number): Iterable<OutboxRawEntry[]> {
    const size = Math.max(1, Math.floor(pageSize));
    for (const entity of [ENTITY_RESOURCE, ENTITY_RELATIONSHIP]) {
      const typeUrl = entity === ENTITY_RESOURCE ? RESOURCE_TYPE_URL : RELATIONSHIP_TYPE_URL;
      let after = 0;
      for (;;) {
        if (this.store.isClosed) throw new StoreClosedError();
        const stmt = entity === ENTITY_RESOURCE ? this.s.snapRes : this.s.snapRel;
        const rows = stmt.values(channel, after, size) as [number, string | Uint8Array, string, string, Uint8Array][];
        if (rows.length === 0) break;
        const now = Date.now();
        const page: OutboxRawEntry[] = rows.map(([rid, k, kind, type, body]) => ({
          seq: 0,
          channel,
          key: entity === ENTITY_RESOURCE ? (k as string) : relKey(rid),
          op: "CREATE",
          kind,
          type,
          typeUrl,
          value: body,
          bytes: wireObjectSize(kind, type, typeUrl, body.length),
          enqueuedAt: now,
        }));
        after = rows[rows.length - 1]![0];
        yield page;
        if (rows.length < size) break;
      }
    }
  }

  onAppend(listener: (channel: string) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  needsResync(channel: string): boolean {
    return this.s.metaGet.values(`resync:${channel}`).length > 0;
  }

  clearResync(channel: string): void {
    if (!this.store.writable) throw new StoreClosedError();
    this.s.metaDel.run(`resync:${channel}`);
  }

  channels(): string[] {
    const out = new Set<string>();
    for (const [ch, c] of this.counts) if (c.depth > 0) out.add(ch);
    for (const [ch] of this.s.obResyncChannels.values() as [string][]) out.add(ch);
    return [...out];
  }

  /** @internal after each commit that appended to `channel`. */
  notify(channel: string): void {
    for (const l of this.listeners) {
      try {
        l(channel);
      } catch (err) {
        this.opts.logger.error({ err: String(err), channel }, "outbox onAppend listener threw");
      }
    }
  }

  /** @internal drops the oldest entries of `channel` past a cap (own transaction), flags a resync. */
  enforceCap(channel: string): void {
    let { depth, bytes } = this.depthBytes(channel);
    const meter = this.meter(channel);
    if (bytes <= this.maxBytes && depth <= this.maxEntries) {
      meter.depth(depth);
      return;
    }
    const reason = bytes > this.maxBytes ? "cap_bytes" : "cap_entries";
    const targetBytes = Math.floor(this.maxBytes * 0.9);
    const targetDepth = Math.floor(this.maxEntries * 0.9);
    let dropped = 0;
    let droppedBytes = 0;
    this.store.db.transaction(() => {
      while (bytes > targetBytes || depth > targetDepth) {
        const rows = this.s.obTrim.values(channel, 1000) as [number][];
        if (rows.length === 0) break;
        for (const [b] of rows) {
          bytes -= b;
          droppedBytes += b;
        }
        depth -= rows.length;
        dropped += rows.length;
      }
      this.s.metaSet.run(`resync:${channel}`, String(Date.now()));
    })();
    this.addCounts(channel, -dropped, -droppedBytes);
    meter.dropped(reason, dropped);
    meter.depth(depth);
    this.opts.logger.warn(
      { channel, dropped, droppedBytes, reason, maxBytes: this.maxBytes, maxEntries: this.maxEntries },
      "outbox over its cap: dropped the oldest entries; channel needs a full resync",
    );
  }

  /** @internal */
  closeListeners(): void {
    this.listeners.clear();
  }
}
