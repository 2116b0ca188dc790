// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The Pods of this host's containers, as the runtime graph links them: only those, never the
// cluster's. A container's Pod is named by CRI's pod name and namespace when it has them (no store
// read), else found by the Pod UID in its cgroup path, searched for inside SQLite among the stored
// Pods' bodies, once per UID. Pod events are followed without a snapshot and decoded only
// when they can matter: a Pod with a UID still missing appeared, or a Pod linked to was deleted.

import { create, fromBinary } from "@bufbuild/protobuf";
import { refPath, resourceRefOf } from "../graph/keys.ts";
import { TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { type Resource, type ResourceRef, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import type { Store, StoreEvent, Subscription } from "../store/types.ts";
import type { ContainerInfo } from "./discover.ts";

export const POD_TYPE = "k8s.io.api.core.v1.Pod";
const KIND_POD = create(TypeDescriptorSchema, { type: POD_TYPE });

/** What a Pod event changed for the runtime graph. */
export interface PodChange {
  /** A Pod that a container of this host was waiting for is stored: link it. */
  relink: boolean;
  /** A Pod linked to was deleted: the store dropped the relationships to it. */
  unlinked: boolean;
}

export class HostPods {
  /** Pods found in the store by UID, for containers without CRI's pod name. */
  private readonly byUid = new Map<string, ResourceRef>();
  /** UIDs looked up and not in the store (yet): an ADD or UPDATE carrying one links it. */
  private readonly missing = new Set<string>();
  /** refPath of every Pod the last lookup linked a container to. */
  private linked = new Set<string>();
  private sub: Subscription | undefined;

  constructor(
    private readonly store: Store,
    /** The Kubernetes cluster name once known: a Pod's ref from CRI's pod name needs it. */
    private readonly cluster: () => string | undefined,
    private readonly onChange: (change: PodChange) => void,
    private readonly onBadEvent: (err: unknown) => void = () => undefined,
  ) {}

  /** Each container's Pod (undefined: not in a pod, or its Pod is neither named nor stored). */
  lookup(containers: readonly ContainerInfo[]): (c: ContainerInfo) => ResourceRef | undefined {
    const cluster = this.cluster();
    const named = (c: ContainerInfo) => Boolean(cluster && c.podName && c.podNamespace);
    const inPods = containers.filter((c) => c.podUid || named(c));
    if (inPods.length === 0) {
      this.forgetAll();
      return () => undefined;
    }
    // Before any lookup, in the same task: no Pod written between the lookup and the subscription is missed.
    this.sub ??= this.store.subscribe([KIND_POD], (ev) => this.onEvent(ev), { snapshot: false });
    const byUid = new Set(inPods.flatMap((c) => (c.podUid && !named(c) ? [c.podUid] : [])));
    for (const uid of this.byUid.keys()) if (!byUid.has(uid)) this.byUid.delete(uid);
    for (const uid of this.missing) if (!byUid.has(uid)) this.missing.delete(uid);
    const unseen = new Set([...byUid].filter((uid) => !this.byUid.has(uid) && !this.missing.has(uid)));
    if (unseen.size) this.findByUid(unseen);

    const refs = new Map<string, ResourceRef>();
    for (const c of inPods) {
      const ref = named(c) ? podRef(cluster!, c.podNamespace!, c.podName!) : this.byUid.get(c.podUid!);
      if (ref) refs.set(c.id, ref);
    }
    this.linked = new Set([...refs.values()].map(refPath));
    return (c) => refs.get(c.id);
  }

  /** Stops following Pod events. */
  close(): void {
    this.sub?.close();
    this.sub = undefined;
  }

  private forgetAll(): void {
    this.byUid.clear();
    this.missing.clear();
    this.linked = new Set();
  }

  /** The stored Pods whose body holds each UID (a byte search in the store), checked by their UID field. */
  private findByUid(uids: Set<string>): void {
    for (const uid of uids) {
      const pod = this.store.listResourcesContaining([KIND_POD], Buffer.from(uid)).find((p) => p.metadata?.providerId === uid);
      if (pod) this.byUid.set(uid, resourceRefOf(pod));
      else this.missing.add(uid);
    }
  }

  private onEvent(ev: StoreEvent): void {
    const change: PodChange = { relink: false, unlinked: false };
    for (const o of ev.objs) {
      const raw = o.object?.value;
      if (!raw || o.type?.type !== POD_TYPE) continue;
      // A Pod's key and UID are in its body: skip without decoding what cannot concern this host.
      if (ev.type === "DELETE" ? this.linked.size === 0 : !this.carriesMissingUid(raw)) continue;
      let r: Resource;
      try {
        r = fromBinary(ResourceSchema, raw);
      } catch (e) {
        this.onBadEvent(e);
        this.missing.clear(); // looked up in the store again at the next scan
        continue;
      }
      const ref = resourceRefOf(r);
      if (ev.type === "DELETE") {
        const path = refPath(ref);
        if (!this.linked.has(path)) continue;
        change.unlinked = true;
        for (const [uid, known] of this.byUid)
          if (refPath(known) === path) {
            this.byUid.delete(uid);
            this.missing.add(uid); // stored again (a relist) links it again
          }
        continue;
      }
      // An UPDATE can carry a new UID too: a Pod deleted and created again under its name between two watches.
      const uid = r.metadata?.providerId;
      if (!uid || !this.missing.delete(uid)) continue;
      this.byUid.set(uid, ref);
      change.relink = true;
    }
    if (change.relink || change.unlinked) this.onChange(change);
  }

  private carriesMissingUid(raw: Uint8Array): boolean {
    if (this.missing.size === 0) return false;
    const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    for (const uid of this.missing) if (bytes.includes(uid)) return true;
    return false;
  }
}

export function podRef(cluster: string, namespace: string, name: string): ResourceRef {
  return create(ResourceRefSchema, { typeUrl: POD_TYPE, name, namespace: { namespace: { case: "kube", value: { cluster, namespace } } } });
}
