// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The service graph: TCP flows → RoutesTo / RoutedFrom relationships between workloads.
 *
 * Each flow's local end is attributed to a Pod (process cgroup → pod UID, else the local address
 * as a Pod IP) or to this host's Node; its peer to a Pod IP, a Service ClusterIP, a Node address,
 * or an ExternalEndpoint (peers outside the cluster, aggregated by IPv4 /24 or IPv6 /64, or named by
 * the DNS name of an ExternalName Service that resolves to them). The
 * initiator (the end that called connect) is the subject. A new edge writes one RoutesTo and one
 * RoutedFrom to the store; later flows only move its in-memory first-seen/last-seen and counters.
 * An edge with no open connection and no flow for `ttlMs` is deleted from the store. The same
 * connection seen from both ends (both on this host) is counted once.
 */

import type { FlowEvent } from "../ebpf/tcpflow-decode.ts";
import { emptyPredicate, newRelationship, newResource, resourceRef } from "../graph/build.ts";
import type { Logger } from "../log/logger.ts";
import { type BoundMeter, meterBound } from "../metrics/registry.ts";
import type { Relationship } from "../proto/gen/resource/v1/relationship_pb.ts";
import type { ResourceRef } from "../proto/gen/resource/v1/resource_pb.ts";
import type { Store } from "../store/types.ts";
import { errorMessage } from "../util/errors.ts";
import { type KubeIndex, NODE_TYPE, POD_TYPE, SERVICE_TYPE, type Target } from "./k8s-index.ts";
import type { WorkloadResolver } from "./workload.ts";

export const ROUTES_TO = "network.v1.RoutesTo";
export const ROUTED_FROM = "network.v1.RoutedFrom";
/**
 * TypeDescriptor.type of the service graph's relationships (the predicate stays network.v1.RoutesTo
 * / RoutedFrom). The store picks the outbox channel from this type: "antimetal.*" is the instance
 * channel every node uploads, while the Kubernetes graph's own RoutesTo edges (Service → Pod from
 * EndpointSlices, Ingress → Service), typed network.v1.*, stay on the leader's cluster channel.
 */
export const ROUTES_TO_TYPE = "antimetal.network.v1.RoutesTo";
export const ROUTED_FROM_TYPE = "antimetal.network.v1.RoutedFrom";
export const EXTERNAL_ENDPOINT_TYPE = "antimetal.network.v1.ExternalEndpoint";

/** The flow fields the graph uses. */
export type Flow = Pick<
  FlowEvent,
  | "kind"
  | "pid"
  | "cgroupId"
  | "netns"
  | "family"
  | "saddr"
  | "sport"
  | "daddr"
  | "dport"
  | "direction"
  | "failed"
  | "bytesSent"
  | "bytesReceived"
>;

export type EndpointKind = Target["kind"] | "external";

export interface Endpoint {
  kind: EndpointKind;
  ref: ResourceRef;
  id: string;
}

export interface Edge {
  subject: Endpoint;
  object: Endpoint;
  firstSeen: number;
  lastSeen: number;
  /** Connections completed (closed), each counted once. */
  connections: number;
  /** Connects that never got established. */
  failed: number;
  /** Bytes from subject to object and back, as the initiator's side measured them. */
  bytesToObject: bigint;
  bytesFromObject: bigint;
  /** Connections open now. */
  open: number;
  /** Relationships are in the store (not for an edge of failed connects only). */
  written: boolean;
}

/** An edge with no flow counted yet, first and last seen at `now`. */
function newEdge(subject: Endpoint, object: Endpoint, now: number, written: boolean): Edge {
  return {
    subject,
    object,
    firstSeen: now,
    lastSeen: now,
    connections: 0,
    failed: 0,
    bytesToObject: 0n,
    bytesFromObject: 0n,
    open: 0,
    written,
  };
}

export type GraphStore = Pick<
  Store,
  "addRelationships" | "deleteRelationships" | "findRelationships" | "updateResource" | "deleteResource"
>;

export interface ServiceGraphOptions {
  store: GraphStore;
  index: KubeIndex;
  resolver: WorkloadResolver;
  /** This host's Kubernetes Node name: the local end of flows from processes outside Pods. */
  nodeName: string;
  ttlMs: number;
  logger?: Logger;
  now?: () => number;
  /** Edges kept (default 10000); flows of a new edge beyond it are counted as dropped. */
  maxEdges?: number;
  /** Open connections tracked (default 100000). */
  maxOpen?: number;
  /** DNS names of external addresses, where the cluster knows them (ExternalName Services). */
  externalNames?: { nameOf(ip: string): string | undefined };
}

export type Unattributed = "no_local_workload" | "loopback" | "self" | "table_full";

function isLoopback(a: string): boolean {
  return a.startsWith("127.") || a === "::1";
}

/** The aggregate an external address belongs to: IPv4 /24, IPv6 /64. */
export function externalBlock(addr: string, family: 4 | 6): string {
  if (family === 4) return `${addr.split(".").slice(0, 3).join(".")}.0/24`;
  const [head = "", tail = ""] = addr.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = addr.includes("::") ? [...h, ...new Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const prefix = groups.slice(0, 4).map((g) => Number.parseInt(g || "0", 16).toString(16));
  while (prefix.length > 0 && prefix[prefix.length - 1] === "0") prefix.pop();
  return `${prefix.join(":")}::/64`;
}

const KIND_BY_TYPE: Record<string, EndpointKind> = { [POD_TYPE]: "pod", [SERVICE_TYPE]: "service", [NODE_TYPE]: "node" };

/** An endpoint for a stored ref; ids match Target.id / remote() ids. */
function endpointOfRef(ref: ResourceRef): Endpoint {
  const ns = ref.namespace?.namespace.case === "kube" ? ref.namespace.namespace.value.namespace : "";
  return { kind: KIND_BY_TYPE[ref.typeUrl] ?? "external", ref, id: `${ref.typeUrl}/${ns}/${ref.name}` };
}

export class ServiceGraph {
  private readonly edges = new Map<string, Edge>();
  private readonly open = new Map<string, string[]>();
  /** Initiator tuples closed recently (both ends on this host report the same connection). */
  private readonly recentCloses = new Map<string, number>();
  private readonly externalRefs = new Map<string, number>();
  private readonly now: () => number;
  private readonly maxEdges: number;
  private readonly maxOpen: number;
  private readonly edgeMeter: BoundMeter;
  private readonly openMeter: BoundMeter;
  readonly unattributed: Record<Unattributed, number> = { no_local_workload: 0, loopback: 0, self: 0, table_full: 0 };
  /** Called when an edge is deleted (metrics drop its series). */
  onEdgeDeleted?: (key: string, edge: Edge) => void;

  constructor(private readonly opts: ServiceGraphOptions) {
    this.now = opts.now ?? Date.now;
    this.maxEdges = opts.maxEdges ?? 10_000;
    this.maxOpen = opts.maxOpen ?? 100_000;
    this.edgeMeter = meterBound("netgraph_edges", this.maxEdges);
    this.openMeter = meterBound("netgraph_open_connections", this.maxOpen);
  }

  /** Edges that survived a restart in the store: tracked again, and deleted after the TTL unless seen. */
  adoptStored(): number {
    const rels = this.opts.store.findRelationships({ predicate: ROUTES_TO });
    const now = this.now();
    for (const r of rels) {
      if (!r.subject || !r.object || r.type?.type !== ROUTES_TO_TYPE) continue; // not the Kubernetes graph's
      const s = endpointOfRef(r.subject);
      const o = endpointOfRef(r.object);
      const key = `${s.id}\n${o.id}`;
      if (this.edges.has(key)) continue;
      this.edges.set(key, newEdge(s, o, now, true));
    }
    this.edgeMeter.depth(this.edges.size);
    return this.edges.size;
  }

  private local(f: Flow): Endpoint | undefined {
    const uid = this.opts.resolver.podUid(f.pid, f.cgroupId);
    const byUid = uid ? this.opts.index.podByUid(uid) : undefined;
    if (byUid) return byUid;
    const byIp = this.opts.index.byAddress(f.saddr);
    if (byIp?.kind === "pod") return byIp;
    return this.opts.index.node(this.opts.nodeName);
  }

  private remote(f: Flow): Endpoint {
    const t = this.opts.index.byAddress(f.daddr);
    if (t) return t;
    const name = this.opts.externalNames?.nameOf(f.daddr) ?? externalBlock(f.daddr, f.family);
    const ref = resourceRef(EXTERNAL_ENDPOINT_TYPE, name);
    return { kind: "external", ref, id: `${EXTERNAL_ENDPOINT_TYPE}//${name}` };
  }

  /**
   * Attributes one flow record and updates (or creates) its edge. When the server end (the peer of
   * an outbound flow, the local end of an inbound one) is a Pod whose address and port an
   * EndpointSlice lists for a Service, the connection also counts on the edge initiator → that
   * Service: a client that dials the Pod directly (a headless Service, client-side balancing) and
   * the server's view of a connection made through the ClusterIP both name the Service, as the
   * client's view of a ClusterIP connection does. Returns the (first) edge key, or why not.
   */
  observe(f: Flow): string | Unattributed {
    const flowKey = `${f.netns}|${f.saddr}|${f.sport}|${f.daddr}|${f.dport}`;
    if (f.kind === "close") this.release(flowKey); // whatever this close is attributed to now
    if (isLoopback(f.daddr)) return this.skip("loopback");
    const local = this.local(f);
    if (!local) return this.skip("no_local_workload");
    const remote = this.remote(f);
    const outbound = f.direction === "outbound";
    const [subject, object] = outbound ? [local, remote] : [remote, local];
    if (subject.id === object.id) return this.skip("self");
    const first = this.count(subject, object, f, flowKey);
    if (object.kind === "pod") {
      const [addr, port] = outbound ? [f.daddr, f.dport] : [f.saddr, f.sport];
      for (const svc of this.opts.index.servicesOfEndpoint(addr, port)) if (svc.id !== subject.id) this.count(subject, svc, f, flowKey);
    }
    return first;
  }

  /** Counts the flow on the edge subject → object (created if new). */
  private count(subject: Endpoint, object: Endpoint, f: Flow, flowKey: string): string | Unattributed {
    const key = `${subject.id}\n${object.id}`;
    const now = this.now();
    let e = this.edges.get(key);
    if (!e) {
      if (this.edges.size >= this.maxEdges) {
        this.edgeMeter.dropped("full");
        return this.skip("table_full");
      }
      e = newEdge(subject, object, now, false);
      this.edges.set(key, e);
      this.edgeMeter.depth(this.edges.size);
    }
    e.lastSeen = now;
    if (f.kind !== "close") {
      let keys = this.open.get(flowKey);
      if (!keys && this.open.size < this.maxOpen) this.open.set(flowKey, (keys = []));
      if (!keys) this.openMeter.dropped("full");
      else if (!keys.includes(key)) {
        keys.push(key);
        e.open++;
        this.openMeter.depth(this.open.size);
      }
      this.write(key, e);
      return key;
    }
    if (f.failed) {
      e.failed++;
      return key;
    }
    // One connection on one edge, whichever end reports it (an end that names a different edge,
    // e.g. the Service the client dialled, counts on that edge). The initiator's own address and
    // port name the connection: both ends see them alike, also when the client dialled a
    // ClusterIP and the server sees its Pod address.
    const client = f.direction === "outbound" ? `${f.saddr}|${f.sport}` : `${f.daddr}|${f.dport}`;
    const initiator = `${key}#${client}`;
    if (this.recentCloses.delete(initiator)) {
      // The other end, on this host too, already counted this connection.
    } else {
      if (this.recentCloses.size >= this.maxOpen) {
        const oldest = this.recentCloses.keys().next().value;
        if (oldest !== undefined) this.recentCloses.delete(oldest);
      }
      this.recentCloses.set(initiator, now);
      e.connections++;
      const [toObject, fromObject] = f.direction === "outbound" ? [f.bytesSent, f.bytesReceived] : [f.bytesReceived, f.bytesSent];
      e.bytesToObject += toObject;
      e.bytesFromObject += fromObject;
    }
    this.write(key, e);
    return key;
  }

  /** Ends an open connection on the edges its open record named. */
  private release(flowKey: string): void {
    const keys = this.open.get(flowKey);
    if (keys === undefined) return;
    this.open.delete(flowKey);
    for (const edgeKey of keys) {
      const e = this.edges.get(edgeKey);
      if (e) e.open = Math.max(0, e.open - 1);
    }
    this.openMeter.depth(this.open.size);
  }

  private skip(why: Unattributed): Unattributed {
    this.unattributed[why]++;
    return why;
  }

  private pair(e: Edge): Relationship[] {
    return [
      newRelationship({ subject: e.subject.ref, object: e.object.ref, predicate: emptyPredicate(ROUTES_TO), type: ROUTES_TO_TYPE }),
      newRelationship({ subject: e.object.ref, object: e.subject.ref, predicate: emptyPredicate(ROUTED_FROM), type: ROUTED_FROM_TYPE }),
    ];
  }

  private write(key: string, e: Edge): void {
    if (e.written) return;
    try {
      for (const ep of [e.subject, e.object]) {
        if (ep.kind !== "external") continue;
        const n = this.externalRefs.get(ep.id) ?? 0;
        if (n === 0)
          this.opts.store.updateResource(
            newResource({
              type: EXTERNAL_ENDPOINT_TYPE,
              // named by its block ("203.0.113.0/24", "2001:db8::/64") or by an ExternalName Service's DNS name
              metadata: { name: ep.ref.name, tags: [{ key: ep.ref.name.includes("/") ? "cidr" : "dns_name", value: ep.ref.name }] },
            }),
          );
        this.externalRefs.set(ep.id, n + 1);
      }
      this.opts.store.addRelationships(...this.pair(e));
      e.written = true;
    } catch (err) {
      this.opts.logger?.error({ err: errorMessage(err), edge: key }, "netgraph: cannot write edge to the store");
    }
  }

  /** Deletes edges idle for the TTL (no open connection, no flow). Returns how many. */
  sweep(): number {
    const now = this.now();
    for (const [k, t] of this.recentCloses) {
      if (now - t < 60_000) break;
      this.recentCloses.delete(k);
    }
    let deleted = 0;
    for (const [key, e] of this.edges) {
      if (e.open > 0) {
        e.lastSeen = now;
        continue;
      }
      if (now - e.lastSeen < this.opts.ttlMs) continue;
      this.edges.delete(key);
      deleted++;
      this.onEdgeDeleted?.(key, e);
      if (!e.written) continue;
      try {
        this.opts.store.deleteRelationships(...this.pair(e));
        for (const ep of [e.subject, e.object]) {
          if (ep.kind !== "external") continue;
          const n = (this.externalRefs.get(ep.id) ?? 1) - 1;
          if (n > 0) this.externalRefs.set(ep.id, n);
          else {
            this.externalRefs.delete(ep.id);
            this.opts.store.deleteResource(ep.ref);
          }
        }
      } catch (err) {
        this.opts.logger?.error({ err: errorMessage(err), edge: key }, "netgraph: cannot delete idle edge from the store");
      }
    }
    this.edgeMeter.depth(this.edges.size);
    return deleted;
  }

  edgeList(): Array<[string, Edge]> {
    return [...this.edges];
  }
}
