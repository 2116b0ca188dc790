// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Kubernetes object -> resource.v1.Resource, and the relationships the object implies, as in the
 * original's generate.go (section 3.3 of the fact sheet) plus the kinds and edges added here.
 * Relationships come in pairs (forward + inverse predicate), each named by its type and its two
 * ends' keys; the reconciler packs them into numbers (key-ids.ts) to diff and refcount them.
 */

import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { emptyPredicate, kubeNamespace, newRelationship, newResource, packMessage } from "../../graph/build.ts";
import { decodeResourceKey, encodeKey, freezeShared } from "../../graph/keys.ts";
import { ClusterProvider, ClusterSchema } from "../../proto/gen/kubernetes/v1/cluster_pb.ts";
import { Provider } from "../../proto/gen/resource/v1/provider_pb.ts";
import type { Relationship } from "../../proto/gen/resource/v1/relationship_pb.ts";
import { type Resource, type ResourceRef, TagSchema } from "../../proto/gen/resource/v1/resource_pb.ts";
import { KIND_BY_NAME, type KindSpec, protoTypeFor } from "../kinds.ts";
import { findAllLen, getString, path, type Span } from "../pb.ts";
import type { KubeObject } from "../reflector.ts";

export { kubeNamespace } from "../../graph/build.ts";
export { RELATIONSHIP_KIND, RESOURCE_KIND } from "../../graph/names.ts";
export const CLUSTER_TYPE = "kubernetes.v1.Cluster";
export const LABEL_REGION = "topology.kubernetes.io/region";
export const LABEL_ZONE = "topology.kubernetes.io/zone";

/** Predicate pairs: forward predicate, inverse predicate. */
export const PAIRS = {
  C: ["kubernetes.v1.Contains", "kubernetes.v1.ContainedBy"],
  O: ["kubernetes.v1.Owns", "kubernetes.v1.OwnedBy"],
  A: ["kubernetes.v1.AttachedTo", "kubernetes.v1.VolumeMount"],
  B: ["kubernetes.v1.ClaimsFrom", "kubernetes.v1.BoundBy"],
  U: ["kubernetes.v1.Uses", "kubernetes.v1.UsedBy"],
  R: ["network.v1.RoutesTo", "network.v1.RoutedFrom"],
} as const;
export type PairType = keyof typeof PAIRS;

/** A relationship pair: its type, the subject key and the object key (of the forward predicate). */
export type Pair = readonly [PairType, string, string];

/** Pair identity as one string: "<type>\n<subject key>\n<object key>" (for deduplication). */
export function pairKey(t: PairType, a: string, b: string): string {
  return `${t}\n${a}\n${b}`;
}

const refCache = new Map<string, ResourceRef>();

/** ResourceRef from an encoded key (cached: the same few hubs - cluster, nodes, namespaces - recur; frozen: shared). */
export function refFromKey(key: string): ResourceRef {
  let r = refCache.get(key);
  if (!r) {
    r = freezeShared(decodeResourceKey(key));
    if (refCache.size > 1024) refCache.clear();
    refCache.set(key, r);
  }
  return r;
}

function rel(pred: string, subject: ResourceRef, object: ResourceRef): Relationship {
  return newRelationship({ subject, object, predicate: emptyPredicate(pred) });
}

/** The two Relationship messages of the pair (t, a, b): a `fwd` b and b `inv` a. */
export function relationshipsOf(t: PairType, a: string, b: string): [Relationship, Relationship] {
  const ra = refFromKey(a);
  const rb = refFromKey(b);
  const [fwd, inv] = PAIRS[t];
  return [rel(fwd, ra, rb), rel(inv, rb, ra)];
}

export function clusterKey(cluster: string): string {
  return encodeKey(CLUSTER_TYPE, cluster, undefined);
}

const keyCache = new Map<string, string>();

/** Encoded resource key of a kube object. Hubs (nodes, namespaces, owners) recur for every pod: cached. */
export function objectRefKey(cluster: string, protoType: string, namespace: string, name: string): string {
  const ck = `${protoType}\n${namespace}\n${name}\n${cluster}`;
  let k = keyCache.get(ck);
  if (k === undefined) {
    k = encodeKey(protoType, name, kubeNamespace(cluster, namespace));
    if (keyCache.size >= 4096) keyCache.clear();
    keyCache.set(ck, k);
  }
  return k;
}

/** Encoded resource key of a kube object (its spec, namespace and name in `cluster`). */
export function objectKeyOf(cluster: string, obj: { spec: KindSpec; meta: { namespace: string; name: string } }): string {
  return objectRefKey(cluster, obj.spec.protoType, obj.meta.namespace, obj.meta.name);
}

export interface Location {
  region: string;
  zone: string;
}

export function labelLocation(labels: Array<[string, string]>): Location {
  let region = "";
  let zone = "";
  for (const [k, v] of labels) {
    if (k === LABEL_REGION) region = v;
    else if (k === LABEL_ZONE) zone = v;
  }
  return { region, zone };
}

/** Resource for one object. `loc` overrides region/zone (pods take their node's). */
export function toResource(cluster: string, obj: KubeObject, loc?: Location): Resource {
  const { spec, meta } = obj;
  const where = loc ?? (spec.kind === "Node" || spec.kind === "PersistentVolume" ? labelLocation(meta.labels) : { region: "", zone: "" });
  return newResource({
    type: spec.protoType,
    metadata: {
      provider: Provider.KUBERNETES,
      providerId: meta.uid,
      name: meta.name,
      namespace: kubeNamespace(cluster, meta.namespace),
      tags: meta.labels.map(([key, value]) => create(TagSchema, { key, value })),
      region: where.region,
      zone: where.zone,
    },
    // as the original: the Kubernetes message name without the type.googleapis.com/ prefix
    spec: create(AnySchema, { typeUrl: spec.protoType, value: obj.raw }),
  });
}

export function clusterProviderEnum(name: string): ClusterProvider {
  switch (name) {
    case "eks":
      return ClusterProvider.EKS;
    case "gke":
      return ClusterProvider.GKE;
    case "aks":
      return ClusterProvider.AKS;
    case "kind":
      return ClusterProvider.KIND;
    default:
      return ClusterProvider.OTHER;
  }
}

/** The Cluster resource (section 3.2 step 2): no namespace, provider KUBERNETES, spec kubernetes.v1.Cluster. */
export function clusterResource(cluster: string, region: string, provider: string, major: string, minor: string): Resource {
  return newResource({
    type: CLUSTER_TYPE,
    metadata: { provider: Provider.KUBERNETES, providerId: cluster, name: cluster, region },
    spec: packMessage(ClusterSchema, { majorVersion: major, minorVersion: minor, provider: clusterProviderEnum(provider) }),
  });
}

const CLUSTER_SCOPED_OWNER = new Set(["Node", "PersistentVolume", "Namespace", "StorageClass", "ClusterRole"]);

const NAMESPACE_TYPE = "k8s.io.api.core.v1.Namespace";
const NODE_TYPE = "k8s.io.api.core.v1.Node";
const PVC_TYPE = "k8s.io.api.core.v1.PersistentVolumeClaim";
const PV_TYPE = "k8s.io.api.core.v1.PersistentVolume";
const SC_TYPE = "k8s.io.api.storage.v1.StorageClass";
const POD_TYPE = "k8s.io.api.core.v1.Pod";
const SERVICE_TYPE = "k8s.io.api.core.v1.Service";

/** The containment pairs an object implies by existing (see Derived.fixed). */
export function fixedPairs(cluster: string, self: string, namespace: string): Pair[] {
  const out: Pair[] = [["C", clusterKey(cluster), self]];
  if (namespace) out.push(["C", objectRefKey(cluster, NAMESPACE_TYPE, "", namespace), self]);
  return out;
}

/** Pairs in the order added, each once. */
class PairSet {
  private readonly seen = new Set<string>();
  readonly list: Pair[] = [];

  add(t: PairType, a: string, b: string): void {
    const k = pairKey(t, a, b);
    if (this.seen.has(k)) return;
    this.seen.add(k);
    this.list.push([t, a, b]);
  }
}

export interface Derived {
  /**
   * Cluster Contains it, Namespace Contains it: fixed for the object's lifetime (name, namespace
   * and cluster never change) and implied by nothing else, so the reconciler writes them once and
   * never tracks them (the store cascades them on delete).
   */
  fixed: Pair[];
  /** Every other pair this object implies (deduplicated); these are diffed on update. */
  pairs: Pair[];
  /** Pod only: the node it runs on. */
  nodeName?: string;
}

/**
 * Relationship pairs implied by one object. Every object: Cluster Contains it; namespaced objects:
 * Namespace Contains it; each ownerReference: owner Owns it (unknown owner kinds kept by a
 * synthetic type name). Per kind: Pod (node, PVC volumes), PVC (bound PV), PV (StorageClass),
 * EndpointSlice (Service RoutesTo Pod), Ingress (Ingress RoutesTo Service).
 */
export function derive(cluster: string, obj: KubeObject): Derived {
  const { spec, meta, raw } = obj;
  const self = objectKeyOf(cluster, obj);
  const out = new PairSet();
  const fixed = fixedPairs(cluster, self, spec.namespaced ? meta.namespace : "");
  for (const o of meta.ownerReferences) {
    if (!o.kind || !o.name) continue;
    const known = KIND_BY_NAME.get(o.kind);
    const type =
      known && o.apiVersion === (known.group ? `${known.group}/${known.version}` : known.version)
        ? known.protoType
        : protoTypeFor(o.apiVersion, o.kind);
    const ns = (known && !known.namespaced) || CLUSTER_SCOPED_OWNER.has(o.kind) ? "" : meta.namespace;
    out.add("O", objectRefKey(cluster, type, ns, o.name), self);
  }
  const all: Span = { start: 0, end: raw.length };
  let nodeName: string | undefined;
  switch (spec.kind) {
    case "Pod": {
      const podSpec = path(raw, all, 2);
      nodeName = getString(raw, podSpec, 10) || undefined;
      if (nodeName) out.add("C", objectRefKey(cluster, NODE_TYPE, "", nodeName), self);
      if (podSpec) {
        for (const vol of findAllLen(raw, podSpec.start, podSpec.end, 1)) {
          const src = path(raw, vol, 2);
          const claim = getString(raw, path(raw, src, 10), 1);
          if (claim) out.add("A", objectRefKey(cluster, PVC_TYPE, meta.namespace, claim), self);
          else if (path(raw, src, 29)) {
            // generic ephemeral volume: the PVC is named <pod>-<volume>
            out.add("A", objectRefKey(cluster, PVC_TYPE, meta.namespace, `${meta.name}-${getString(raw, vol, 1)}`), self);
          }
        }
      }
      break;
    }
    case "PersistentVolumeClaim": {
      const volumeName = getString(raw, path(raw, all, 2), 3);
      if (volumeName) out.add("B", self, objectRefKey(cluster, PV_TYPE, "", volumeName));
      break;
    }
    case "PersistentVolume": {
      const sc = getString(raw, path(raw, all, 2), 6);
      if (sc) out.add("U", self, objectRefKey(cluster, SC_TYPE, "", sc));
      break;
    }
    case "EndpointSlice": {
      const svc = meta.labels.find(([k]) => k === "kubernetes.io/service-name")?.[1];
      if (svc) {
        const svcKey = objectRefKey(cluster, SERVICE_TYPE, meta.namespace, svc);
        for (const ep of findAllLen(raw, 0, raw.length, 2)) {
          const target = path(raw, ep, 4);
          if (!target || getString(raw, target, 1) !== "Pod") continue;
          const name = getString(raw, target, 3);
          if (!name) continue;
          const ns = getString(raw, target, 2) || meta.namespace;
          out.add("R", svcKey, objectRefKey(cluster, POD_TYPE, ns, name));
        }
      }
      break;
    }
    case "Ingress": {
      const ispec = path(raw, all, 2);
      const backends: Array<Span | undefined> = [path(raw, ispec, 1)];
      if (ispec) {
        for (const rule of findAllLen(raw, ispec.start, ispec.end, 3)) {
          const http = path(raw, rule, 2, 1);
          if (!http) continue;
          for (const p of findAllLen(raw, http.start, http.end, 1)) backends.push(path(raw, p, 2));
        }
      }
      for (const b of backends) {
        const svc = getString(raw, path(raw, b, 4), 1);
        if (svc) out.add("R", self, objectRefKey(cluster, SERVICE_TYPE, meta.namespace, svc));
      }
      break;
    }
  }
  return { fixed, pairs: out.list, nodeName };
}
