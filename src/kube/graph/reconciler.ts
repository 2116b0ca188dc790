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
  type PairKey,
  type PairType,
  pairKey,
  pairRelationships,
  RESOURCE_KIND,
  refFromKey,
  splitPair,
  toResource,
} from "./convert.ts";

interface Known {
  pairs: PairKey[];
  nodeName?: string;
}

const PRED_TO_PAIR = new Map<string, { t: PairType; forward: boolean }>();
for (const [t, [fwd, inv]] of Object.entries(PAIRS) as Array<[PairType, readonly [string, string]]>) {
  PRED_TO_PAIR.set(fwd, { t, forward: true });
  PRED_TO_PAIR.set(inv, { t, forward: false });
}

export class GraphReconciler {
  /** resource key -> what that object implied. */
  private readonly known = new Map<string, Known>();
  private readonly refcount = new Map<PairKey, number>();
  /** resource key -> pairs implied by *other* objects that touch it. */
  private readonly foreign = new Map<string, Set<PairKey>>();
  private readonly nodeLoc = new Map<string, Location>();
  /** node name -> resource keys of pods on it. */
  private readonly nodePods = new Map<string, Set<string>>();
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

  /** Applies a batch of events in one store transaction. */
  apply(events: ReadonlyArray<ReflectorEvent>): void {
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
  }

  /** Relationship writes of a batch, last decision per pair wins; one store call each way. */
  private readonly pending = new Map<PairKey, boolean>();

  private flush(): void {
    if (this.pending.size === 0) return;
    const add: Relationship[] = [];
    const del: Relationship[] = [];
    for (const [p, isAdd] of this.pending) (isAdd ? add : del).push(...pairRelationships(p));
    this.pending.clear();
    if (del.length) this.store.deleteRelationships(...del);
    if (add.length) this.store.addRelationships(...add);
  }

  private isHub(key: string): boolean {
    // the cluster and namespaces: never recreated while their members exist
    return this.hubs.has(key) || key.startsWith("k8s.io.api.core.v1.Namespace/");
  }

  private inc(p: PairKey, source: string): void {
    const n = this.refcount.get(p) ?? 0;
    this.refcount.set(p, n + 1);
    if (n === 0) {
      this.pending.set(p, true);
      const [, a, b] = splitPair(p);
      for (const end of [a, b]) {
        if (end === source || this.isHub(end)) continue;
        let s = this.foreign.get(end);
        if (!s) this.foreign.set(end, (s = new Set()));
        s.add(p);
      }
    }
  }

  /** Returns true when the pair is gone (refcount reached 0). */
  private dec(p: PairKey, source: string, sourceDeleted: boolean): void {
    const n = this.refcount.get(p) ?? 0;
    if (n > 1) {
      this.refcount.set(p, n - 1);
      return;
    }
    this.refcount.delete(p);
    const [, a, b] = splitPair(p);
    // when the source itself was deleted, the store already cascaded pairs that touch it (and a
    // still-pending add of such a pair must not resurrect it)
    if (sourceDeleted && (a === source || b === source)) this.pending.delete(p);
    else this.pending.set(p, false);
    for (const end of [a, b]) {
      const s = this.foreign.get(end);
      if (s) {
        s.delete(p);
        if (s.size === 0) this.foreign.delete(end);
      }
    }
  }

  private upsert(obj: KubeObject): void {
    const key = objectKeyOf(this.cluster, obj);
    const d = derive(this.cluster, obj);
    const loc = obj.spec.kind === "Pod" ? ((d.nodeName ? this.nodeLoc.get(d.nodeName) : undefined) ?? { region: "", zone: "" }) : undefined;
    this.store.updateResource(toResource(this.cluster, obj, loc));
    const prev = this.known.get(key);
    const before = new Set(prev?.pairs ?? []);
    const after = new Set(d.pairs);
    for (const p of before) if (!after.has(p)) this.dec(p, key, false);
    for (const p of after) if (!before.has(p)) this.inc(p, key);
    if (!prev) {
      for (const p of d.fixed) this.pending.set(p, true);
      // (re)appearing resource: pairs other objects imply were cascaded away with its last incarnation
      const f = this.foreign.get(key);
      if (f) for (const p of f) this.pending.set(p, true);
    }
    this.known.set(key, { pairs: d.pairs, nodeName: d.nodeName });
    if (obj.spec.kind === "Pod" && prev?.nodeName !== d.nodeName) {
      if (prev?.nodeName) this.nodePods.get(prev.nodeName)?.delete(key);
      if (d.nodeName) {
        let s = this.nodePods.get(d.nodeName);
        if (!s) this.nodePods.set(d.nodeName, (s = new Set()));
        s.add(key);
      }
    }
    if (obj.spec.kind === "Node") {
      const loc = labelLocation(obj.meta.labels);
      const old = this.nodeLoc.get(obj.meta.name);
      this.nodeLoc.set(obj.meta.name, loc);
      if (!old ? loc.region || loc.zone : old.region !== loc.region || old.zone !== loc.zone) this.relocatePods(obj.meta.name, loc);
    }
  }

  private relocatePods(node: string, loc: Location): void {
    const pods = this.nodePods.get(node);
    if (!pods) return;
    for (const podKey of pods) {
      try {
        const r = this.store.getResource(refFromKey(podKey));
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
    const prev = this.known.get(key);
    if (prev) {
      for (const p of prev.pairs) this.dec(p, key, true);
      this.known.delete(key);
      if (prev.nodeName) this.nodePods.get(prev.nodeName)?.delete(key);
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
          if (!this.known.has(key)) {
            this.store.deleteResource(refFromKey(key));
            resources++;
          }
        }
      }
      const stale: Relationship[] = [];
      for (const key of this.known.keys()) {
        for (const r of this.store.findRelationships({ subject: refFromKey(key) })) {
          const m = PRED_TO_PAIR.get(r.type?.type ?? "");
          if (!m || !r.subject || !r.object) continue;
          const s = encodeResourceKey(r.subject);
          const o = encodeResourceKey(r.object);
          const p = m.forward ? pairKey(m.t, s, o) : pairKey(m.t, o, s);
          if (this.refcount.has(p)) continue;
          const self = m.forward ? o : s;
          const ns = r.subject.namespace?.namespace;
          const target = m.forward ? r.object.namespace?.namespace : ns;
          const objNs = target?.case === "kube" ? target.value.namespace : "";
          if (m.t === "C" && this.known.has(self) && fixedPairs(this.cluster, self, objNs).includes(p)) continue;
          stale.push(r);
        }
      }
      if (stale.length) this.store.deleteRelationships(...stale);
      relationships = stale.length;
    });
    return { resources, relationships };
  }
}
