// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The runtime graph component: scans containers and processes at start and on an interval, diffs each
// scan against what it last wrote (loaded from the store at the first scan), and writes only changes:
// new and changed nodes are upserted, vanished ones deleted with their relationships. Its containers'
// Pods are found by HostPods (pods.ts). One closure holds the scan and the live (exit/exec, OOM kill,
// Pod and SystemNode event) triggers that share its state.

import { create, equals } from "@bufbuild/protobuf";
import { refPath, relationshipKey, resourceRefOf } from "../graph/keys.ts";
import type { Logger } from "../log/logger.ts";
import type { HostPaths } from "../perf/collector.ts";
import { defaultIo } from "../perf/collectors/common.ts";
import type { HostIo } from "../perf/io.ts";
import { TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { type Resource, type ResourceRef, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import type { Component } from "../runtime/component.ts";
import type { Relationship, Store, StoreEvent, StoreOp, Subscription } from "../store/types.ts";
import { errorMessage } from "../util/errors.ts";
import {
  CONTAINER_TYPE,
  edgeInputsKey,
  onlyStateFlapped,
  PROCESS_TYPE,
  planRuntimeGraph,
  RUNTIME_PACKAGE,
  RUNTIME_PREDICATES,
  type RuntimeGraphInput,
} from "./build.ts";
import { readRootCpuset } from "./cgroup.ts";
import { ContainerDiscovery, type ContainerInfo } from "./discover.ts";
import { LiveScheduler } from "./live.ts";
import { metadataReader } from "./metadata.ts";
import { leftOutGauge, scanSeconds, scans, size, writes } from "./metrics.ts";
import { ContainerCgroupIds, containerOfCgroup, type OomKillEvent, type OomKillEvents, OomRecords } from "./oom.ts";
import { HostPods } from "./pods.ts";
import { applyPolicy, containerMatcher, DEFAULT_PROCESS_POLICY, ProcessLister, type ProcessPolicy } from "./processes.ts";

/** A live source of process exits and execs (the procexit eBPF program); the runtime graph does not depend on eBPF itself. */
export interface LiveProcessEvents {
  start(onEvents: (events: { kind: "exit" | "exec"; pid: number }[]) => void): Promise<void>;
  stop(): Promise<void>;
}
const SYSTEM_NODE_TYPE = "antimetal.hardware.v1.SystemNode";

export interface RuntimeGraphOptions {
  store: Store;
  paths: HostPaths;
  /** --containers-update-interval in ms (default 30 s). */
  intervalMs: number;
  /** The host's SystemNode name (the hardware graph's). */
  systemName: () => Promise<string>;
  logger: Logger;
  policy?: ProcessPolicy;
  /** The Kubernetes cluster name once known: lets a container link to its Pod by CRI's pod name when the Pod is not in this store. */
  kubeCluster?: () => string | undefined;
  io?: HostIo;
  /** Exit and exec events: the graph follows them within a second instead of at the next interval. */
  liveEvents?: LiveProcessEvents;
  /** OOM kills (the oomkill eBPF program): each is recorded on its container's node (count, last kill) within a second. */
  oomKills?: OomKillEvents;
}

export interface ScanResult {
  containers: number;
  processes: number;
  relationships: number;
  upserted: number;
  deleted: number;
  relationshipsAdded: number;
  relationshipsDeleted: number;
  leftOut: Record<string, number>;
}

export interface RuntimeGraphComponent extends Component {
  /** One scan now (serialised with the timer's). */
  refresh(): Promise<ScanResult>;
}

const OPS_PER_TX = 16;

const SCAN_DEADLINE_MS = 30_000;
const REL_BATCH = 256;

/** What the component last wrote: nodes by path (refPath) with the signature they were built from, relationships by relationshipKey. */
interface Written {
  /** `stored`: loaded from the store, not yet compared (no signature). */
  nodes: Map<string, { ref: ResourceRef; sig?: string; stored?: Resource }>;
  edges: Map<string, Relationship>;
  /** edgeInputsKey of the scan that wrote `edges` (none when loaded from the store). */
  edgesKey?: string;
}

export function createRuntimeGraphComponent(opts: RuntimeGraphOptions): RuntimeGraphComponent {
  const log = opts.logger;
  const io = (opts.io ?? defaultIo(opts.paths)).forOwner("runtime_graph", { nativeFirst: true });
  const hostRoot = (opts.paths.root ?? "").replace(/\/+$/, "");
  const discovery = new ContainerDiscovery(io, opts.paths.sys, hostRoot, metadataReader(io, hostRoot));
  const lister = new ProcessLister(io, opts.paths.proc);
  const policy = opts.policy ?? DEFAULT_PROCESS_POLICY;
  const intervalMs = opts.intervalMs > 0 ? opts.intervalMs : 30_000;
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sub: Subscription | undefined;
  let ready = false;
  let stopped = false;
  let chain: Promise<unknown> = Promise.resolve();
  /** What this component wrote last (undefined until loaded from the store at the first scan). */
  let written: Written | undefined;
  /** Bumped whenever the store drops relationships of ours behind the scan's back (a Pod or the SystemNode deleted). */
  let droppedGen = 0;
  const dropWritten = () => {
    written = undefined;
    droppedGen++;
  };
  const ooms = new OomRecords();
  /** The containers of the last scan, for finding an OOM kill's container by its cgroup. */
  let lastContainers: ContainerInfo[] = [];
  /** The containers' cgroup ids, for OOM kills whose victim was reaped before its cgroup path was read. */
  const cgroupIds = new ContainerCgroupIds();

  const load = (): Written => {
    const nodes: Written["nodes"] = new Map();
    for (const r of opts.store.listResources([create(TypeDescriptorSchema, { type: RUNTIME_PACKAGE })])) {
      if (r.metadata) r.metadata.createdAt = r.metadata.updatedAt = r.metadata.deletedAt = undefined;
      const ref = resourceRefOf(r);
      nodes.set(refPath(ref), { ref, stored: r });
      if (r.type?.type === CONTAINER_TYPE && r.metadata) ooms.seed(r.metadata.name, r.metadata.tags);
    }
    const edges = new Map<string, Relationship>();
    for (const p of RUNTIME_PREDICATES) for (const r of opts.store.findRelationships({ predicate: p })) edges.set(relationshipKey(r), r);
    return { nodes, edges };
  };

  /**
   * A Pod of one of this host's containers was stored: link it now rather than at the next scan. A Pod
   * linked to was deleted: the store dropped our relationships to it, so diff against the store next time.
   */
  const hostPods = new HostPods(
    opts.store,
    () => opts.kubeCluster?.(),
    (change) => {
      if (change.unlinked) dropWritten();
      if (change.relink) queueRescan("a Pod event");
    },
    (e) => log.debug({ err: errorMessage(e) }, "runtime graph: a Pod event that is not a Resource"),
  );

  const doScan = async (): Promise<ScanResult> => {
    const t0 = performance.now();
    const gen = droppedGen;
    // One scan has SCAN_DEADLINE_MS: a hung cgroup or runtime-state read fails the scan, never the agent (the next one retries).
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(SCAN_DEADLINE_MS)]);
    const [systemName, found] = await Promise.all([opts.systemName(), discovery.scan(signal)]);
    const [{ processes, kernelThreads }, rootCpuset] = await Promise.all([
      lister.list(containerMatcher(found.containers, found.version, found.subsystem), signal),
      readRootCpuset(io, found.root, found.version, signal),
    ]);
    // Without the runtime's own start time, a container started when its first process did.
    const firstStart = new Map<string, number>();
    for (const p of processes) if (p.container && !(firstStart.get(p.container)! <= p.startMs)) firstStart.set(p.container, p.startMs);
    for (const c of found.containers) if (!c.startedMs) c.startedMs = firstStart.get(c.id) ?? 0;
    const { kept, leftOut } = applyPolicy(processes, policy, Date.now());
    const before = (written ??= load()); // before planning: loading reads back the OOM kills stored on container nodes
    const input: RuntimeGraphInput = {
      systemName,
      containers: found.containers,
      processes: kept,
      rootCpuset,
      podRef: hostPods.lookup(found.containers),
      oomOf: (id) => ooms.get(id),
    };
    // Relationships derive only from what edgeInputsKey covers: when that is what was written, they are too.
    const edgesKey = edgeInputsKey(input);
    const sameEdges = before.edgesKey === edgesKey;
    const plan = planRuntimeGraph({ ...input, skipEdges: sameEdges });
    lastContainers = found.containers;
    if (opts.oomKills) cgroupIds.update(found.root, found.containers);
    ooms.retain(new Set(found.containers.map((c) => c.id)), Date.now());
    for (const w of plan.warnings) log.warn({ warning: w }, "runtime graph: affinity left out");

    const nodes: Written["nodes"] = new Map();
    const upserts: Resource[] = [];
    for (const [path, n] of plan.nodes) {
      const old = before.nodes.get(path);
      if (old && old.sig === n.sig) {
        nodes.set(path, old);
        continue;
      }
      const r = n.build();
      // Loaded from the store (no signature yet): compare the messages once.
      if (old?.stored && (equals(ResourceSchema, old.stored, r) || (n.type === PROCESS_TYPE && onlyStateFlapped(old.stored, r)))) {
        nodes.set(path, { ref: old.ref, sig: n.sig });
        continue;
      }
      upserts.push(r);
      nodes.set(path, { ref: old?.ref ?? resourceRefOf(r), sig: n.sig });
    }
    const deletes = [...before.nodes.entries()].filter(([path]) => !plan.nodes.has(path));
    const deleted = new Set(deletes.map(([path]) => path));
    const relDeletes = sameEdges
      ? []
      : [...before.edges.entries()]
          .filter(([k, r]) => !plan.edges.has(k) && !deleted.has(refPath(r.subject)) && !deleted.has(refPath(r.object)))
          .map(([, r]) => r);
    const relAdds: Relationship[] = [];
    const added = new Map<string, Relationship>();
    for (const [k, e] of plan.edges)
      if (!before.edges.has(k)) {
        const r = e.build();
        relAdds.push(r);
        added.set(k, r);
      }
    // Unchanged relationships (a steady scan): keep the map as it is rather than copy thousands of entries.
    let edges = before.edges;
    if (!sameEdges && (relAdds.length || edges.size !== plan.edges.size)) {
      edges = new Map();
      for (const k of plan.edges.keys()) edges.set(k, before.edges.get(k) ?? added.get(k)!);
    }
    // Before the write yields: an event about a pid being written now must count as one with a node.
    live.nodePids = new Set(kept.map((p) => p.pid));
    const ops: StoreOp[] = [];
    for (const r of upserts) ops.push({ op: "update", resource: r });
    if (relDeletes.length) ops.push({ op: "deleteRelationships", relationships: relDeletes });
    for (const [, n] of deletes) ops.push({ op: "delete", ref: n.ref });
    for (let i = 0; i < relAdds.length; i += REL_BATCH)
      ops.push({ op: "addRelationships", relationships: relAdds.slice(i, i + REL_BATCH) });
    try {
      if (ops.length) await opts.store.applyAsync(ops, { chunkSize: OPS_PER_TX });
    } catch (e) {
      written = undefined; // some chunks may have committed: diff against the store next time
      throw e;
    }
    // A delete during the write may have dropped what this scan just wrote: then diff against the store next time.
    written = gen === droppedGen ? { nodes, edges, edgesKey } : undefined;

    if (upserts.length) writes.inc({ op: "upsert" }, upserts.length);
    if (deletes.length) writes.inc({ op: "delete" }, deletes.length);
    if (relAdds.length) writes.inc({ op: "relationship_add" }, relAdds.length);
    if (relDeletes.length) writes.inc({ op: "relationship_delete" }, relDeletes.length);
    const allLeftOut = { kernel_thread: kernelThreads, ...leftOut };
    for (const [reason, n] of Object.entries(allLeftOut)) leftOutGauge.set({ reason }, n);
    size.set({ entity: "containers" }, found.containers.length);
    size.set({ entity: "processes" }, kept.length);
    size.set({ entity: "relationships" }, edges.size);
    scanSeconds.set((performance.now() - t0) / 1000);
    scans.inc({ result: "ok" });
    return {
      containers: found.containers.length,
      processes: kept.length,
      relationships: edges.size,
      upserted: upserts.length,
      deleted: deletes.length,
      relationshipsAdded: relAdds.length,
      relationshipsDeleted: relDeletes.length,
      leftOut: allLeftOut,
    };
  };

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  };
  const refresh = () =>
    serial(async () => {
      try {
        return await doScan();
      } catch (e) {
        scans.inc({ result: "error" });
        throw e;
      }
    });

  /** The SystemNode deleted: the store dropped our relationships to it, so diff against the store next time. */
  const onSystemNodeEvent = (ev: StoreEvent) => {
    if (ev.type === "DELETE") dropWritten();
  };
  /** A scan from a later task (store handlers run inside its commit path), coalesced. */
  let rescanQueued = false;
  const queueRescan = (reason: string) => {
    if (rescanQueued || stopped) return;
    rescanQueued = true;
    setTimeout(() => {
      rescanQueued = false;
      if (!stopped) void refresh().catch((e) => log.warn({ err: errorMessage(e) }, `runtime graph rescan after ${reason} failed`));
    }, 0);
  };
  /** An OOM kill: recorded on its container, written by the next scan. */
  const onOomKill = (k: OomKillEvent) => {
    const id = containerOfCgroup(k.cgroup, lastContainers) ?? (k.cgroupIds ? cgroupIds.containerOf(k.cgroupIds) : undefined);
    if (!id) return log.debug({ pid: k.pid, cgroup: k.cgroup }, "runtime graph: an OOM kill outside any container");
    ooms.record(id, k);
    queueRescan("an OOM kill");
  };

  const live = new LiveScheduler({
    minAgeMs: policy.minAgeMs,
    procRoot: opts.paths.proc,
    io,
    scan: () => refresh(),
    invalidate: (pid) => lister.invalidate(pid),
    logger: log,
  });
  let liveOn = false;
  let oomOn = false;

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      refresh()
        .then((r) => log.debug({ ...r }, "runtime graph scanned"))
        .catch((e) => log.error({ err: errorMessage(e) }, "runtime graph scan failed"))
        .finally(schedule);
    }, intervalMs);
    timer.unref?.();
  };

  return {
    name: "runtime-graph",
    required: false,
    async start() {
      const first = refresh().then(
        (r) => log.info({ ...r }, "runtime graph published"),
        (e) => log.error({ err: errorMessage(e) }, "initial runtime graph scan failed"),
      );
      let waited: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([first, new Promise<void>((resolve) => (waited = setTimeout(resolve, 10_000)))]);
      clearTimeout(waited);
      if (opts.liveEvents)
        await opts.liveEvents
          .start((events) => live.onEvents(events))
          .then(
            () => {
              liveOn = true;
              log.info("runtime graph follows process exits and execs live (eBPF)");
            },
            (e) => log.info({ reason: errorMessage(e) }, "runtime graph live updates off: scanning every interval only"),
          );
      if (opts.oomKills)
        await opts.oomKills.start(onOomKill).then(
          () => {
            oomOn = true;
          },
          (e) => log.info({ reason: errorMessage(e) }, "runtime graph: OOM kills not recorded on containers"),
        );
      sub ??= opts.store.subscribe([create(TypeDescriptorSchema, { type: SYSTEM_NODE_TYPE })], onSystemNodeEvent);
      ready = true;
      schedule();
    },
    async stop(deadline: AbortSignal) {
      stopped = true;
      if (timer) clearTimeout(timer);
      live.stop();
      if (liveOn) await opts.liveEvents?.stop().catch((e) => log.warn({ err: errorMessage(e) }, "stopping live process events failed"));
      if (oomOn) await opts.oomKills?.stop().catch((e) => log.warn({ err: errorMessage(e) }, "stopping OOM kill events failed"));
      sub?.close();
      hostPods.close();
      abort.abort();
      await Promise.race([chain, new Promise<void>((resolve) => deadline.addEventListener("abort", () => resolve(), { once: true }))]);
    },
    isReady: () => ready,
    refresh,
  };
}
