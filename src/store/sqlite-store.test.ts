// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the SQLite store: relationship queries, cascade delete, subscription filters, timestamps,
// events and snapshots, and the outbox (coalescing, caps and resync, raw reads, batched confirm).
// Over 400 lines: the store's whole unit contract in one place, one describe block per area.

import { afterEach, describe, expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema, anyPack, timestampMs } from "@bufbuild/protobuf/wkt";
import { silentLogger } from "../log/logger.ts";
import { registry } from "../metrics/registry.ts";
import { ObjectSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { type Relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { type Resource, type ResourceRef, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { openStore } from "./index.ts";
import type { SqliteStore } from "./sqlite-store.ts";
import { InvalidInputError, RelationshipsNotFoundError, ResourceExistsError, ResourceNotFoundError, type StoreEvent } from "./types.ts";

const open: SqliteStore[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
function mem(extra: Partial<Parameters<typeof openStore>[0]> = {}): SqliteStore {
  const s = openStore({ dataDirectory: "", logger: silentLogger, ...extra });
  open.push(s);
  return s;
}

const ref = (typeUrl: string, name: string): ResourceRef => create(ResourceRefSchema, { typeUrl, name });
const res = (type: string, name: string, region = ""): Resource =>
  create(ResourceSchema, { type: { kind: "resource.v1.Resource", type }, metadata: { name, region } });
const predOf = (typeName: "resource.v1.Resource" | "resource.v1.Relationship") =>
  typeName === "resource.v1.Resource"
    ? anyPack(ResourceSchema, create(ResourceSchema))
    : anyPack(RelationshipSchema, create(RelationshipSchema));
const rel = (s: ResourceRef, o: ResourceRef, predicate = predOf("resource.v1.Resource"), type = "kubernetes.v1.Contains"): Relationship =>
  create(RelationshipSchema, { type: { kind: "resource.v1.Relationship", type }, subject: s, object: o, predicate });

describe("acceptance case 2: relationship queries", () => {
  const bar = ref("bar", "test"),
    baz = ref("baz", "test2"),
    qux = ref("qux", "test3");
  const setup = () => {
    const s = mem();
    s.addRelationships(
      rel(bar, baz, predOf("resource.v1.Resource")),
      rel(baz, bar, predOf("resource.v1.Relationship")),
      rel(bar, baz, predOf("resource.v1.Relationship")),
      rel(baz, qux, predOf("resource.v1.Resource")),
    );
    return s;
  };
  const count = (s: SqliteStore, a?: ResourceRef, b?: ResourceRef, p?: string) => {
    try {
      return s.getRelationships(a, b, p).length;
    } catch (e) {
      expect(e).toBeInstanceOf(RelationshipsNotFoundError);
      return 0;
    }
  };
  test("counts", () => {
    const s = setup();
    const R = "resource.v1.Resource",
      L = "resource.v1.Relationship";
    expect(count(s, ref("x", "notexist"), bar, R)).toBe(0);
    expect(count(s, bar)).toBe(2);
    expect(count(s, baz)).toBe(2);
    expect(count(s, qux)).toBe(0);
    expect(count(s, undefined, baz)).toBe(2);
    expect(count(s, undefined, qux)).toBe(1);
    expect(count(s, undefined, undefined, R)).toBe(2);
    expect(count(s, undefined, undefined, L)).toBe(2);
    expect(count(s, bar, baz, R)).toBe(1);
    expect(count(s, bar, baz)).toBe(2);
    expect(count(s, baz, qux)).toBe(1);
    expect(count(s, baz, undefined, L)).toBe(1);
    expect(count(s, undefined, bar, L)).toBe(1);
    expect(() => s.getRelationships()).toThrow(RelationshipsNotFoundError);
  });
  test("dedup by content, and validation writes nothing", () => {
    const s = setup();
    s.addRelationships(rel(bar, baz, predOf("resource.v1.Resource")));
    expect(count(s, bar, baz)).toBe(2);
    const noPred = create(RelationshipSchema, { subject: bar, object: baz });
    expect(() => s.addRelationships(rel(qux, bar), noPred)).toThrow(InvalidInputError);
    expect(() => s.addRelationships(rel(qux, bar), rel(qux, ref("qux", "test3")))).toThrow("subject equals object");
    expect(count(s, qux)).toBe(0);
  });
});

describe("acceptance case 3: cascade delete", () => {
  test("deletes every relationship touching it, from every index", () => {
    const s = mem();
    const foo = ref("test", "foo"),
      barR = ref("test", "bar"),
      bazR = ref("test", "baz");
    s.addResource(res("test", "foo"));
    const p = (u: string) => create(AnySchema, { typeUrl: u });
    s.addRelationships(rel(foo, barR, p("foo")), rel(barR, foo, p("bar")), rel(barR, bazR, p("baz")));
    s.deleteResource(foo);
    expect(() => s.getResource(foo)).toThrow(ResourceNotFoundError);
    expect(() => s.getRelationships(foo, barR)).toThrow(RelationshipsNotFoundError);
    expect(() => s.getRelationships(barR, foo)).toThrow(RelationshipsNotFoundError);
    expect(s.getRelationships(barR, bazR)).toHaveLength(1);
    // the other endpoint's indexes hold nothing stale (the original's bug)
    expect(s.getRelationships(barR)).toHaveLength(1);
    expect(() => s.getRelationships(undefined, barR)).toThrow(RelationshipsNotFoundError);
    expect(s.getRelationships(undefined, bazR)).toHaveLength(1);
    expect(() => s.getRelationships(undefined, undefined, "foo")).toThrow(RelationshipsNotFoundError);
    expect(s.getRelationships(undefined, undefined, "baz")).toHaveLength(1);
  });
  test("resource with no relationships; absent resource", () => {
    const s = mem();
    s.addResource(res("test", "lonely"));
    s.deleteResource(ref("test", "lonely"));
    s.deleteResource(ref("test", "never"));
    expect(() => s.getResource(ref("test", "lonely"))).toThrow(ResourceNotFoundError);
  });
});

const tick = () => new Promise((r) => setTimeout(r, 0));
function collect(s: SqliteStore, filters: { kind?: string; type?: string }[]) {
  const events: StoreEvent[] = [];
  const sub = s.subscribe(
    filters.map((f) => ({ kind: f.kind ?? "", type: f.type ?? "" }) as never),
    (e) => events.push(e),
  );
  const types = () => events.flatMap((e) => e.objs.map((o) => o.type!.type));
  return { events, sub, types };
}

describe("acceptance case 4: subscribe prefix filtering", () => {
  const TYPES = [
    "com.example.services.UserService",
    "com.example.services.AuthService",
    "com.other.services.UserService",
    "com.example.services.billing.PaymentService",
    "com.example.models.User",
    "org.example.Something",
    "SimpleType",
    "SimpleTypeExtended",
  ];
  const run = async (type: string | undefined) => {
    const s = mem();
    const c = collect(s, type === undefined ? [] : [{ type }]);
    for (const t of TYPES) s.addResource(res(t, "r"));
    await tick();
    c.sub.close();
    return c.types().sort();
  };
  test("patterns", async () => {
    expect(await run("com.example.services.UserService")).toEqual(["com.example.services.UserService"]);
    expect(await run("com.example.services")).toEqual(
      ["com.example.services.AuthService", "com.example.services.UserService", "com.example.services.billing.PaymentService"].sort(),
    );
    expect(await run("com.example")).toEqual(TYPES.filter((t) => t.startsWith("com.example.")).sort());
    expect(await run("SimpleType")).toEqual(["SimpleType"]);
    expect(await run(undefined)).toEqual([...TYPES].sort());
  });
  test("kind-only filters work (the original never matched them)", async () => {
    const s = mem();
    const c = collect(s, [{ kind: "resource.v1.Relationship" }]);
    s.addResource(res("a.B", "x"));
    s.addRelationships(rel(ref("a.B", "x"), ref("a.B", "y")));
    await tick();
    expect(c.events.map((e) => e.objs[0]!.type!.kind)).toEqual(["resource.v1.Relationship"]);
  });
});

describe("acceptance case 5: timestamps", () => {
  test("add sets both; update keeps created_at, strictly later updated_at, full replace", () => {
    let now = 1_700_000_000_000;
    const s = mem({ now: () => now });
    const r = create(ResourceSchema, {
      type: { kind: "resource.v1.Resource", type: "foo" },
      metadata: { name: "n", region: "us-west-2", zone: "a" },
    });
    s.addResource(r);
    const got = s.getResource(ref("foo", "n"));
    expect(got.metadata!.createdAt).toBeDefined();
    expect(timestampMs(got.metadata!.createdAt!)).toBe(now);
    expect(got.metadata!.updatedAt).toEqual(got.metadata!.createdAt);
    expect(r.metadata!.createdAt).toEqual(got.metadata!.createdAt); // set on the caller's object too
    // same clock reading: still strictly later
    s.updateResource(
      create(ResourceSchema, { type: { kind: "resource.v1.Resource", type: "foo" }, metadata: { name: "n", region: "us-east-1" } }),
    );
    const up = s.getResource(ref("foo", "n"));
    expect(up.metadata!.region).toBe("us-east-1");
    expect(up.metadata!.zone).toBe(""); // full replace, not merge
    expect(up.metadata!.createdAt).toEqual(got.metadata!.createdAt);
    const t = (x: typeof up) => x.metadata!.updatedAt!.seconds * 1_000_000_000n + BigInt(x.metadata!.updatedAt!.nanos);
    expect(t(up) > t(got)).toBe(true);
    expect(() => s.addResource(res("foo", "n"))).toThrow(ResourceExistsError);
    expect(() => s.getResource(ref("foo", "unknown"))).toThrow(ResourceNotFoundError);
    // update of a new key creates it with both timestamps
    now += 5;
    s.updateResource(res("foo", "fresh"));
    const f = s.getResource(ref("foo", "fresh"));
    expect(f.metadata!.createdAt).toEqual(f.metadata!.updatedAt);
  });
});

describe("events", () => {
  test("ADD for new, UPDATE for changed, nothing for unchanged; DELETE for the resource and each cascaded relationship", async () => {
    const s = mem();
    const c = collect(s, []);
    s.updateResource(res("k8s.io.api.core.v1.Pod", "p"));
    s.updateResource(res("k8s.io.api.core.v1.Pod", "p", "r1"));
    s.updateResource(res("k8s.io.api.core.v1.Pod", "p", "r1"));
    s.addRelationships(rel(ref("k8s.io.api.core.v1.Pod", "p"), ref("k8s.io.api.core.v1.Node", "n")));
    s.deleteResource(ref("k8s.io.api.core.v1.Pod", "p"));
    s.deleteResource(ref("k8s.io.api.core.v1.Pod", "p"));
    await tick();
    expect(c.events.map((e) => `${e.type}:${e.objs[0]!.type!.kind}`)).toEqual([
      "ADD:resource.v1.Resource",
      "UPDATE:resource.v1.Resource",
      "ADD:resource.v1.Relationship",
      "DELETE:resource.v1.Relationship",
      "DELETE:resource.v1.Resource",
    ]);
    const relDel = c.events[3]!.objs[0]!;
    expect(relDel.object!.typeUrl).toBe("type.googleapis.com/resource.v1.Relationship");
    expect(fromBinary(RelationshipSchema, relDel.object!.value).deletedAt).toBeDefined();
    const stub = fromBinary(ResourceSchema, c.events[4]!.objs[0]!.object!.value);
    expect(stub.type).toMatchObject({ kind: "resource.v1.Resource", type: "k8s.io.api.core.v1.Pod" });
    expect(stub.metadata!.name).toBe("p");
    expect(stub.metadata!.deletedAt).toBeDefined();
  });

  test("deleteRelationships emits DELETE for each that existed", async () => {
    const s = mem();
    const r1 = rel(ref("a", "1"), ref("a", "2"));
    s.addRelationships(r1);
    const c = collect(s, []);
    s.deleteRelationships(r1, rel(ref("a", "1"), ref("a", "3")));
    await tick();
    expect(c.events.map((e) => e.type)).toEqual(["ADD", "DELETE"]); // snapshot, then the delete
    expect(() => s.getRelationships(ref("a", "1"))).toThrow(RelationshipsNotFoundError);
  });

  test("snapshot then live: no gap, no duplicate, snapshot first even when a write comes before the microtask", () => {
    const s = mem();
    s.addResource(res("t.A", "1"));
    s.addResource(res("t.A", "2"));
    const c = collect(s, [{ type: "t" }]);
    s.addResource(res("t.A", "3"));
    s.deleteResource(ref("t.A", "1"));
    expect(c.events.map((e) => [e.type, e.objs.length])).toEqual([
      ["ADD", 2],
      ["ADD", 1],
      ["DELETE", 1],
    ]);
  });

  test("a subscriber added by a handler gets no event that is already in its snapshot", async () => {
    const s = mem();
    const late: StoreEvent[] = [];
    let added = false;
    s.subscribe([], (e) => {
      if (added || e.type !== "ADD") return;
      added = true;
      s.subscribe([], (x) => late.push(x)); // while the rest of this batch's events are queued
    });
    s.batch(() => {
      for (let i = 0; i < 5; i++) s.addResource(res("t.A", `r${i}`));
    });
    s.addResource(res("t.A", "after"));
    await tick();
    // snapshot with the 5, then only the later one
    expect(late.map((e) => [e.type, e.objs.length])).toEqual([
      ["ADD", 5],
      ["ADD", 1],
    ]);
  });

  test("receivers get their own copies; a throwing handler does not stop others", async () => {
    const s = mem();
    const got: StoreEvent[] = [];
    s.subscribe([], () => {
      throw new Error("boom");
    });
    s.subscribe([], (e) => {
      e.objs[0]!.type!.type = "mutated";
      got.push(e);
    });
    const c = collect(s, []);
    s.addResource(res("t.A", "1"));
    await tick();
    expect(got).toHaveLength(1);
    expect(c.types()).toEqual(["t.A"]);
  });

  test("batch: one transaction, events after commit, nothing on throw", async () => {
    const s = mem();
    const c = collect(s, []);
    expect(() =>
      s.batch(() => {
        s.addResource(res("t.A", "1"));
        throw new Error("abort");
      }),
    ).toThrow("abort");
    expect(() => s.getResource(ref("t.A", "1"))).toThrow(ResourceNotFoundError);
    s.batch(() => {
      s.addResource(res("t.A", "1"));
      s.addResource(res("t.A", "2"));
      expect(c.events).toHaveLength(0);
    });
    expect(c.events).toHaveLength(2);
    expect(s.outbox.stats("cluster").depth).toBe(2);
  });

  test("applyAsync yields between chunks", async () => {
    const s = mem();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const ops = Array.from({ length: 3000 }, (_, i) => ({ op: "update" as const, resource: res("t.A", `r${i}`) }));
    await s.applyAsync(ops, { chunkSize: 100 });
    clearInterval(timer);
    expect(s.listResources().length).toBe(3000);
    expect(ticks).toBeGreaterThan(0);
  });
});

describe("outbox", () => {
  test("channels, coalescing, op rules, read in order, confirm only matching seq", () => {
    const s = mem();
    s.updateResource(res("k8s.io.api.core.v1.Pod", "p1"));
    s.updateResource(res("antimetal.hardware.v1.CPUCoreNode", "c0"));
    s.updateResource(res("k8s.io.api.core.v1.Pod", "p2"));
    s.updateResource(res("k8s.io.api.core.v1.Pod", "p1", "r")); // CREATE then UPDATE stays CREATE, moves to the end
    const cl = s.outbox.read("cluster", 0, 100);
    expect(cl.map((e) => [e.op, fromBinary(ResourceSchema, e.object.object!.value).metadata!.name])).toEqual([
      ["CREATE", "p2"],
      ["CREATE", "p1"],
    ]);
    expect(fromBinary(ResourceSchema, cl[1]!.object.object!.value).metadata!.region).toBe("r"); // newest state
    expect(cl[0]!.seq).toBeLessThan(cl[1]!.seq);
    expect(cl[0]!.bytes).toBe(toBinary(ObjectSchema, cl[0]!.object).length);
    expect(s.outbox.read("instance", 0, 100).map((e) => e.key)).toHaveLength(1);
    expect(s.outbox.channels().sort()).toEqual(["cluster", "instance"]);

    // a confirm of an entry that coalesced after the read leaves the newer one
    s.updateResource(res("k8s.io.api.core.v1.Pod", "p2", "changed"));
    expect(s.outbox.confirm("cluster", cl)).toBe(1);
    const left = s.outbox.read("cluster", 0, 100);
    expect(left.map((e) => [e.op, e.key])).toEqual([["CREATE", cl[0]!.key]]);
    expect(s.outbox.confirm("cluster", left)).toBe(1);

    // after confirm: UPDATE, then DELETE replaces it
    s.updateResource(res("k8s.io.api.core.v1.Pod", "p1", "again"));
    expect(s.outbox.read("cluster", 0, 10).map((e) => e.op)).toEqual(["UPDATE"]);
    s.deleteResource(ref("k8s.io.api.core.v1.Pod", "p1"));
    const del = s.outbox.read("cluster", 0, 10);
    expect(del.map((e) => e.op)).toEqual(["DELETE"]);
    expect(fromBinary(ResourceSchema, del[0]!.object.object!.value).metadata!.deletedAt).toBeDefined();
    expect(s.outbox.stats("cluster")).toMatchObject({ depth: 1, bytes: del[0]!.bytes, newestSeq: del[0]!.seq });
    expect(s.outbox.stats("nope")).toEqual({ depth: 0, bytes: 0, oldestEnqueuedAt: undefined, newestSeq: undefined });
    expect(s.outbox.read("cluster", del[0]!.seq, 10)).toHaveLength(0);
  });

  test("relationship entries: keys are never reused, so a pending DELETE is never overwritten by another triple", () => {
    const s = mem();
    const r1 = rel(ref("a.A", "1"), ref("a.A", "2"));
    const r2 = rel(ref("a.A", "3"), ref("a.A", "4"));
    s.addRelationships(r1);
    s.deleteRelationships(r1); // CREATE then DELETE of the same row coalesce to DELETE
    s.addRelationships(r2); // a new row: a new key
    s.addRelationships(r1); // the same triple again: a new row too; its old DELETE stays, in order
    const e = s.outbox.read("cluster", 0, 10);
    expect(e.map((x) => x.op)).toEqual(["DELETE", "CREATE", "CREATE"]);
    expect(new Set(e.map((x) => x.key)).size).toBe(3);
    expect(fromBinary(RelationshipSchema, e[0]!.object.object!.value).subject!.name).toBe("1");
    expect(fromBinary(RelationshipSchema, e[1]!.object.object!.value).subject!.name).toBe("3");
  });

  test("maxBytes and limit", () => {
    const s = mem();
    for (let i = 0; i < 10; i++) s.updateResource(res("t.A", `r${i}`));
    expect(s.outbox.read("cluster", 0, 3)).toHaveLength(3);
    const one = s.outbox.read("cluster", 0, 10, 1);
    expect(one).toHaveLength(1);
    // sizes differ by a byte or two (timestamp varints): budget exactly the first four
    const all = s.outbox.read("cluster", 0, 10);
    const four = all.slice(0, 4).reduce((a, e) => a + e.bytes, 0);
    expect(s.outbox.read("cluster", 0, 10, four)).toHaveLength(4);
    expect(s.outbox.read("cluster", 0, 10, four - 1)).toHaveLength(3);
  });

  test("byte cap: drops oldest, counts, flags resync; snapshot restores the state", async () => {
    const s = mem({ outboxMaxBytes: 2000 });
    let appended = 0;
    s.outbox.onAppend(() => appended++);
    for (let i = 0; i < 100; i++) s.updateResource(res("t.A", `r${i}`));
    expect(appended).toBe(100);
    const st = s.outbox.stats("cluster");
    expect(st.bytes).toBeLessThanOrEqual(2000);
    expect(s.outbox.needsResync("cluster")).toBe(true);
    const entries = s.outbox.read("cluster", 0, 1000);
    expect(entries.at(-1)!.key).toBe(`t.A/${Buffer.from("r99").toString("base64")}`); // the newest stays
    const pages = [...s.outbox.snapshot("cluster", 30)];
    expect(pages.map((p) => p.length)).toEqual([30, 30, 30, 10]);
    expect(pages.flat().every((e) => e.op === "CREATE" && e.seq === 0)).toBe(true);
    const text = await registry.getSingleMetricAsString("antimetal_queue_dropped_total");
    expect(text).toMatch(/antimetal_queue_dropped_total\{queue="outbox_cluster",reason="cap_bytes"\} [1-9]/);
    expect(await registry.getSingleMetricAsString("antimetal_store_outbox_bytes")).toMatch(/channel="cluster"\} [1-9]/);
    s.outbox.clearResync("cluster");
    expect(s.outbox.needsResync("cluster")).toBe(false);
  });

  test("readRaw: same entries, order and limits as read, stored bytes instead of messages", () => {
    const s = mem();
    for (let i = 0; i < 6; i++) s.updateResource(res("k8s.io.api.core.v1.Pod", `p${i}`, i % 2 ? "r" : ""));
    s.addRelationships(rel(ref("a.A", "1"), ref("a.A", "2")), rel(ref("a.A", "3"), ref("a.A", "4")));
    s.deleteResource(ref("k8s.io.api.core.v1.Pod", "p2"));
    s.deleteRelationships(rel(ref("a.A", "3"), ref("a.A", "4")));
    s.updateResource(res("k8s.io.api.core.v1.Pod", "p4", "changed"));
    const dec = s.outbox.read("cluster", 0, 100);
    const raw = s.outbox.readRaw("cluster", 0, 100);
    expect(raw.map((e) => [e.seq, e.key, e.op, e.bytes, e.enqueuedAt, e.channel])).toEqual(
      dec.map((e) => [e.seq, e.key, e.op, e.bytes, e.enqueuedAt, e.channel]),
    );
    expect(new Set(raw.map((e) => e.op))).toEqual(new Set(["CREATE", "DELETE"]));
    for (const [i, r] of raw.entries()) {
      const o = dec[i]!.object;
      if (r.op === "DELETE") {
        expect(r.kind).toBeUndefined();
        expect(Buffer.from(r.encoded!).equals(Buffer.from(toBinary(ObjectSchema, o)))).toBe(true);
      } else {
        expect(r.encoded).toBeUndefined();
        expect([r.kind, r.type, r.typeUrl]).toEqual([o.type!.kind, o.type!.type, o.object!.typeUrl]);
        expect(Buffer.from(r.value!).equals(Buffer.from(o.object!.value))).toBe(true);
      }
    }
    for (const [after, limit, maxBytes] of [
      [0, 3, undefined],
      [raw[2]!.seq, 100, undefined],
      [0, 100, 1],
      [0, 100, raw[0]!.bytes + raw[1]!.bytes],
      [raw.at(-1)!.seq, 10, undefined],
    ] as const) {
      expect(s.outbox.readRaw("cluster", after, limit, maxBytes).map((e) => e.seq)).toEqual(
        s.outbox.read("cluster", after, limit, maxBytes).map((e) => e.seq),
      );
    }
    s.close();
    expect(() => s.outbox.readRaw("cluster", 0, 1)).toThrow();
  });

  test("batched confirm: several statements' worth, only matching (key, seq) removed, counts exact", () => {
    const s = mem();
    s.batch(() => {
      for (let i = 0; i < 1234; i++) s.updateResource(res("t.A", `r${i}`));
    });
    const read = s.outbox.read("cluster", 0, 10_000);
    expect(read).toHaveLength(1234);
    // coalesced after the read: these keep a newer entry
    s.batch(() => {
      for (const i of [0, 499, 500, 501, 1000, 1233]) s.updateResource(res("t.A", `r${i}`, "newer"));
    });
    const before = s.outbox.stats("cluster");
    // duplicates, a snapshot entry (seq 0), an unknown key and a wrong seq change nothing more
    const extra = [
      read[7]!,
      { key: read[8]!.key, seq: 0 },
      { key: "t.A/nope", seq: read[9]!.seq },
      { key: read[10]!.key, seq: read[10]!.seq + 1e6 },
    ];
    const n = s.outbox.confirm("cluster", [...read, ...extra]);
    expect(n).toBe(1234 - 6);
    const left = s.outbox.read("cluster", 0, 10_000);
    expect(left.map((e) => e.key).sort()).toEqual(
      [0, 499, 500, 501, 1000, 1233].map((i) => `t.A/${Buffer.from(`r${i}`).toString("base64")}`).sort(),
    );
    const after = s.outbox.stats("cluster");
    expect(after.depth).toBe(6);
    expect(before.bytes - after.bytes).toBe(read.filter((e) => !left.some((l) => l.key === e.key)).reduce((a, e) => a + e.bytes, 0));
    expect(after.bytes).toBe(left.reduce((a, e) => a + e.bytes, 0));
    expect(s.outbox.confirm("cluster", [])).toBe(0);
    expect(s.outbox.confirm("instance", left)).toBe(0); // other channel: nothing
    expect(s.outbox.confirm("cluster", left)).toBe(6);
    expect(s.outbox.stats("cluster")).toMatchObject({ depth: 0, bytes: 0 });
  });

  test("snapshotRaw: the same pages as snapshot, stored bytes instead of messages", () => {
    const s = mem();
    for (let i = 0; i < 7; i++) s.updateResource(res("t.A", `r${i}`));
    s.addRelationships(rel(ref("t.A", "r1"), ref("t.A", "r2")), rel(ref("t.A", "r3"), ref("t.A", "r4")));
    const dec = [...s.outbox.snapshot("cluster", 3)];
    const raw = [...s.outbox.snapshotRaw("cluster", 3)];
    expect(raw.map((p) => p.length)).toEqual(dec.map((p) => p.length));
    const d = dec.flat();
    const r = raw.flat();
    expect(r.map((e) => [e.seq, e.key, e.op, e.bytes])).toEqual(d.map((e) => [e.seq, e.key, e.op, e.bytes]));
    for (const [i, e] of r.entries()) {
      const o = d[i]!.object;
      expect([e.kind, e.type, e.typeUrl]).toEqual([o.type!.kind, o.type!.type, o.object!.typeUrl]);
      expect(Buffer.from(e.value!).equals(Buffer.from(o.object!.value))).toBe(true);
      expect(e.bytes).toBe(toBinary(ObjectSchema, o).length);
    }
  });
});
