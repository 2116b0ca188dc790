// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Turns reflector events into store writes. For each object it remembers the relationship pairs
 * the object implied last time and diffs: pairs no longer implied are deleted (a pod that moved
 * to another node, an owner that went away), new ones are added. Pairs are reference-counted
 * across source objects (two EndpointSlices of one Service can both route to the same Pod), so a
 * pair is removed only when no object implies it any more. The store cascades relationships of a
 * deleted resource; when that resource comes back (a Node re-registering, a PVC recreated), pairs
 * other objects still imply are re-added. Pods carry their node's region/zone and are rewritten
 * when the node's topology labels change or the node appears after them.
 */

import { create } from "@bufbuild/protobuf";
import { encodeResourceKey } from "../../graph/keys.ts";
import type { Logger } from "../../log/logger.ts";
import { TypeDescriptorSchema } from "../../proto/gen/resource/v1/object_pb.ts";
import { type Relationship, ResourceNotFoundError, type Store } from "../../store/types.ts";
import type { KindSpec } from "../kinds.ts";
import { kubeMetrics } from "../metrics.ts";
import type { KubeObject, ReflectorEvent } from "../reflector.ts";
import {
  clusterKey,
  derive,
  fixedPairs,
  type Location,
  labelLocation,
  objectKeyOf,
  objectRefKey,
  PAIRS,
  type Pair,
  type PairType,
  RESOURCE_KIND,
  refFromKey,
  relationshipsOf,
  toResource,
} from "./convert.ts";
import { KeyIds, PairCounts, packPair, pairA, pairB, pairType } from "./key-ids.ts";

const PAIR_TYPES = Object.keys(PAIRS) as PairType[];
const PAIR_INDEX = new Map(PAIR_TYPES.map((t, i) => [t, i]));
const CONTAINS = PAIR_INDEX.get("C")!;

const PRED_TO_PAIR = new Map<string, { t: PairType; forward: boolean }>();
for (const [t, [fwd, inv]] of Object.entries(PAIRS) as Array<[PairType, readonly [string, string]]>) {
  PRED_TO_PAIR.set(fwd, { t, forward: true });
  PRED_TO_PAIR.set(inv, { t, forward: false });
}

export class GraphReconciler {
  /**
   * Resource keys as integer ids. An id is retained by its object's `known` entry, by each end of a
   * pair with a reference count, and by each end of a pending write.
   */
  private readonly ids = new KeyIds();
  /** resource key id -> the pair ids that object implied. */
  private readonly known = new Map<number, number[]>();
  /** pair id -> how many objects imply it. */
  private readonly refcount = new PairCounts();
  /**
   * resource key id -> pairs implied by *other* objects that touch it (a node's: its pods' Contains
   * pairs, which is how the pods on a node are found when its region/zone changes).
   */
  private readonly foreign = new Map<number, Set<number>>();
  private readonly nodeLoc = new Map<string, Location>();
  private readonly hubs: Set<string>;

  constructor(
    private readonly store: Store,
    readonly cluster: string,
    private readonly log: Logger,
  ) {
    this.hubs = new Set([clusterKey(cluster)]);
  }

  objectCount(): number {
    return this.known.size;
  }

  pairCount(): number {
    return this.refcount.size;
  }

  /** Resource keys held (objects and the ends of their pairs; for tests: no growth under churn). */
  keyCount(): number {
    return this.ids.size;
  }

  /** Applies a batch of events in one store transaction. */
  apply(events: ReadonlyArray<ReflectorEvent>): void {
    try {
      this.store.batch(() => {
        for (const ev of events) {
          try {
            if (ev.type === "upsert") this.upsert(ev.obj);
            else this.remove(ev.spec, ev.key);
          } catch (err) {
            const kind = ev.type === "upsert" ? ev.obj.spec.kind : ev.spec.kind;
            kubeMetrics.graphErrors.inc({ kind });
            this.log.warn({ kind, err: String(err) }, "graph write failed");
          }
        }
        this.flush();
      });
    } finally {
      this.ids.releaseUnused();
    }
  }

  /** Relationship writes of a batch (pair id -> add or delete), last decision per pair wins; one store call each way. */
  private readonly pending = new Map<number, boolean>();

  private setPending(p: number, add: boolean): void {
    if (!this.pending.has(p)) this.retainEnds(p);
    this.pending.set(p, add);
  }

  private dropPending(p: number): void {
    if (this.pending.delete(p)) this.releaseEnds(p);
  }

  private flush(): void {
    if (this.pending.size === 0) return;
    const add: Relationship[] = [];
    const del: Relationship[] = [];
    const done = [...this.pending];
    this.pending.clear();
    try {
      for (const [p, isAdd] of done) {
        (isAdd ? add : del).push(...relationshipsOf(PAIR_TYPES[pairType(p)]!, this.ids.key(pairA(p)), this.ids.key(pairB(p))));
      }
    } finally {
      for (const [p] of done) this.releaseEnds(p);
    }
    if (del.length) this.store.deleteRelationships(...del);
    if (add.length) this.store.addRelationships(...add);
  }

  private retainEnds(p: number): void {
    this.ids.retain(pairA(p));
    this.ids.retain(pairB(p));
  }

  private releaseEnds(p: number): void {
    this.ids.release(pairA(p));
    this.ids.release(pairB(p));
  }

  private pairId([t, a, b]: Pair): number {
    return packPair(PAIR_INDEX.get(t)!, this.ids.intern(a), this.ids.intern(b));
  }

  private isHub(id: number): boolean {
    // the cluster and namespaces: never recreated while their members exist
    const key = this.ids.key(id);
    return this.hubs.has(key) || key.startsWith("k8s.io.api.core.v1.Namespace/");
  }

  private inc(p: number, source: number): void {
    const n = this.refcount.get(p);
    this.refcount.set(p, n + 1);
    if (n === 0) {
      this.retainEnds(p);
      this.setPending(p, true);
      for (const end of [pairA(p), pairB(p)]) {
        if (end === source || this.isHub(end)) continue;
        let s = this.foreign.get(end);
        if (!s) this.foreign.set(end, (s = new Set()));
        s.add(p);
      }
    }
  }

  private dec(p: number, source: number, sourceDeleted: boolean): void {
    const n = this.refcount.get(p);
    if (n > 1) {
      this.refcount.set(p, n - 1);
      return;
    }
    this.refcount.delete(p);
    const a = pairA(p);
    const b = pairB(p);
    // when the source itself was deleted, the store already cascaded pairs that touch it (and a
    // still-pending add of such a pair must not resurrect it)
    if (sourceDeleted && (a === source || b === source)) this.dropPending(p);
    else this.setPending(p, false);
    for (const end of [a, b]) {
      const s = this.foreign.get(end);
      if (s) {
        s.delete(p);
        if (s.size === 0) this.foreign.delete(end);
      }
    }
    if (n === 1) this.releaseEnds(p);
  }

  private upsert(obj: KubeObject): void {
    const d = derive(this.cluster, obj);
    const loc = obj.spec.kind === "Pod" ? ((d.nodeName ? this.nodeLoc.get(d.nodeName) : undefined) ?? { region: "", zone: "" }) : undefined;
    this.store.updateResource(toResource(this.cluster, obj, loc));
    const key = this.ids.intern(objectKeyOf(this.cluster, obj));
    const prev = this.known.get(key);
    const before = new Set(prev ?? []);
    const pairs = d.pairs.map((p) => this.pairId(p));
    const after = new Set(pairs);
    for (const p of before) if (!after.has(p)) this.dec(p, key, false);
    for (const p of after) if (!before.has(p)) this.inc(p, key);
    if (!prev) {
      this.ids.retain(key);
      for (const p of d.fixed) this.setPending(this.pairId(p), true);
      // (re)appearing resource: pairs other objects imply were cascaded away with its last incarnation
      const f = this.foreign.get(key);
      if (f) for (const p of f) this.setPending(p, true);
    }
    this.known.set(key, pairs);
    if (obj.spec.kind === "Node") {
      const loc = labelLocation(obj.meta.labels);
      const old = this.nodeLoc.get(obj.meta.name);
      this.nodeLoc.set(obj.meta.name, loc);
      if (!old ? loc.region || loc.zone : old.region !== loc.region || old.zone !== loc.zone) this.relocatePods(key, loc);
    }
  }

  /** Rewrites the region/zone of the pods on a node: the objects of its Contains pairs (only pods imply those). */
  private relocatePods(node: number, loc: Location): void {
    const pairs = this.foreign.get(node);
    if (!pairs) return;
    for (const p of pairs) {
      if (pairType(p) !== CONTAINS || pairA(p) !== node) continue;
      const podId = pairB(p);
      try {
        const r = this.store.getResource(refFromKey(this.ids.key(podId)));
        if (!r.metadata) continue;
        r.metadata.region = loc.region;
        r.metadata.zone = loc.zone;
        this.store.updateResource(r);
      } catch (err) {
        // not stored (yet): written with the location when it arrives
        if (!(err instanceof ResourceNotFoundError)) throw err;
      }
    }
  }

  private remove(spec: KindSpec, objKey: string): void {
    const slash = spec.namespaced ? objKey.indexOf("/") : -1;
    const ns = slash >= 0 ? objKey.slice(0, slash) : "";
    const name = slash >= 0 ? objKey.slice(slash + 1) : objKey;
    const key = objectRefKey(this.cluster, spec.protoType, ns, name);
    this.flush(); // pending pairs touching this resource are written first, then cascade with it
    this.store.deleteResource(refFromKey(key));
    const id = this.ids.lookup(key);
    const prev = id === undefined ? undefined : this.known.get(id);
    if (id !== undefined && prev) {
      for (const p of prev) this.dec(p, id, true);
      this.known.delete(id);
      this.ids.release(id);
    }
    if (spec.kind === "Node") {
      this.nodeLoc.delete(name);
    }
  }

  /**
   * After every kind has listed: removes what a persistent store kept from an earlier run that no
   * longer exists - resources of the watched kinds in this cluster that were not listed, and
   * kube relationships touching listed objects that no object implies now.
   */
  sweep(kinds: ReadonlyArray<KindSpec>): { resources: number; relationships: number } {
    let resources = 0;
    let relationships = 0;
    this.store.batch(() => {
      for (const spec of kinds) {
        for (const r of this.store.listResources([create(TypeDescriptorSchema, { kind: RESOURCE_KIND, type: spec.protoType })])) {
          const ns = r.metadata?.namespace?.namespace;
          if (ns?.case !== "kube" || ns.value.cluster !== this.cluster) continue;
          const key = objectRefKey(this.cluster, spec.protoType, ns.value.namespace, r.metadata!.name);
          const id = this.ids.lookup(key);
          if (id === undefined || !this.known.has(id)) {
            this.store.deleteResource(refFromKey(key));
            resources++;
          }
        }
      }
      const stale: Relationship[] = [];
      for (const id of this.known.keys()) {
        for (const r of this.store.findRelationships({ subject: refFromKey(this.ids.key(id)) })) {
          const m = PRED_TO_PAIR.get(r.type?.type ?? "");
          if (!m || !r.subject || !r.object) continue;
          const s = encodeResourceKey(r.subject);
          const o = encodeResourceKey(r.object);
          const [a, b] = m.forward ? [s, o] : [o, s];
          const ia = this.ids.lookup(a);
          const ib = this.ids.lookup(b);
          if (ia !== undefined && ib !== undefined && this.refcount.has(packPair(PAIR_INDEX.get(m.t)!, ia, ib))) continue;
          const self = m.forward ? o : s;
          const ns = r.subject.namespace?.namespace;
          const target = m.forward ? r.object.namespace?.namespace : ns;
          const objNs = target?.case === "kube" ? target.value.namespace : "";
          const selfId = this.ids.lookup(self);
          if (
            m.t === "C" &&
            selfId !== undefined &&
            this.known.has(selfId) &&
            fixedPairs(this.cluster, self, objNs).some(([, fa, fb]) => fa === a && fb === b)
          )
            continue;
          stale.push(r);
        }
      }
      if (stale.length) this.store.deleteRelationships(...stale);
      relationships = stale.length;
    });
    return { resources, relationships };
  }
}
