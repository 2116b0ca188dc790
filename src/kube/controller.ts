// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The Kubernetes controller component: leader election, then (as leader) the Cluster resource and
 * one reflector per kind feeding the graph reconciler. Nodes list first so pods get their node's
 * region/zone on first write. Non-leaders only campaign; every agent keeps its host collectors.
 */

import { create } from "@bufbuild/protobuf";
import type { Logger } from "../log/logger.ts";
import { TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import type { Component } from "../runtime/component.ts";
import type { Store } from "../store/types.ts";
import { Backoff, type BackoffOptions } from "../util/backoff.ts";
import { errorMessage } from "../util/errors.ts";
import { sleep } from "../util/sleep.ts";
import { KubeApiError, KubeClient } from "./client/client.ts";
import { detectKubeConfig, type KubeConfig } from "./client/config.ts";
import { CLUSTER_TYPE, clusterResource, RESOURCE_KIND } from "./graph/convert.ts";
import { GraphReconciler } from "./graph/reconciler.ts";
import { KINDS, type KindSpec } from "./kinds.ts";
import { DEFAULT_LEASE_NAME, LeaderElector } from "./leader.ts";
import { ListSlots } from "./list-slots.ts";
import { kubeMetrics } from "./metrics.ts";
import { type ClusterInfo, detectCluster, type ProviderOptions } from "./providers/index.ts";

/** Retries of the first /version call: 500 ms doubling to 30 s, no jitter (one call per agent). */
const VERSION_BACKOFF: BackoffOptions = { initialMs: 500, multiplier: 2, maxMs: 30_000, jitter: 0 };
/** How long after the initial sync its garbage is collected (after the readiness probes that the sync turned green). */
const POST_SYNC_GC_DELAY_MS = 250;
/** Objects written between collections during the initial sync (see countGarbage). */
const SYNC_GC_EVERY = 250;
/** LIST requests in flight at once across all kinds (see list-slots.ts). */
const LIST_CONCURRENCY = 4;
/** The longest the first WATCHes wait for every kind's initial LIST (a slow kind does not hold the others' watches). */
const FIRST_WATCH_WAIT_MS = 2000;

import * as fs from "node:fs";
import { SA_DIR } from "./client/config.ts";
import { Reflector, type ReflectorEvent } from "./reflector.ts";

export interface KubeControllerOptions {
  /** --kubeconfig; empty = in-cluster, then $KUBECONFIG, then ~/.kube/config. */
  kubeconfig?: string;
  /** A config already resolved (detectKubeConfig), instead of kubeconfig. */
  config?: KubeConfig;
  store: Store;
  logger: Logger;
  /** NODE_NAME: this agent's node (provider detection reads its providerID/labels first). */
  nodeName?: string;
  /** --kubernetes-provider: eks, gke, aks, kind, generic; empty = auto-detect. */
  provider?: string;
  providerOptions?: Omit<ProviderOptions, "client" | "logger" | "provider" | "nodeName">;
  /** --leader-elect (default true). When false this agent always acts as leader. */
  leaderElect: boolean;
  /** Lease namespace; default: the ServiceAccount namespace, the kubeconfig context's, else "default". */
  namespace?: string;
  leaseName?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  identity?: string;
  /** Kinds to watch (default: all of KINDS). */
  kinds?: ReadonlyArray<KindSpec>;
  /** Per-kind cache budget in bytes. */
  budgetBytes?: number;
  watchTimeoutSeconds?: number;
  /**
   * Most objects written in one store transaction (default 64). Reflector batches (up to 256
   * objects, ~8 relationships per pod) are split and the event loop runs between the pieces: a
   * 256-pod transaction blocked it for ~100-160 ms (bench/kube).
   */
  writeChunk?: number;
  /** Objects written after the initial sync between full collections (default 5000; see countGarbage). */
  watchGcEvery?: number;
  /** Called whenever leadership changes (the intake uploads the "cluster" channel only while true). */
  onLeaderChange?: (leading: boolean) => void;
  /** Called once the cluster's name and provider are known (the host graph links to its Node then). */
  onClusterIdentified?: (info: ClusterInfo) => void;
}

export interface KubeController extends Component {
  isLeader(): boolean;
  leader(): { identity: string; term: number };
  cluster(): ClusterInfo | undefined;
  /** Resolves once every kind has listed and the graph holds it (leader only). */
  synced(): Promise<void>;
  /**
   * A full collection is scheduled and has not run yet (after the initial sync, after relists, and
   * after every watchGcEvery watch events). What starts after readiness waits for it, so its own
   * start-up memory (the runtime graph's eBPF loads) does not come on top of the sync's garbage.
   */
  collectionPending(): boolean;
  readonly identity: string;
}

function leaseNamespace(opts: KubeControllerOptions, cfg: KubeConfig): string {
  if (opts.namespace) return opts.namespace;
  try {
    const ns = fs.readFileSync(`${SA_DIR}/namespace`, "utf8").trim();
    if (ns) return ns;
  } catch {
    // not in a pod
  }
  return cfg.namespace ?? "default";
}

export function createKubeController(opts: KubeControllerOptions): KubeController {
  const log = opts.logger.child({ component: "kube" });
  const kinds = opts.kinds ?? KINDS;
  let client: KubeClient | undefined;
  let elector: LeaderElector | undefined;
  let reflectors: Reflector[] = [];
  let reconciler: GraphReconciler | undefined;
  let info: ClusterInfo | undefined;
  let leading = false;
  let ready = false;
  let started = false;
  let session: Promise<void> | undefined;
  let sessionAbort = new AbortController();
  let syncedResolve!: () => void;
  let syncedPromise = new Promise<void>((r) => (syncedResolve = r));
  const identity = opts.identity ?? `${(opts.nodeName || process.env.HOSTNAME || "agent").slice(0, 200)}_${crypto.randomUUID()}`;

  const chunk = Math.max(1, opts.writeChunk ?? 64);
  const sink = {
    push: async (events: ReflectorEvent[]) => {
      // one transaction per piece (the reconciler's state is complete after each apply, so pieces
      // are the same as smaller reflector batches); other reflectors, the HTTP server and the
      // intake run between pieces
      for (let i = 0; i < events.length; i += chunk) {
        reconciler!.apply(events.length <= chunk ? events : events.slice(i, i + chunk));
        await new Promise<void>((r) => setImmediate(r));
      }
      countGarbage(events.length);
    },
  };

  // Written objects leave garbage (pages, per-object views, Resource messages and their encodings)
  // faster than the collector's own schedule takes it, so the controller collects by count of
  // objects since the last full collection:
  // - during the initial sync, every SYNC_GC_EVERY at once: at 10k pods the heap grew to ~70 MiB
  //   live-at-the-time plus ~35 MiB of page buffers before the post-sync collection (every 1000:
  //   peak 184 -> 155 MiB for the same CPU; every 250, in effect after each LIST page of 500:
  //   121 -> 107 MiB for +0.3 CPU-s; docs/performance.md); an asynchronous one did not lower it;
  // - after it, every watchGcEvery (default 5000) a second later: a burst of watch events (10k Pods
  //   created in 8 s) otherwise left the agent at 102-103 MiB (max 123) for the next minute, with
  //   it 97-99 (max 108-110). At 100 PATCH/s that is one collection every 50 s.
  const watchGcEvery = opts.watchGcEvery ?? 5000;
  let sinceGc = 0;
  function countGarbage(objects: number): void {
    sinceGc += objects;
    if (sinceGc < (ready ? watchGcEvery : SYNC_GC_EVERY)) return;
    if (ready) {
      collectSoon(1000); // resets sinceGc when it runs
    } else {
      sinceGc = 0;
      Bun.gc(true);
    }
  }

  // A LIST's transient garbage (pages, per-object views, Resource messages and their encodings)
  // would otherwise sit in the heap and allocator pages until the next collection: one full
  // collection after the initial sync and after each relist (debounced,
  // since after an apiserver restart every kind relists) hands it back.
  let gcTimer: ReturnType<typeof setTimeout> | undefined;
  /** Lets the reflectors' first WATCHes start (once every kind has listed). */
  let openWatches: () => void = () => undefined;
  function collectSoon(delayMs: number): void {
    if (gcTimer) return;
    gcTimer = setTimeout(() => {
      gcTimer = undefined;
      sinceGc = 0;
      const t = performance.now();
      Bun.gc(true);
      log.debug({ ms: Math.round(performance.now() - t) }, "collected");
    }, delayMs);
    gcTimer.unref?.();
  }

  async function lead(signal: AbortSignal): Promise<void> {
    const t0 = performance.now();
    const c = client!;
    let version: { major: string; minor: string } = { major: "", minor: "" };
    const versionBackoff = new Backoff(VERSION_BACKOFF);
    while (!signal.aborted) {
      try {
        version = await c.getJSON<{ major: string; minor: string }>("/version", signal);
        break;
      } catch (err) {
        log.warn({ err: errorMessage(err) }, "apiserver /version failed; retrying");
        await sleep(versionBackoff.next(), signal);
      }
    }
    if (signal.aborted) return;
    info ??= await detectCluster({ ...opts.providerOptions, client: c, logger: log, provider: opts.provider, nodeName: opts.nodeName });
    log.info(
      { cluster: info.clusterName, provider: info.provider, region: info.region, version: `${version.major}.${version.minor}` },
      "cluster identified",
    );
    opts.onClusterIdentified?.(info);
    const storeHadCluster =
      opts.store.listResources([create(TypeDescriptorSchema, { kind: RESOURCE_KIND, type: CLUSTER_TYPE })]).length > 0;
    opts.store.updateResource(
      clusterResource(info.clusterName, info.region, info.provider, version.major, version.minor.replace(/\D+$/, "")),
    );
    if (!reconciler) {
      reconciler = new GraphReconciler(opts.store, info.clusterName, log);
      const listSlots = new ListSlots(LIST_CONCURRENCY);
      const firstWatchAfter = new Promise<void>((r) => {
        openWatches = r;
        setTimeout(r, FIRST_WATCH_WAIT_MS).unref?.();
      });
      reflectors = kinds.map(
        (spec) =>
          new Reflector({
            client: c,
            spec,
            sink,
            logger: log,
            budgetBytes: opts.budgetBytes,
            watchTimeoutSeconds: opts.watchTimeoutSeconds,
            onListed: (initial) => {
              if (!initial) collectSoon(1000);
            },
            listSlots,
            firstWatchAfter,
          }),
      );
    }
    // nodes first: pods then carry their node's region/zone from the first write
    const nodes = reflectors.filter((r) => r.kind === "Node");
    for (const r of nodes) r.start();
    await Promise.race([Promise.all(nodes.map((r) => r.synced)), aborted(signal)]);
    for (const r of reflectors) r.start();
    await Promise.race([Promise.all(reflectors.map((r) => r.synced)), aborted(signal)]);
    openWatches();
    if (signal.aborted) return;
    if (storeHadCluster) {
      const swept = reconciler.sweep(kinds);
      if (swept.resources || swept.relationships) log.info(swept, "removed state left from an earlier run");
    }
    kubeMetrics.syncSeconds.set((performance.now() - t0) / 1000);
    log.info(
      { objects: reconciler.objectCount(), relationshipPairs: reconciler.pairCount(), ms: Math.round(performance.now() - t0) },
      "initial sync done",
    );
    ready = true;
    syncedResolve();
    // not at once: a full collection blocks the event loop (15 ms on an empty cluster), and the
    // first /readyz that the sync just made true would wait behind it
    collectSoon(POST_SYNC_GC_DELAY_MS);
  }

  /** Leadership transitions run one after another (a lost-then-regained lease must not interleave). */
  let transitions: Promise<void> = Promise.resolve();

  function startLeading(): void {
    leading = true;
    opts.onLeaderChange?.(true);
    const abort = new AbortController();
    sessionAbort = abort;
    transitions = transitions.then(() => {
      if (abort.signal.aborted) return;
      session = lead(abort.signal).catch((err) => log.error({ err: String(err) }, "kube controller failed"));
    });
  }

  function stopLeading(): Promise<void> {
    leading = false;
    opts.onLeaderChange?.(false);
    sessionAbort.abort();
    transitions = transitions.then(async () => {
      await session;
      await Promise.all(reflectors.map((r) => r.stop()));
      ready = false;
      syncedPromise = new Promise<void>((r) => (syncedResolve = r));
    });
    return transitions;
  }

  return {
    name: "kube-controller",
    required: false,
    identity,
    isLeader: () => leading,
    leader: () => elector?.leader() ?? { identity: leading ? identity : "", term: 0 },
    cluster: () => info,
    synced: () => syncedPromise,
    collectionPending: () => gcTimer !== undefined,
    async start() {
      let cfg = opts.config;
      if (!cfg) {
        const d = await detectKubeConfig({ kubeconfig: opts.kubeconfig });
        if (!d.config) throw new Error(`no Kubernetes configuration: ${d.reason}`);
        cfg = d.config;
      }
      client = new KubeClient(cfg);
      log.info({ server: cfg.server, source: cfg.source, leaderElect: opts.leaderElect }, "kube controller starting");
      started = true;
      if (!opts.leaderElect) {
        startLeading();
        return;
      }
      elector = new LeaderElector({
        client,
        namespace: leaseNamespace(opts, cfg),
        name: opts.leaseName ?? DEFAULT_LEASE_NAME,
        identity,
        leaseDurationMs: opts.leaseDurationMs,
        renewDeadlineMs: opts.renewDeadlineMs,
        retryPeriodMs: opts.retryPeriodMs,
        logger: log,
        onStartedLeading: startLeading,
        onStoppedLeading: () => void stopLeading(),
        onNewLeader: (id) => log.info({ leader: id }, "leader observed"),
      });
      elector.start();
    },
    async stop(deadline: AbortSignal) {
      const work = (async () => {
        if (leading) await stopLeading();
        await elector?.stop();
      })();
      await Promise.race([work, aborted(deadline)]);
      if (gcTimer) clearTimeout(gcTimer);
      gcTimer = undefined;
      started = false;
    },
    isReady() {
      if (!started) return false;
      // the leader once the graph holds the cluster; a follower once its first election round has
      // finished (before that it may be about to lead with an empty graph)
      if (leading) return ready;
      return elector === undefined || elector.hasCampaigned();
    },
  };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((r) => {
    if (signal.aborted) r();
    else signal.addEventListener("abort", () => r(), { once: true });
  });
}

export { KubeApiError };
