// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The service graph as an agent component: the tcpflow eBPF program feeds ServiceGraph, a
 * KubeIndex follows the store's Pods, Services and Nodes (one subscription: snapshot, then live
 * events), and a timer deletes edges idle for the TTL. Optional: without eBPF privileges it is
 * reported and skipped like execsnoop.
 */

import { create } from "@bufbuild/protobuf";
import { type OomKill, OomkillCollector } from "../ebpf/oomkill.ts";
import { TcpflowCollector, type TcpflowOptions } from "../ebpf/tcpflow.ts";
import type { FlowEvent } from "../ebpf/tcpflow-decode.ts";
import { RESOURCE_KIND } from "../graph/names.ts";
import type { Logger } from "../log/logger.ts";
import { TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import type { Component } from "../runtime/component.ts";
import type { Store, Subscription } from "../store/types.ts";
import { errorMessage } from "../util/errors.ts";
import { ExternalNames } from "./dns-names.ts";
import { type GraphStore, ServiceGraph } from "./graph.ts";
import { INDEXED_TYPES, KubeIndex } from "./k8s-index.ts";
import { registerNetgraphMetrics } from "./metrics.ts";
import { CgroupPodResolver, podUidFromCgroupText, type WorkloadResolver } from "./workload.ts";

export interface NetgraphOptions {
  store: Pick<Store, "subscribe"> & GraphStore;
  nodeName: string;
  /** Edges with no traffic for this long are deleted (ms; --network-graph-ttl, default 10 m). */
  ttlMs: number;
  logger: Logger;
  /** How often idle edges are looked for (default min(ttl/4, 30 s)). */
  sweepMs?: number;
  resolver?: WorkloadResolver;
  /** The host's /proc (--host-proc), where processes' cgroups are read (default /proc). */
  procRoot?: string;
  /** Edges with their own /metrics series (default 100). */
  metricsTopN?: number;
  registerMetrics?: boolean;
  tcpflow?: TcpflowOptions;
  /** Also report OOM kills (oom:mark_victim) with their Pod (default true). */
  oomKills?: boolean;
  /** Told of each OOM kill after it is logged and counted (the runtime graph records it on the victim's container). */
  onOomKill?: (kill: OomKill) => void;
  /** DNS servers for ExternalName Services' names (default the host's resolv.conf; tests point it at their own). */
  dnsServers?: string[];
}

export class NetgraphComponent implements Component {
  readonly name = "netgraph";
  readonly required = false;
  readonly index = new KubeIndex();
  readonly graph: ServiceGraph;
  readonly collector: TcpflowCollector;
  readonly resolver: WorkloadResolver;
  readonly externalNames: ExternalNames;
  private oom: OomkillCollector | undefined;
  private sub: Subscription | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private ready = false;

  constructor(private readonly opts: NetgraphOptions) {
    this.resolver = opts.resolver ?? new CgroupPodResolver({ procRoot: opts.procRoot });
    this.externalNames = new ExternalNames({ names: () => this.index.externalNames(), logger: opts.logger, servers: opts.dnsServers });
    this.graph = new ServiceGraph({
      externalNames: this.externalNames,
      store: opts.store,
      index: this.index,
      resolver: this.resolver,
      nodeName: opts.nodeName,
      ttlMs: opts.ttlMs,
      logger: opts.logger,
    });
    this.collector = new TcpflowCollector({ logger: opts.logger, ...opts.tcpflow });
    if (opts.registerMetrics !== false) registerNetgraphMetrics(this.graph, opts.metricsTopN ?? 100);
  }

  async start(): Promise<void> {
    const filters = INDEXED_TYPES.map((type) => create(TypeDescriptorSchema, { kind: RESOURCE_KIND, type }));
    this.sub = this.opts.store.subscribe(filters, (ev) => {
      try {
        this.index.apply(ev);
        if (this.index.takeExternalNamesTouched()) this.externalNames.namesChanged();
      } catch (e) {
        this.opts.logger.warn({ err: errorMessage(e) }, "netgraph: cannot index a Kubernetes object");
      }
    });
    const adopted = this.graph.adoptStored();
    try {
      await this.collector.start((f: FlowEvent) => this.onFlow(f));
    } catch (e) {
      this.sub.close();
      throw e;
    }
    if (this.opts.oomKills !== false) await this.startOom();
    this.externalNames.start();
    const sweepMs = this.opts.sweepMs ?? Math.min(Math.max(this.opts.ttlMs / 4, 10), 30_000);
    this.timer = setInterval(() => {
      const n = this.graph.sweep();
      if (n > 0) this.opts.logger.debug({ deleted: n }, "netgraph: idle edges deleted");
    }, sweepMs);
    this.ready = true;
    this.opts.logger.info({ ttlMs: this.opts.ttlMs, adopted }, "service graph on");
  }

  /** OOM kills with their Pod (name and namespace from the store's Pods); a failure to attach is logged, not fatal. */
  private async startOom(): Promise<void> {
    const oom = new OomkillCollector({
      logger: this.opts.logger.child({ component: "oomkill" }),
      procRoot: this.opts.procRoot,
      onKill: this.opts.onOomKill,
      cgroupPathOfId: (id, hierarchy) => this.resolver.pathOfId?.(id, hierarchy),
      resolvePod: (pid, cgroupId, cgroupPath) => {
        const uid = this.resolver.podUid(pid, cgroupId) ?? podUidFromCgroupText(`0::${cgroupPath}\n`);
        if (!uid) return undefined;
        const ref = this.index.podByUid(uid)?.ref;
        const namespace = ref?.namespace?.namespace.case === "kube" ? ref.namespace.namespace.value.namespace : undefined;
        return { uid, ...(ref ? { name: ref.name, namespace } : {}) };
      },
    });
    try {
      await oom.start();
      this.oom = oom;
    } catch (e) {
      this.opts.logger.warn({ err: errorMessage(e) }, "OOM kill reporting off: oomkill program not attached");
    }
  }

  private onFlow(f: FlowEvent): void {
    try {
      this.graph.observe(f);
    } catch (e) {
      this.opts.logger.warn({ err: errorMessage(e) }, "netgraph: flow not attributed");
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.externalNames.stop();
    await this.collector.stop();
    await this.oom?.stop();
    this.oom = undefined;
    this.sub?.close();
    this.sub = undefined;
    this.ready = false;
  }

  isReady(): boolean {
    return this.ready;
  }
}

export function createNetgraphComponent(opts: NetgraphOptions): NetgraphComponent {
  return new NetgraphComponent(opts);
}
