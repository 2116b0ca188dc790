// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The hardware manager component: publishes this host's hardware graph into the store at start and on
// an interval, writing only changes, and links the host to its Kubernetes Node once that Node is stored.

import { clone, create, equals, fromBinary } from "@bufbuild/protobuf";
import { anyPack, anyUnpack, timestampMs } from "@bufbuild/protobuf/wkt";
import { encodeResourceKey, relationshipKey, resourceKeyOf, resourceRefOf } from "../graph/keys.ts";
import type { Logger } from "../log/logger.ts";
import type { HostPaths } from "../perf/collector.ts";
import { SystemNodeSchema } from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { type Resource, type ResourceRef, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import type { Component } from "../runtime/component.ts";
import { type Relationship, ResourceNotFoundError, type Store, type StoreEvent, type StoreOp, type Subscription } from "../store/types.ts";
import { errorMessage } from "../util/errors.ts";
import {
  buildHostGraph,
  HARDWARE_PACKAGE,
  HARDWARE_PREDICATES,
  type HostGraph,
  KUBE_NODE_TYPE,
  NODE_LINK_PREDICATES,
  nodeLinkRelationships,
} from "./build.ts";
import { collectInventory, createHardwareCollectors, type HardwareCollectors } from "./collect.ts";
import { graphSize, refreshes, writes } from "./metrics.ts";

export interface HostGraphOptions {
  store: Store;
  paths: HostPaths;
  /** --hardware-update-interval in ms (default 5 min). */
  intervalMs: number;
  /** NODE_NAME (else hostname): the Kubernetes Node this host is linked to when it is in the store. */
  nodeName: string;
  logger: Logger;
  /** Defaults to the perf collectors over `paths`. */
  collectors?: HardwareCollectors;
  /**
   * The Kubernetes cluster name, once known (the kube controller's cluster detection). Lets an agent
   * whose store holds no Node resources (a non-leader) link to its Node by reference:
   * {k8s.io.api.core.v1.Node, NODE_NAME, Kube{cluster, ""}}, the key the leader publishes it under.
   * Undefined or "" means "not in Kubernetes / not known yet": only a Node in the store is linked.
   */
  kubeCluster?: () => string | undefined;
}

export interface RefreshResult {
  systemName: string;
  resources: number;
  relationships: number;
  upserted: number;
  deleted: number;
  relationshipsAdded: number;
  relationshipsDeleted: number;
  /** Collectors that failed this time (their part of the graph was kept as it was). */
  errors: Record<string, string>;
  /** True when the host is linked to its Kubernetes Node. */
  linked: boolean;
}

export interface HostGraphComponent extends Component {
  /** One refresh now (serialised with the timer's). */
  refresh(): Promise<RefreshResult>;
  /** Re-evaluates only the link to the Kubernetes Node (call when the cluster name becomes known). */
  relink(): Promise<void>;
}

/** Boot time is derived from the clock each read and may move by a second; smaller moves are not changes. */
const BOOT_TIME_JITTER_MS = 2000;
/** Relationships per store op, and ops per transaction: about 1000 objects per transaction keeps each one short. */
const REL_BATCH = 64;
const OPS_PER_TX = 16;
/** How long start() waits for the first refresh. */
const START_WAIT_MS = 10_000;

function storedRelationships(store: Store, predicate: string): Relationship[] {
  return store.findRelationships({ predicate });
}

const isHardware = (ref: ResourceRef | undefined) => !!ref && ref.typeUrl.startsWith(`${HARDWARE_PACKAGE}.`);

/** What this host graph owns in the store: hardware resources, hardware-to-hardware relationships, and the Node link. */
function ownedRelationships(store: Store): Relationship[] {
  const out: Relationship[] = [];
  for (const p of HARDWARE_PREDICATES)
    for (const r of storedRelationships(store, p)) if (isHardware(r.subject) && isHardware(r.object)) out.push(r);
  const [registeredAs, underlying] = NODE_LINK_PREDICATES;
  for (const r of storedRelationships(store, registeredAs)) if (r.subject?.typeUrl === SystemNodeSchema.typeName) out.push(r);
  for (const r of storedRelationships(store, underlying)) if (r.object?.typeUrl === SystemNodeSchema.typeName) out.push(r);
  return out;
}

function withoutTimestamps(r: Resource): Resource {
  const c = clone(ResourceSchema, r);
  if (c.metadata) {
    c.metadata.createdAt = undefined;
    c.metadata.updatedAt = undefined;
    c.metadata.deletedAt = undefined;
  }
  return c;
}

/** Keeps the stored SystemNode boot time when the new one differs only by clock jitter. */
function stabiliseBootTime(desired: Resource, stored: Resource | undefined): void {
  if (!stored?.spec || !desired.spec) return;
  const a = anyUnpack(desired.spec, SystemNodeSchema);
  const b = anyUnpack(stored.spec, SystemNodeSchema);
  if (!a?.bootTime || !b?.bootTime) return;
  if (Math.abs(timestampMs(a.bootTime) - timestampMs(b.bootTime)) > BOOT_TIME_JITTER_MS) return;
  a.bootTime = b.bootTime;
  desired.spec = anyPack(SystemNodeSchema, a);
}

/**
 * The Kubernetes Node named `nodeName`, if the store has it. `hint` (the ref last seen) is tried
 * first with a point lookup; only without it are the Node resources listed.
 */
function findNode(store: Store, nodeName: string, hint: ResourceRef | undefined): ResourceRef | undefined {
  if (!nodeName) return undefined;
  if (hint) {
    try {
      return resourceRefOf(store.getResource(hint));
    } catch (e) {
      if (!(e instanceof ResourceNotFoundError)) throw e;
    }
  }
  const node = store.listResources([create(TypeDescriptorSchema, { type: KUBE_NODE_TYPE })]).find((r) => r.metadata?.name === nodeName);
  return node ? resourceRefOf(node) : undefined;
}

/** The ops that turn the stored graph into `desired`; deletions only when `allowDeletes`. */
export function planChanges(
  store: Store,
  desired: { resources: Resource[]; relationships: Relationship[] },
  allowDeletes: boolean,
): { ops: StoreOp[]; upserted: number; deleted: number; relationshipsAdded: number; relationshipsDeleted: number } {
  const stored = new Map(store.listResources([create(TypeDescriptorSchema, { type: HARDWARE_PACKAGE })]).map((r) => [resourceKeyOf(r), r]));
  const storedRels = new Map(ownedRelationships(store).map((r) => [relationshipKey(r), r]));
  const want = new Map(desired.resources.map((r) => [resourceKeyOf(r), r]));
  const wantRels = new Map(desired.relationships.map((r) => [relationshipKey(r), r]));

  const upserts: Resource[] = [];
  for (const [key, r] of want) {
    const old = stored.get(key);
    if (old && r.type?.type === SystemNodeSchema.typeName) stabiliseBootTime(r, old);
    if (!old || !equals(ResourceSchema, withoutTimestamps(old), withoutTimestamps(r))) upserts.push(r);
  }
  const deletes = allowDeletes ? [...stored.entries()].filter(([k]) => !want.has(k)).map(([, r]) => resourceRefOf(r)) : [];
  const deletedKeys = new Set(deletes.map((d) => encodeResourceKey(d)));
  // Relationships of deleted resources go with them (the store cascades).
  const relDeletes = allowDeletes
    ? [...storedRels.entries()]
        .filter(
          ([k, r]) => !wantRels.has(k) && !deletedKeys.has(encodeResourceKey(r.subject!)) && !deletedKeys.has(encodeResourceKey(r.object!)),
        )
        .map(([, r]) => r)
    : [];
  const relAdds = [...wantRels.entries()].filter(([k]) => !storedRels.has(k)).map(([, r]) => r);

  const ops: StoreOp[] = [];
  for (const r of upserts) ops.push({ op: "update", resource: r });
  if (relDeletes.length) ops.push({ op: "deleteRelationships", relationships: relDeletes });
  for (const ref of deletes) ops.push({ op: "delete", ref });
  for (let i = 0; i < relAdds.length; i += REL_BATCH) ops.push({ op: "addRelationships", relationships: relAdds.slice(i, i + REL_BATCH) });
  return {
    ops,
    upserted: upserts.length,
    deleted: deletes.length,
    relationshipsAdded: relAdds.length,
    relationshipsDeleted: relDeletes.length,
  };
}

/**
 * The hardware manager: publishes this host's hardware graph (antimetal.hardware.v1) into the store
 * at start and every `intervalMs`, writing only what changed and deleting what vanished, and links
 * the host to its Kubernetes Node whenever that Node is in the store.
 */
export function createHostGraphComponent(opts: HostGraphOptions): HostGraphComponent {
  // The caller passes a child logger with component=hostgraph (DEVELOPING.md).
  const log = opts.logger;
  const collectors = opts.collectors ?? createHardwareCollectors(opts.paths);
  const intervalMs = opts.intervalMs > 0 ? opts.intervalMs : 5 * 60_000;
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sub: Subscription | undefined;
  let ready = false;
  let stopped = false;
  let chain: Promise<unknown> = Promise.resolve();
  let last: HostGraph | undefined;
  let warnedName = false;
  /** The Node's ref as last seen (its namespace carries the cluster name). */
  let nodeRef: ResourceRef | undefined;

  /** The Node in the store, else (when the cluster name is known) the Node's ref as the leader publishes it. */
  const nodeFor = (): ResourceRef | undefined => {
    const found = findNode(opts.store, opts.nodeName, nodeRef);
    if (found) return (nodeRef = found);
    const cluster = opts.kubeCluster?.();
    if (!cluster || !opts.nodeName) return undefined;
    return create(ResourceRefSchema, {
      typeUrl: KUBE_NODE_TYPE,
      name: opts.nodeName,
      namespace: { namespace: { case: "kube", value: { cluster, namespace: "" } } },
    });
  };

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  };

  const apply = async (ops: StoreOp[]) => {
    if (ops.length) await opts.store.applyAsync(ops, { chunkSize: OPS_PER_TX });
  };

  const count = (plan: { upserted: number; deleted: number; relationshipsAdded: number; relationshipsDeleted: number }) => {
    if (plan.upserted) writes.inc({ op: "upsert" }, plan.upserted);
    if (plan.deleted) writes.inc({ op: "delete" }, plan.deleted);
    if (plan.relationshipsAdded) writes.inc({ op: "relationship_add" }, plan.relationshipsAdded);
    if (plan.relationshipsDeleted) writes.inc({ op: "relationship_delete" }, plan.relationshipsDeleted);
  };

  const desiredWithLink = (graph: HostGraph): { resources: Resource[]; relationships: Relationship[]; linked: boolean } => {
    const node = nodeFor();
    const relationships = node ? [...graph.relationships, ...nodeLinkRelationships(graph.systemRef, node)] : graph.relationships;
    return { resources: graph.resources, relationships, linked: !!node };
  };

  const doRefresh = async (): Promise<RefreshResult> => {
    const { inventory, errors } = await collectInventory(opts.paths, collectors, abort.signal);
    const graph = buildHostGraph(inventory);
    if (!inventory.facts.machineId && !warnedName) {
      warnedName = true;
      log.warn(
        { name: graph.systemName },
        "no machine-id (HOST_ETC/machine-id, HOST_VAR/lib/dbus/machine-id); naming the host by its DMI product_uuid or hostname",
      );
    }
    const partial = Object.keys(errors).length > 0;
    if (partial) log.warn({ errors }, "hardware collectors failed; keeping their part of the graph as it was");
    const desired = desiredWithLink(graph);
    const plan = planChanges(opts.store, desired, !partial);
    await apply(plan.ops);
    count(plan);
    last = graph;
    refreshes.inc({ result: partial ? "partial" : "ok" });
    graphSize.set({ entity: "resources" }, desired.resources.length);
    graphSize.set({ entity: "relationships" }, desired.relationships.length);
    const result: RefreshResult = {
      systemName: graph.systemName,
      resources: desired.resources.length,
      relationships: desired.relationships.length,
      upserted: plan.upserted,
      deleted: plan.deleted,
      relationshipsAdded: plan.relationshipsAdded,
      relationshipsDeleted: plan.relationshipsDeleted,
      errors,
      linked: desired.linked,
    };
    log.debug(result, "host graph refreshed");
    return result;
  };

  const refresh = () =>
    serial(async () => {
      try {
        return await doRefresh();
      } catch (e) {
        refreshes.inc({ result: "error" });
        throw e;
      }
    });

  /** Only the Node link, after the Node appeared, changed name or vanished (no collection). */
  const relink = () =>
    serial(async () => {
      if (!last || stopped) return;
      const [registeredAs, underlying] = NODE_LINK_PREDICATES;
      const stored = [
        ...storedRelationships(opts.store, registeredAs).filter((r) => r.subject?.typeUrl === SystemNodeSchema.typeName),
        ...storedRelationships(opts.store, underlying).filter((r) => r.object?.typeUrl === SystemNodeSchema.typeName),
      ];
      const node = nodeFor();
      const want = node ? nodeLinkRelationships(last.systemRef, node) : [];
      const storedKeys = new Set(stored.map(relationshipKey));
      const wantKeys = new Set(want.map(relationshipKey));
      const adds = want.filter((r) => !storedKeys.has(relationshipKey(r)));
      const dels = stored.filter((r) => !wantKeys.has(relationshipKey(r)));
      const ops: StoreOp[] = [];
      if (dels.length) ops.push({ op: "deleteRelationships", relationships: dels });
      if (adds.length) ops.push({ op: "addRelationships", relationships: adds });
      await apply(ops);
      count({ upserted: 0, deleted: 0, relationshipsAdded: adds.length, relationshipsDeleted: dels.length });
      if (adds.length) log.info({ node: opts.nodeName }, "linked host to its Kubernetes Node");
    });

  const onNodeEvent = (ev: StoreEvent) => {
    if (ev.type === "DELETE") return; // the store cascades the link away with the Node
    let mine = false;
    for (const o of ev.objs) {
      if (!o.object || o.type?.type !== KUBE_NODE_TYPE) continue;
      try {
        const r = fromBinary(ResourceSchema, o.object.value);
        if (r.metadata?.name === opts.nodeName) {
          nodeRef = resourceRefOf(r);
          mine = true;
        }
      } catch {
        // not a resource we can read: ignore
      }
    }
    // Handlers run inside the store's commit path: write from a later task, never re-entrantly.
    if (mine)
      setTimeout(() => void relink().catch((e) => log.warn({ err: errorMessage(e) }, "relinking to the Kubernetes Node failed")), 0);
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      refresh()
        .catch((e) => log.error({ err: errorMessage(e) }, "host graph refresh failed"))
        .finally(schedule);
    }, intervalMs);
    timer.unref?.();
  };

  return {
    name: "hostgraph",
    required: false,
    async start() {
      const first = refresh().then(
        (r) =>
          log.info(
            {
              system: r.systemName,
              resources: r.resources,
              relationships: r.relationships,
              written: r.upserted + r.deleted + r.relationshipsAdded + r.relationshipsDeleted,
            },
            "host graph published",
          ),
        // The next interval retries; the rest of the agent does not wait for the host graph.
        (e) => log.error({ err: errorMessage(e) }, "initial host graph refresh failed"),
      );
      // Wait for the first publication, but not past START_WAIT_MS: a hung /sys read must not hold
      // up the agent's start (the refresh goes on in the background and is serialised with the rest).
      let waited: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([first, new Promise<void>((resolve) => (waited = setTimeout(resolve, START_WAIT_MS)))]);
      clearTimeout(waited);
      sub = opts.store.subscribe([create(TypeDescriptorSchema, { type: KUBE_NODE_TYPE })], onNodeEvent);
      ready = true;
      schedule();
    },
    async stop(deadline: AbortSignal) {
      stopped = true;
      if (timer) clearTimeout(timer);
      sub?.close();
      abort.abort();
      await Promise.race([chain, new Promise<void>((resolve) => deadline.addEventListener("abort", () => resolve(), { once: true }))]);
    },
    isReady: () => ready,
    refresh,
    relink,
  };
}
