// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the graph reconciler against a real (in-memory) SQLite store: the relationships a
// pod's node and owner imply follow a move and a delete, and the interned key table holds nothing
// once every object is gone (churn does not grow it).

import { describe, expect, test } from "bun:test";
import { encodeResourceKey } from "../../graph/keys.ts";
import { silentLogger } from "../../log/logger.ts";
import { openStore } from "../../store/index.ts";
import { putVarint, varintSize } from "../../util/varint.ts";
import { KIND_BY_NAME } from "../kinds.ts";
import { readObjectMeta } from "../pb.ts";
import type { KubeObject, ReflectorEvent } from "../reflector.ts";
import { clusterKey, objectRefKey, refFromKey } from "./convert.ts";
import { GraphReconciler } from "./reconciler.ts";

const enc = new TextEncoder();
const CLUSTER = "c1";

function len(num: number, payload: number[]): number[] {
  const head = new Uint8Array(varintSize(num * 8 + 2) + varintSize(payload.length));
  const at = putVarint(head, 0, num * 8 + 2);
  putVarint(head, at, payload.length);
  return [...head, ...payload];
}

const s = (num: number, v: string) => len(num, [...enc.encode(v)]);

function obj(kind: string, ns: string, name: string, rv: string, extra: { node?: string; owner?: string; zone?: string } = {}): KubeObject {
  const spec = KIND_BY_NAME.get(kind)!;
  const labels = extra.zone ? len(11, [...s(1, "topology.kubernetes.io/zone"), ...s(2, extra.zone)]) : [];
  const owner = extra.owner
    ? len(13, [...s(1, "ReplicaSet"), ...s(3, extra.owner), ...s(4, `uid-${extra.owner}`), ...s(5, "apps/v1")])
    : [];
  const meta = [...s(1, name), ...(ns ? s(3, ns) : []), ...s(5, `uid-${name}`), ...s(6, rv), ...labels, ...owner];
  const raw = new Uint8Array([...len(1, meta), ...(extra.node ? len(2, s(10, extra.node)) : [])]);
  return { spec, key: ns ? `${ns}/${name}` : name, meta: readObjectMeta(raw), raw };
}

const up = (o: KubeObject): ReflectorEvent => ({ type: "upsert", obj: o });
const del = (kind: string, key: string): ReflectorEvent => ({ type: "delete", spec: KIND_BY_NAME.get(kind)!, key });

describe("GraphReconciler", () => {
  test("node and owner pairs follow a move and a delete; the key table empties when every object is gone", () => {
    const store = openStore({ dataDirectory: "", logger: silentLogger });
    try {
      const rec = new GraphReconciler(store, CLUSTER, silentLogger);
      const key = (kind: string, ns: string, name: string) => objectRefKey(CLUSTER, KIND_BY_NAME.get(kind)!.protoType, ns, name);
      /** "predicate object" of every relationship whose subject is the object. */
      const rels = (k: string) =>
        store
          .findRelationships({ subject: refFromKey(k) })
          .map((r) => `${r.type?.type} ${encodeResourceKey(r.object!)}`)
          .sort();
      rec.apply([
        up(obj("Node", "", "n1", "1", { zone: "z1" })),
        up(obj("Node", "", "n2", "2", { zone: "z2" })),
        up(obj("Namespace", "", "ns", "3")),
        up(obj("ReplicaSet", "ns", "rs", "4")),
        ...Array.from({ length: 5 }, (_, i) => up(obj("Pod", "ns", `p${i}`, `${10 + i}`, { node: "n1", owner: "rs" }))),
      ]);
      const p0 = key("Pod", "ns", "p0");
      expect(rels(p0)).toEqual(
        [
          `kubernetes.v1.ContainedBy ${key("Node", "", "n1")}`,
          `kubernetes.v1.ContainedBy ${key("Namespace", "", "ns")}`,
          `kubernetes.v1.ContainedBy ${clusterKey(CLUSTER)}`,
          `kubernetes.v1.OwnedBy ${key("ReplicaSet", "ns", "rs")}`,
        ].sort(),
      );
      expect(rec.pairCount()).toBe(10); // 5 pods x (node Contains, rs Owns)
      expect(store.getResource(refFromKey(p0)).metadata?.zone).toBe("z1");

      rec.apply([up(obj("Pod", "ns", "p0", "20", { node: "n2", owner: "rs" }))]);
      expect(rels(p0)).toContain(`kubernetes.v1.ContainedBy ${key("Node", "", "n2")}`);
      expect(rels(p0)).not.toContain(`kubernetes.v1.ContainedBy ${key("Node", "", "n1")}`);
      expect(rels(key("Node", "", "n1"))).not.toContain(`kubernetes.v1.Contains ${p0}`);
      expect(store.getResource(refFromKey(p0)).metadata?.zone).toBe("z2");
      expect(rec.pairCount()).toBe(10);

      // a pod on a node that appears after it: written without a zone, rewritten with the node's
      rec.apply([up(obj("Pod", "ns", "late", "21", { node: "n3", owner: "rs" }))]);
      expect(store.getResource(refFromKey(key("Pod", "ns", "late"))).metadata?.zone).toBe("");
      rec.apply([up(obj("Node", "", "n3", "22", { zone: "z3" }))]);
      expect(store.getResource(refFromKey(key("Pod", "ns", "late"))).metadata?.zone).toBe("z3");
      rec.apply([up(obj("Node", "", "n3", "23", { zone: "z4" }))]);
      expect(store.getResource(refFromKey(key("Pod", "ns", "late"))).metadata?.zone).toBe("z4");
      expect(store.getResource(refFromKey(p0)).metadata?.zone).toBe("z2");
      rec.apply([del("Pod", "ns/late"), del("Node", "n3")]);

      // the owner goes and comes back: the pods' Owns pairs are written again with it
      rec.apply([del("ReplicaSet", "ns/rs")]);
      expect(rels(p0).some((x) => x.startsWith("kubernetes.v1.OwnedBy"))).toBe(false);
      rec.apply([up(obj("ReplicaSet", "ns", "rs", "30"))]);
      expect(rels(p0)).toContain(`kubernetes.v1.OwnedBy ${key("ReplicaSet", "ns", "rs")}`);

      // churn: pods created and deleted, the table does not grow
      const baseline = rec.keyCount();
      for (let i = 0; i < 50; i++) {
        rec.apply([up(obj("Pod", "ns", `churn-${i}`, `${100 + i}`, { node: `n${1 + (i % 2)}`, owner: "rs" }))]);
        rec.apply([del("Pod", `ns/churn-${i}`)]);
      }
      expect(rec.keyCount()).toBe(baseline);

      rec.apply([
        ...Array.from({ length: 5 }, (_, i) => del("Pod", `ns/p${i}`)),
        del("ReplicaSet", "ns/rs"),
        del("Namespace", "ns"),
        del("Node", "n1"),
        del("Node", "n2"),
      ]);
      expect(rec.objectCount()).toBe(0);
      expect(rec.pairCount()).toBe(0);
      expect(rec.keyCount()).toBe(0);
      expect(store.findRelationships({})).toEqual([]);
    } finally {
      store.close();
    }
  });
});
