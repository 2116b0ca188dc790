// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Property tests of the store: random add/update/delete/relationship/confirm sequences against an
// in-memory model of resources, relationships, the outbox and the event stream (memory and file).

import { expect, test } from "bun:test";
import { fromBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { silentLogger } from "../../src/log/logger.ts";
import { ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import {
  encodeResourceKey,
  InvalidInputError,
  type OutboxOp,
  openStore,
  RelationshipsNotFoundError,
  ResourceExistsError,
  type StoreEvent,
} from "../../src/store/index.ts";
import { CORE, contains, kubeRef, POD, resource, tempDir } from "./fixtures.ts";

// Random add/update/delete/relationship/confirm sequences against an in-memory model of the
// resources, the relationships, the outbox (coalesced, ordered) and the event stream.

const TYPES = [POD, CORE];
const NAMES = ["a", "b", "c", "d"];
const RELTYPES = ["kubernetes.v1.Contains", "antimetal.hardware.v1.Contains"];
const chanOf = (type: string) => (type.startsWith("antimetal.") ? "instance" : "cluster");

type Op =
  | { k: "add" | "update"; t: number; n: number; region: number }
  | { k: "delete"; t: number; n: number }
  | { k: "addRel" | "delRel"; st: number; sn: number; ot: number; on: number; rt: number }
  | { k: "confirm"; ch: "cluster" | "instance"; count: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constantFrom("add" as const, "update" as const), t: fc.nat(1), n: fc.nat(3), region: fc.nat(2) }),
  fc.record({ k: fc.constant("delete" as const), t: fc.nat(1), n: fc.nat(3) }),
  fc.record({
    k: fc.constantFrom("addRel" as const, "delRel" as const),
    st: fc.nat(1),
    sn: fc.nat(3),
    ot: fc.nat(1),
    on: fc.nat(3),
    rt: fc.nat(1),
  }),
  fc.record({ k: fc.constant("confirm" as const), ch: fc.constantFrom("cluster" as const, "instance" as const), count: fc.nat(4) }),
);

interface ModelEntry {
  op: OutboxOp;
  order: number;
}

function runSequence(ops: Op[], dataDirectory: string) {
  const store = openStore({ dataDirectory, logger: silentLogger });
  const events: StoreEvent[] = [];
  store.subscribe([], (e) => events.push(e));
  const resources = new Map<string, { type: string; region: string }>();
  const rels = new Map<string, { s: string; o: string; type: string }>(); // by "s|o|type"
  const outbox = { cluster: new Map<string, ModelEntry>(), instance: new Map<string, ModelEntry>() };
  const expectedEvents: string[] = [];
  let order = 0;
  const touch = (ch: string, key: string, op: OutboxOp) => {
    const m = outbox[ch as "cluster" | "instance"];
    const prev = m.get(key);
    m.delete(key);
    m.set(key, { op: prev?.op === "CREATE" && op === "UPDATE" ? "CREATE" : op, order: order++ });
  };
  const relOutboxKey = new Map<string, string>(); // model rel id -> outbox key, learned from the store

  try {
    for (const op of ops) {
      if (op.k === "add" || op.k === "update") {
        const type = TYPES[op.t]!;
        const name = NAMES[op.n]!;
        const key = encodeResourceKey(kubeRef(type, name));
        const region = String(op.region);
        const prev = resources.get(key);
        if (op.k === "add" && prev) {
          expect(() => store.addResource(resource(type, name, region))).toThrow(ResourceExistsError);
          continue;
        }
        (op.k === "add" ? store.addResource : store.updateResource).call(store, resource(type, name, region));
        if (prev && prev.region === region) continue; // unchanged: nothing written or sent
        resources.set(key, { type, region });
        touch(chanOf(type), key, prev ? "UPDATE" : "CREATE");
        expectedEvents.push(prev ? "UPDATE:R" : "ADD:R");
      } else if (op.k === "delete") {
        const type = TYPES[op.t]!;
        const key = encodeResourceKey(kubeRef(type, NAMES[op.n]!));
        store.deleteResource(kubeRef(type, NAMES[op.n]!));
        for (const [id, r] of [...rels]) {
          if (r.s !== key && r.o !== key) continue;
          rels.delete(id);
          touch(chanOf(r.type), relOutboxKey.get(id)!, "DELETE");
          expectedEvents.push("DELETE:L");
        }
        if (resources.delete(key)) {
          touch(chanOf(type), key, "DELETE");
          expectedEvents.push("DELETE:R");
        }
      } else if (op.k === "addRel" || op.k === "delRel") {
        const s = kubeRef(TYPES[op.st]!, NAMES[op.sn]!);
        const o = kubeRef(TYPES[op.ot]!, NAMES[op.on]!);
        const type = RELTYPES[op.rt]!;
        const rel = contains(s, o, type);
        const sk = encodeResourceKey(s);
        const ok = encodeResourceKey(o);
        const id = `${sk}|${ok}|${type}`;
        if (sk === ok) {
          expect(() => store.addRelationships(rel)).toThrow(InvalidInputError);
          continue;
        }
        if (op.k === "addRel") {
          const before = store.outbox.stats(chanOf(type)).depth;
          store.addRelationships(rel);
          if (rels.has(id)) continue;
          rels.set(id, { s: sk, o: ok, type });
          // learn the outbox key the store used for this relationship (the newest entry)
          const entries = store.outbox.read(chanOf(type), 0, 10_000);
          const newest = entries.at(-1)!;
          expect(newest.op).toBe("CREATE");
          relOutboxKey.set(id, newest.key);
          expect(store.outbox.stats(chanOf(type)).depth).toBeGreaterThanOrEqual(before);
          touch(chanOf(type), newest.key, "CREATE");
          expectedEvents.push("ADD:L");
        } else {
          store.deleteRelationships(rel);
          if (!rels.delete(id)) continue;
          touch(chanOf(type), relOutboxKey.get(id)!, "DELETE");
          expectedEvents.push("DELETE:L");
        }
      } else if (op.k === "confirm") {
        const page = store.outbox.read(op.ch, 0, op.count);
        expect(store.outbox.confirm(op.ch, page)).toBe(page.length);
        for (const e of page) outbox[op.ch].delete(e.key);
      }
    }

    // state agrees with the model
    const listed = store.listResources();
    expect(listed.length).toBe(resources.size);
    for (const r of listed) {
      const key = encodeResourceKey(kubeRef(r.type!.type, r.metadata!.name));
      expect(resources.get(key)?.region).toBe(r.metadata!.region);
    }
    for (const t of TYPES) {
      for (const n of NAMES) {
        const ref = kubeRef(t, n);
        const key = encodeResourceKey(ref);
        const want = [...rels.values()].filter((r) => r.s === key).length;
        if (want === 0) expect(() => store.getRelationships(ref)).toThrow(RelationshipsNotFoundError);
        else expect(store.getRelationships(ref).length).toBe(want);
        const wantObj = [...rels.values()].filter((r) => r.o === key).length;
        if (wantObj === 0) expect(() => store.getRelationships(undefined, ref)).toThrow(RelationshipsNotFoundError);
        else expect(store.getRelationships(undefined, ref).length).toBe(wantObj);
      }
    }
    // outbox agrees with the model: same keys, same order, same ops, counters right
    for (const ch of ["cluster", "instance"] as const) {
      const got = store.outbox.read(ch, 0, 10_000).map((e) => `${e.op} ${e.key}`);
      const want = [...outbox[ch].entries()].sort((a, b) => a[1].order - b[1].order).map(([k, e]) => `${e.op} ${k}`);
      expect(got).toEqual(want);
      expect(store.outbox.stats(ch).depth).toBe(want.length);
      // CREATE/UPDATE entries carry the newest state
      for (const e of store.outbox.read(ch, 0, 10_000)) {
        if (e.op === "DELETE" || e.key.startsWith("rel:")) continue;
        expect(fromBinary(ResourceSchema, e.object.object!.value).metadata!.region).toBe(resources.get(e.key)!.region);
      }
    }
    // events: one per change, in order (the subscription started on an empty store: no snapshot)
    expect(events.map((e) => `${e.type}:${e.objs[0]!.type!.kind === "resource.v1.Resource" ? "R" : "L"}`)).toEqual(expectedEvents);
  } finally {
    store.close();
  }
}

test("property: random sequences agree with the model (in memory)", () => {
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 60 }), (ops) => runSequence(ops, "")),
    { numRuns: Number(process.env.STORE_PROPERTY_RUNS ?? 300) },
  );
});

test("property: random sequences agree with the model (file, WAL)", () => {
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 40 }), (ops) => {
      const t = tempDir("store-prop-");
      try {
        runSequence(ops, t.dir);
      } finally {
        t.cleanup();
      }
    }),
    { numRuns: 40 },
  );
});
