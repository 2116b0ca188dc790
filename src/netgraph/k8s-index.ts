// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Where a peer address lands in the cluster: an index of Pod IPs and UIDs, Service ClusterIPs and
 * Node addresses, built from the Kubernetes resources in the store (their spec is the object's raw
 * Kubernetes protobuf) and kept current from store events. The few fields it needs are read by
 * field number (k8s.io/api generated.proto numbers, stable across releases):
 *   Pod:     metadata(1){uid 5}, spec(2){nodeName 10, hostNetwork 11}, status(3){podIP 6, podIPs 12{ip 1}}
 *   Service: spec(2){clusterIP 3, externalName 10, clusterIPs 18}
 *   Node:    status(3){addresses 5{type 1, address 2}}
 *   EndpointSlice: metadata(1){labels 11{key 1, value 2}}, endpoints(2){addresses 1,
 *            targetRef 4{kind 1, namespace 2, name 3}}, ports(3){port 3}
 * EndpointSlices add two lookups: an endpoint address whose targetRef is a Pod names that Pod when
 * no Pod, Service or Node in the store has the address (the slice often arrives first, and the
 * Pod object may not be in the store at all), and (address, port) → the Services
 * (label kubernetes.io/service-name) that list it as an endpoint. ExternalName Services give the DNS
 * names of peers outside the cluster (externalNames(); dns-names.ts resolves them).
 */

import { create, fromBinary } from "@bufbuild/protobuf";
import { resourceRefOf } from "../graph/keys.ts";
import { KubernetesNamespaceSchema, NamespaceSchema } from "../proto/gen/resource/v1/namespace_pb.ts";
import { type Resource, type ResourceRef, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import type { StoreEvent, WireObject } from "../store/types.ts";

export const POD_TYPE = "k8s.io.api.core.v1.Pod";
export const SERVICE_TYPE = "k8s.io.api.core.v1.Service";
export const NODE_TYPE = "k8s.io.api.core.v1.Node";
export const ENDPOINT_SLICE_TYPE = "k8s.io.api.discovery.v1.EndpointSlice";
/** The resource types the index reads (the component subscribes to exactly these). */
export const INDEXED_TYPES = [POD_TYPE, SERVICE_TYPE, NODE_TYPE, ENDPOINT_SLICE_TYPE] as const;

export type PeerKind = "pod" | "service" | "node";

export interface Target {
  kind: PeerKind;
  ref: ResourceRef;
  /** Encoded-key-like identity used for maps ("<type>/<namespace>/<name>"). */
  id: string;
}

type Span = [number, number];

/** Calls cb for each top-level field in buf[start, end): (field number, wire type, payload span or varint). */
function fields(buf: Uint8Array, start: number, end: number, cb: (num: number, wt: number, a: number, b: number) => void): void {
  let i = start;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (i >= end) throw new Error("protobuf: truncated varint");
      const byte = buf[i++]!;
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
      shift += 7;
    }
  };
  while (i < end) {
    const tag = varint();
    const num = Math.floor(tag / 8);
    const wt = tag & 7;
    if (wt === 0) cb(num, wt, varint(), 0);
    else if (wt === 2) {
      const len = varint();
      if (i + len > end) throw new Error("protobuf: truncated field");
      cb(num, wt, i, i + len);
      i += len;
    } else if (wt === 1) i += 8;
    else if (wt === 5) i += 4;
    else throw new Error(`protobuf: wire type ${wt} unsupported`);
  }
}

function sub(buf: Uint8Array, span: Span | undefined, num: number): Span[] {
  const out: Span[] = [];
  if (!span) return out;
  fields(buf, span[0], span[1], (n, wt, a, b) => {
    if (n === num && wt === 2) out.push([a, b]);
  });
  return out;
}

const utf8 = new TextDecoder();
const text = (buf: Uint8Array, s: Span | undefined) => (s ? utf8.decode(buf.subarray(s[0], s[1])) : "");

function varintField(buf: Uint8Array, span: Span | undefined, num: number): number {
  let v = 0;
  if (span)
    fields(buf, span[0], span[1], (n, wt, a) => {
      if (n === num && wt === 0) v = a;
    });
  return v;
}

/** The raw object's message span (skipping a "k8s\0" envelope's Unknown wrapper if present). */
function body(raw: Uint8Array): Span {
  if (raw.length >= 4 && raw[0] === 0x6b && raw[1] === 0x38 && raw[2] === 0x73 && raw[3] === 0) {
    const r = sub(raw, [4, raw.length], 2)[0]; // runtime.Unknown{typeMeta 1, raw 2}
    if (r) return r;
  }
  return [0, raw.length];
}

export interface PodFacts {
  uid: string;
  ips: string[];
  hostNetwork: boolean;
  nodeName: string;
}

export function podFacts(raw: Uint8Array): PodFacts {
  const b = body(raw);
  const meta = sub(raw, b, 1)[0];
  const spec = sub(raw, b, 2)[0];
  const status = sub(raw, b, 3)[0];
  const ips = new Set<string>();
  const one = text(raw, sub(raw, status, 6)[0]);
  if (one) ips.add(one);
  for (const p of sub(raw, status, 12)) {
    const ip = text(raw, sub(raw, p, 1)[0]);
    if (ip) ips.add(ip);
  }
  return {
    uid: text(raw, sub(raw, meta, 5)[0]),
    ips: [...ips],
    hostNetwork: varintField(raw, spec, 11) !== 0,
    nodeName: text(raw, sub(raw, spec, 10)[0]),
  };
}

export function serviceIps(raw: Uint8Array): string[] {
  const b = body(raw);
  const spec = sub(raw, b, 2)[0];
  const ips = new Set<string>();
  for (const num of [3, 18]) for (const s of sub(raw, spec, num)) ips.add(text(raw, s));
  ips.delete("");
  ips.delete("None");
  return [...ips];
}

/** An ExternalName Service's DNS name (spec.externalName), lower-cased without a trailing dot; "" for other Services. */
export function serviceExternalName(raw: Uint8Array): string {
  const spec = sub(raw, body(raw), 2)[0];
  return text(raw, sub(raw, spec, 10)[0])
    .toLowerCase()
    .replace(/\.$/, "");
}

export function nodeAddresses(raw: Uint8Array): string[] {
  const b = body(raw);
  const status = sub(raw, b, 3)[0];
  const out: string[] = [];
  for (const a of sub(raw, status, 5)) {
    const type = text(raw, sub(raw, a, 1)[0]);
    const addr = text(raw, sub(raw, a, 2)[0]);
    if (addr && (type === "InternalIP" || type === "ExternalIP")) out.push(addr);
  }
  return out;
}

export interface EndpointSliceFacts {
  /** The owning Service (label kubernetes.io/service-name); "" when unlabelled. */
  service: string;
  /** Port numbers of the slice; a port without a number means every port (0 here). */
  ports: number[];
  endpoints: Array<{ addresses: string[]; pod?: { namespace: string; name: string } }>;
}

export function endpointSliceFacts(raw: Uint8Array): EndpointSliceFacts {
  const b = body(raw);
  const meta = sub(raw, b, 1)[0];
  let service = "";
  for (const l of sub(raw, meta, 11))
    if (text(raw, sub(raw, l, 1)[0]) === "kubernetes.io/service-name") service = text(raw, sub(raw, l, 2)[0]);
  const ports = sub(raw, b, 3).map((p) => varintField(raw, p, 3));
  const endpoints = sub(raw, b, 2).map((ep) => {
    const addresses = sub(raw, ep, 1)
      .map((a) => text(raw, a))
      .filter((a) => a !== "");
    const ref = sub(raw, ep, 4)[0];
    const name = text(raw, sub(raw, ref, 3)[0]);
    const pod = ref && text(raw, sub(raw, ref, 1)[0]) === "Pod" && name ? { namespace: text(raw, sub(raw, ref, 2)[0]), name } : undefined;
    return { addresses, pod };
  });
  return { service, ports, endpoints };
}

/** A ref of `type` named namespace/name in the same cluster as `like` (an object of that namespace's cluster). */
function kubeRef(like: Resource, type: string, namespace: string, name: string): ResourceRef {
  const ns = like.metadata?.namespace;
  const cluster = ns?.namespace.case === "kube" ? ns.namespace.value.cluster : "";
  return create(ResourceRefSchema, {
    typeUrl: type,
    name,
    namespace: create(NamespaceSchema, { namespace: { case: "kube", value: create(KubernetesNamespaceSchema, { cluster, namespace }) } }),
  });
}

/** key → (contributing object id → target): several objects may claim one key; the first one left answers. */
class Claims {
  private readonly m = new Map<string, Map<string, Target>>();
  add(key: string, owner: string, t: Target): void {
    let c = this.m.get(key);
    if (!c) this.m.set(key, (c = new Map()));
    c.set(owner, t);
  }
  drop(key: string, owner: string): void {
    const c = this.m.get(key);
    if (c?.delete(owner) && c.size === 0) this.m.delete(key);
  }
  first(key: string): Target | undefined {
    const c = this.m.get(key);
    return c ? c.values().next().value : undefined;
  }
  all(key: string): Target[] {
    return [...(this.m.get(key)?.values() ?? [])];
  }
}

/** Pods (not hostNetwork) by IP and by UID, Services by ClusterIP, Nodes by address and name. */
export class KubeIndex {
  private readonly byIp = new Map<string, Target>();
  private readonly byUid = new Map<string, Target>();
  private readonly nodesByName = new Map<string, Target>();
  /** What each resource put in the maps, so an update or delete removes exactly that. */
  private readonly entries = new Map<string, { ips: string[]; uid?: string; node?: string; epPods?: string[]; epPorts?: string[] }>();
  /** EndpointSlice endpoint address → its Pod (targetRef). */
  private readonly endpointPods = new Claims();
  /** "address|port" (port 0: every port) → the Services that list it. */
  private readonly endpointServices = new Claims();
  /** ExternalName Service id → its DNS name. */
  private readonly externalNameOf = new Map<string, string>();
  /** An ExternalName Service was indexed or removed since the last takeExternalNamesTouched(). */
  private externalNamesTouched = false;

  get size(): number {
    return this.entries.size;
  }

  /** Applies one store event (resource objects of the three types; others are ignored). */
  apply(ev: StoreEvent): void {
    for (const o of ev.objs) {
      const r = resourceOf(o);
      if (r) ev.type === "DELETE" ? this.remove(r) : this.upsert(r);
    }
  }

  upsert(r: Resource): void {
    const type = r.type?.type ?? "";
    if (type !== POD_TYPE && type !== SERVICE_TYPE && type !== NODE_TYPE && type !== ENDPOINT_SLICE_TYPE) return;
    const raw = r.spec?.value;
    if (!raw) return;
    this.remove(r);
    const ref = resourceRefOf(r);
    const id = `${type}/${r.metadata?.namespace?.namespace.case === "kube" ? r.metadata.namespace.namespace.value.namespace : ""}/${ref.name}`;
    const entry: { ips: string[]; uid?: string; node?: string; epPods?: string[]; epPorts?: string[] } = { ips: [] };
    if (type === ENDPOINT_SLICE_TYPE) {
      const f = endpointSliceFacts(raw);
      const ns = r.metadata?.namespace?.namespace.case === "kube" ? r.metadata.namespace.namespace.value.namespace : "";
      const svc: Target | undefined = f.service
        ? { kind: "service", ref: kubeRef(r, SERVICE_TYPE, ns, f.service), id: `${SERVICE_TYPE}/${ns}/${f.service}` }
        : undefined;
      entry.epPods = [];
      entry.epPorts = [];
      for (const ep of f.endpoints) {
        const pod = ep.pod;
        for (const a of ep.addresses) {
          if (pod) {
            const podNs = pod.namespace || ns;
            this.endpointPods.add(a, id, {
              kind: "pod",
              ref: kubeRef(r, POD_TYPE, podNs, pod.name),
              id: `${POD_TYPE}/${podNs}/${pod.name}`,
            });
            entry.epPods.push(a);
          }
          if (svc)
            for (const p of f.ports) {
              this.endpointServices.add(`${a}|${p}`, id, svc);
              entry.epPorts.push(`${a}|${p}`);
            }
        }
      }
    } else if (type === POD_TYPE) {
      const f = podFacts(raw);
      const t: Target = { kind: "pod", ref, id };
      if (!f.hostNetwork) entry.ips = f.ips;
      if (f.uid) {
        entry.uid = f.uid;
        this.byUid.set(f.uid, t);
      }
      for (const ip of entry.ips) this.byIp.set(ip, t);
    } else if (type === SERVICE_TYPE) {
      entry.ips = serviceIps(raw);
      for (const ip of entry.ips) this.byIp.set(ip, { kind: "service", ref, id });
      const name = serviceExternalName(raw);
      if (name) {
        this.externalNameOf.set(id, name);
        this.externalNamesTouched = true;
      }
    } else {
      entry.ips = nodeAddresses(raw);
      const t: Target = { kind: "node", ref, id };
      // A Pod IP wins over a Node address (hostNetwork pods are not indexed by IP).
      for (const ip of entry.ips) if (!this.byIp.has(ip)) this.byIp.set(ip, t);
      entry.node = ref.name;
      this.nodesByName.set(ref.name, t);
    }
    this.entries.set(`${type}\n${id}`, entry);
  }

  remove(r: Resource): void {
    const ref = resourceRefOf(r);
    const type = r.type?.type ?? "";
    const id = `${type}/${r.metadata?.namespace?.namespace.case === "kube" ? r.metadata.namespace.namespace.value.namespace : ""}/${ref.name}`;
    if (type === SERVICE_TYPE && this.externalNameOf.delete(id)) this.externalNamesTouched = true;
    const e = this.entries.get(`${type}\n${id}`);
    if (!e) return;
    this.entries.delete(`${type}\n${id}`);
    for (const ip of e.ips) if (this.byIp.get(ip)?.id === id) this.byIp.delete(ip);
    if (e.uid && this.byUid.get(e.uid)?.id === id) this.byUid.delete(e.uid);
    if (e.node && this.nodesByName.get(e.node)?.id === id) this.nodesByName.delete(e.node);
    for (const a of e.epPods ?? []) this.endpointPods.drop(a, id);
    for (const k of e.epPorts ?? []) this.endpointServices.drop(k, id);
  }

  /** A Pod, Service or Node at this address; else the Pod an EndpointSlice names for it. */
  byAddress(ip: string): Target | undefined {
    return this.byIp.get(ip) ?? this.endpointPods.first(ip);
  }

  /** The Services whose EndpointSlices list ip:port as an endpoint (a slice port without a number: any port). */
  servicesOfEndpoint(ip: string, port: number): Target[] {
    const out = this.endpointServices.all(`${ip}|${port}`);
    for (const t of this.endpointServices.all(`${ip}|0`)) if (!out.some((o) => o.id === t.id)) out.push(t);
    return out;
  }

  /** The DNS names of the cluster's ExternalName Services (distinct, sorted). */
  externalNames(): string[] {
    return [...new Set(this.externalNameOf.values())].sort();
  }

  /** True once after an ExternalName Service was indexed or removed (its name set may have changed). */
  takeExternalNamesTouched(): boolean {
    const touched = this.externalNamesTouched;
    this.externalNamesTouched = false;
    return touched;
  }

  podByUid(uid: string): Target | undefined {
    return this.byUid.get(uid);
  }

  node(name: string): Target | undefined {
    return this.nodesByName.get(name);
  }
}

/** The Resource inside a store event's object, or undefined for a relationship. */
export function resourceOf(o: WireObject): Resource | undefined {
  if (o.type?.kind !== "resource.v1.Resource" || !o.object) return undefined;
  return fromBinary(ResourceSchema, o.object.value);
}
