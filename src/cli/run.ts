// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `antimetal-agent run`: builds every component from the config and runs them until SIGTERM/SIGINT.

import { readFile } from "node:fs/promises";
import { buildInfo } from "../build-info.ts";
import { ConfigError, redactedView } from "../config/load.ts";
import type { ConfigObjectSource } from "../config/objects/source.ts";
import type { Config } from "../config/schema.ts";
import type { LiveProcessEvents, OomKillEvent, OomKillEvents } from "../containers/index.ts";
import type { OomKill } from "../ebpf/index.ts";
import { withHostGraphChannels } from "../hostgraph/channels.ts";
import type { HostGraphComponent } from "../hostgraph/index.ts";
// The host graph's and host collectors' self metrics, registered with `run` as when the host graph's
// modules loaded with it: /metrics lists the same families from the first scrape.
import "../hostgraph/metrics.ts";
import "../perf/self-metrics.ts";
import type { KubeController } from "../kube/index.ts";
import type { Logger } from "../log/logger.ts";
import { registry } from "../metrics/registry.ts";
import type { ExpositionSource } from "../metrics/scrape-cache.ts";
import { registerSelfMetrics } from "../metrics/self.ts";
import type { ContinuousCollector, HostPaths } from "../perf/collector.ts";
import { stuckReadCalls } from "../perf/io.ts";
import type { CollectorRegistry } from "../perf/registry.ts";
import type { MetricsRouter } from "../perf/router.ts";
import { type BackgroundComponent, type BuiltOnStart, buildOnStart, startInBackground } from "../runtime/background.ts";
import type { Component } from "../runtime/component.ts";
import { jitAtStart } from "../runtime/jit.ts";
import { Lifecycle } from "../runtime/lifecycle.ts";
import { onReloadSignal, onShutdownSignal } from "../runtime/signals.ts";
import { createHttpComponent } from "../server/http.ts";
import { assertOneMetricsMode, type MetricsSecurity, secureMetrics, webConfigMetrics } from "../server/metrics-security.ts";
import { createStoreComponent, defaultClassifier, openStore } from "../store/index.ts";
import { errorMessage } from "../util/errors.ts";
import { stringifyExact } from "../util/json.ts";
import { parseIntervals } from "./collector-control.ts";
import { assertKnownCollectors } from "./collectors-flag.ts";
import { type CommandContext, collectorOptions, hostPaths, nodeName } from "./context.ts";
import { assertApiKeyFileUsable } from "./intake-key.ts";
import { LiveConfig, type LiveTargets } from "./live-config.ts";

/** How long past --shutdown-timeout the process may live if stopping itself hangs (then it exits 1). */
const HARD_EXIT_GRACE_MS = 1000;
/** Budget of the host view's few procfs reads at start. */
const HOST_VIEW_TIMEOUT_MS = 5000;

/**
 * `antimetal-agent run`: builds the components from the configuration, starts them in order
 * (HTTP first, so liveness answers while the rest starts; readiness stays false until every
 * required component runs), and stops them in reverse on SIGTERM/SIGINT within the budget.
 */
export async function runCommand(ctx: CommandContext): Promise<number> {
  const { config, logger } = ctx;
  // SIGHUP reloads and never ends the agent, from the first moment on: one during startup waits for it.
  let live: LiveConfig | undefined;
  let reloadDuringStartup = false;
  onReloadSignal(async () => {
    if (live) await live.reload("SIGHUP");
    else reloadDuringStartup = true;
  });
  // What the option schema cannot check alone, before anything is logged, printed or opened: exit 2.
  validateRunConfig(config);
  if (config.printConfig) {
    ctx.stdout(stringifyExact(redactedView({ config }), 2) + "\n");
    return 0;
  }
  const resolved = ctx.resolved ?? { argv: [], env: {}, origins: {} as never, sources: {} as never };
  live = new LiveConfig({
    loaded: { config, sources: resolved.sources, origins: resolved.origins, positionals: [], help: false },
    argv: resolved.argv,
    env: resolved.env,
    logger,
    validate: validateRunConfig,
  });
  // A bad certificate, key or web config is a startup error (exit 2) naming the file, before anything listens.
  const metricsSecurity = await metricsListenerSecurity(config, logger);
  registerSelfMetrics(buildInfo, Date.now(), (message) => logger.warn(message));
  const jit = jitAtStart();
  logger.info({ version: buildInfo.version, revision: buildInfo.revision, pid: process.pid, jit: jit.tiers }, "starting antimetal-agent");
  if (jit.applied && jit.tiers !== config.jit)
    logger.warn(
      { jit: jit.tiers, requested: config.jit, reason: jit.note ?? "--jit was not read at startup" },
      "JIT tiers differ from --jit",
    );

  let lifecycle: Lifecycle | undefined;
  // Host metrics join the self metrics on /metrics once the collectors are built.
  const metricSources: ExpositionSource[] = [];
  const http = createHttpComponent({
    probeAddress: config.healthProbeBindAddress,
    metricsAddress: config.metricsBindAddress,
    pprofAddress: config.pprofAddress,
    readiness: () => lifecycle?.readiness() ?? { ready: false, reasons: ["starting"] },
    registry,
    sources: metricSources,
    logger,
    configView: () => live!.view(),
    metricsSecurity,
  });
  let rest: Component[];
  const targets: LiveTargets = {};
  try {
    rest = await buildComponents(ctx, targets, metricSources, () => lifecycle?.readiness().ready ?? false);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    logger.error({ err: errorMessage(e) }, "agent failed to start");
    return 1;
  }
  const components: Component[] = [http, ...rest];
  lifecycle = new Lifecycle(components, logger);
  live.setTargets(targets);

  const stopped = new Promise<number>((resolve) => {
    onShutdownSignal(async (signal) => {
      logger.info({ signal, budgetMs: config.shutdownTimeout }, "shutting down");
      live!.stop();
      const pending = () => ({ components: lifecycle!.unstopped(), stuckReads: stuckReadCalls() });
      // backstop: if stopping itself does not return (a stop that ignores its deadline), exit anyway
      const hardExit = setTimeout(() => {
        logger.error({ budgetMs: config.shutdownTimeout, ...pending() }, "shutdown budget exhausted; exiting now");
        process.exit(1);
      }, config.shutdownTimeout + HARD_EXIT_GRACE_MS);
      hardExit.unref();
      const clean = await lifecycle!.stop(config.shutdownTimeout);
      clearTimeout(hardExit);
      if (!clean)
        logger.error({ budgetMs: config.shutdownTimeout, ...pending() }, "shutdown budget exhausted; exiting with these still pending");
      logger.info({ clean }, "stopped");
      resolve(clean ? 0 : 1);
    });
  });

  try {
    await lifecycle.start();
  } catch (e) {
    logger.error({ err: errorMessage(e) }, "agent failed to start");
    return 1;
  }
  live.watchFile();
  logger.info({ ports: http.ports() }, "agent running");
  if (reloadDuringStartup) void live.reload("SIGHUP");
  return stopped;
}

/** Everything but HTTP, in start order: store, collectors, eBPF, host graph, Kubernetes, intake. */
async function buildComponents(
  ctx: CommandContext,
  targets: LiveTargets,
  metricSources: ExpositionSource[],
  /** Whether the agent is ready (/readyz): components that start after it wait for this. */
  agentReady: () => boolean,
): Promise<Component[]> {
  const { config, logger } = ctx;
  const paths = hostPaths(config);
  const node = nodeName(config);
  const components: Component[] = [];
  /** Components that start after readiness: startup is over once each has. */
  const background: BackgroundComponent[] = [];
  const inBackground = (c: Component, after: () => boolean) => {
    const b = startInBackground(c, logger, { after });
    background.push(b);
    return b;
  };

  const store = openStore({
    dataDirectory: config.dataDirectory,
    logger,
    classify: withHostGraphChannels(defaultClassifier),
    // 4 MiB of SQLite page cache: the 16 MiB default filled up during a 5k-pod sync and was
    // ~15 MiB of the agent's RSS, with no measurable throughput gain (docs/kubernetes.md).
    cacheKiB: 4096,
    // Without an uploader nothing drains the outbox: record none (an intake resyncs from the tables when it starts).
    outboxChannels: config.intakeAddress !== "" && (config.intakeApiKey !== "" || config.intakeApiKeyFile !== "") ? undefined : [],
  });
  components.push(createStoreComponent(store));

  if (config.enablePerformanceCollectors) {
    // loaded only here: an agent without host metrics neither loads nor initialises them (docs/performance.md)
    const perf = await import("./run-perf-modules.ts");
    const { defaultRegistry, MetricsRouter, detectHostView, defaultIo, PrometheusExposition, leftOutByView, hostViewExposition } = perf;
    const { CollectorControl, CollectorScheduler } = perf;
    const buildRegistry = (c: Pick<Config, "topProcessCount" | "tcpStates" | "filesystemMountExclude" | "udevDataPath">) =>
      defaultRegistry(paths, collectorOptions(c, logger.child({ component: "perf-collectors" })));
    const registry = await buildRegistry(config);
    const router = new MetricsRouter({ logger });
    const view = await detectHostView(defaultIo(paths).forOwner("host_view"), paths, AbortSignal.timeout(HOST_VIEW_TIMEOUT_MS));
    if (view.network === "pod" || view.mounts === "pod")
      logger.warn(
        { network: view.network, networkReason: view.networkReason, mounts: view.mounts, mountsReason: view.mountsReason },
        "only the pod's own namespaces are visible: their node_* network and filesystem families are left out (docs/metrics.md)",
      );
    const exposition = await PrometheusExposition.create(paths, {
      logger: logger.child({ component: "exposition" }),
      leaveOut: (family) => leftOutByView(view, family),
    });
    router.subscribe(exposition);
    // OTLP and debug consumers: each buffers on its own, started before and stopped after the collectors
    components.push(...(await createConsumers(ctx, router, paths, node)));
    metricSources.push(exposition, { version: 0, render: async () => hostViewExposition(view) });
    const requested = config.collectors;
    // Config objects (fs directory or the config service) start collectors and set intervals at run time.
    const objects = await createConfigObjectSource(config, registry, paths, logger);
    const control = new CollectorControl({
      registry,
      buildRegistry,
      config,
      objects,
      logger: logger.child({ component: "perf-collectors" }),
    });
    // execsnoop runs as its own optional component below, never from the scheduler.
    const scheduler = new CollectorScheduler({
      registry,
      router,
      logger: logger.child({ component: "perf-collectors" }),
      nodeName: node,
      ...control.initialPlan(),
    });
    control.attach(scheduler);
    components.push(scheduler);
    if (objects) components.push(objects);
    targets.collectors = control;
    targets.objects = objects;
    // eBPF (and its libbpf load) only when asked for: it needs privileges a default install lacks.
    if (requested.includes("execsnoop"))
      components.push(execsnoopComponent(await registerExecsnoop(registry, logger, node), router, logger));
  } else {
    logger.info("performance collectors off (--enable-performance-collectors=false)");
    if (config.enableOtel || config.enableDebugConsumer)
      logger.warn("--enable-otel and --enable-debug-consumer need --enable-performance-collectors: no metric events to consume");
  }
  if (config.textfileDirectory !== "") {
    const { TextfileCollector } = await import("./run-perf-modules.ts");
    const textfile = new TextfileCollector({
      directory: config.textfileDirectory,
      intervalMs: config.performanceCollectorInterval,
      logger: logger.child({ component: "textfile" }),
    });
    metricSources.push(textfile);
    components.push(textfile);
  }

  let kube: KubeController | undefined;
  let hostgraph: BuiltOnStart<HostGraphComponent> | undefined;
  // Ready, and the initial sync's garbage collected: at 10k pods the runtime graph's eBPF loads (libbpf
  // parses the kernel's BTF, +11 MiB for a moment) on top of that garbage were the agent's peak.
  const afterSync = () => agentReady() && !kube?.collectionPending();
  if (config.enableHardwareDiscovery) {
    // After the agent is ready, as the runtime graph: its first inventory (~15 CPU-ms) does not hold up
    // /readyz, and its modules (hardware descriptors, collectors) load only then (docs/performance.md).
    hostgraph = buildOnStart("hostgraph", async () =>
      (await import("../hostgraph/index.ts")).createHostGraphComponent({
        store,
        paths,
        intervalMs: config.hardwareUpdateInterval,
        nodeName: node,
        logger: logger.child({ component: "hostgraph" }),
        kubeCluster: () => kube?.cluster()?.clusterName,
      }),
    );
    components.push(inBackground(hostgraph, afterSync));
  }

  // OOM kills on the runtime graph's containers: from the service graph's oomkill program when it is on, else their own.
  const oom = config.enableContainerDiscovery ? oomKillEvents(logger, paths.proc, config.enableNetworkGraph) : undefined;
  if (config.enableNetworkGraph) {
    const { createNetgraphComponent } = await import("../netgraph/index.ts");
    components.push(
      createNetgraphComponent({
        store,
        nodeName: node,
        ttlMs: config.networkGraphTtl,
        procRoot: paths.proc,
        logger: logger.child({ component: "netgraph" }),
        onOomKill: oom?.onKill,
      }),
    );
  }
  if (config.enableContainerDiscovery) {
    // Its self metrics are on /metrics from the start; its modules load when it starts.
    await import("../containers/metrics.ts");
    let systemName: Promise<string> | undefined;
    // After the agent is ready: its first scan and eBPF loads (about 100 ms of the main thread and
    // 25 MiB at start) neither hold up /readyz nor the kube controller's initial LIST, and its first
    // scan finds the Pods already stored to link its containers to. Its modules load then
    // too (docs/performance.md).
    const runtimeGraph = buildOnStart("runtime-graph", async () =>
      (await import("../containers/index.ts")).createRuntimeGraphComponent({
        store,
        paths,
        intervalMs: config.containersUpdateInterval,
        // The hardware graph's SystemNode name, read once (it is the host's identity).
        systemName: () => (systemName ??= import("../hostgraph/facts.ts").then((facts) => facts.readSystemName(paths))),
        logger: logger.child({ component: "runtime-graph" }),
        kubeCluster: () => kube?.cluster()?.clusterName,
        liveEvents: procexitEvents(logger),
        oomKills: oom?.events,
      }),
    );
    components.push(inBackground(runtimeGraph, afterSync));
  } else {
    logger.info("container discovery off (--enable-container-discovery=false)");
  }

  // Kubernetes and gRPC modules load only when used: a standalone agent starts faster without them.
  const kubeMod = config.enableKubernetesController ? await import("../kube/index.ts") : undefined;
  const kubeConfig = await kubeMod?.detectKubeConfig({ kubeconfig: config.kubeconfig || undefined });
  if (!config.enableKubernetesController) {
    logger.info("Kubernetes controller off (--enable-kubernetes-controller=false)");
  } else if (!kubeMod || !kubeConfig?.config) {
    logger.warn({ reason: kubeConfig?.reason }, "Kubernetes controller off: no cluster configuration");
  } else {
    kube = kubeMod.createKubeController({
      config: kubeConfig.config,
      store,
      logger: logger.child({ component: "kube" }),
      nodeName: node,
      provider: config.kubernetesProvider || undefined,
      providerOptions: {
        clusterName: config.clusterName || undefined,
        eks: {
          accountId: config.kubernetesProviderEksAccountId || undefined,
          region: config.kubernetesProviderEksRegion || undefined,
          clusterName: config.kubernetesProviderEksClusterName || undefined,
          autodiscover: config.kubernetesProviderEksAutodiscover,
        },
      },
      leaderElect: config.leaderElect,
      // The host links to its Kubernetes Node once the cluster name is known; do not wait for the next refresh.
      onClusterIdentified: () =>
        void hostgraph
          ?.built()
          ?.relink()
          .catch((e) => logger.warn({ err: errorMessage(e) }, "host graph relink failed")),
    });
    components.push(kube);
  }

  const apiKey = config.intakeApiKey;
  if (config.intakeAddress === "") {
    logger.info('intake upload off (--intake-address "")');
  } else if (apiKey === "" && config.intakeApiKeyFile === "") {
    logger.warn("intake upload off: no API key (--intake-api-key, ANTIMETAL_INTAKE_API_KEY or --intake-api-key-file)");
  } else {
    const { createIntakeComponent } = await import("../intake/index.ts");
    const intake = createIntakeComponent({
      address: config.intakeAddress,
      apiKey: apiKey || undefined,
      apiKeyFile: config.intakeApiKeyFile || undefined,
      secure: config.intakeSecure,
      caFile: config.intakeCaFile || undefined,
      certFile: config.intakeClientCert || undefined,
      keyFile: config.intakeClientKey || undefined,
      maxStreamAge: config.maxStreamAge,
      ackInterval: config.intakeAckInterval,
      outbox: store.outbox,
      logger,
      // Without a cluster view there is nothing on the cluster channel; with one, only the leader sends it.
      isLeader: kube ? () => kube!.isLeader() : () => true,
    });
    components.push(intake);
    targets.intake = intake;
  }
  if (config.releaseStartupPages) {
    const { startupPagesComponent } = await import("../runtime/startup-pages.ts");
    // Once startup is over: ready, the sync collected, the background starts done (at the latest after 5 minutes).
    const startupOver = () => afterSync() && background.every((b) => b.settled());
    const release = startupPagesComponent({ logger: logger.child({ component: "startup-pages" }) });
    components.push(startInBackground(release, logger, { after: startupOver, maxWaitMs: 300_000 }));
  }
  return components;
}

/** Process exit/exec events for the runtime graph; eBPF (and libbpf) load only when the component starts them. */
function procexitEvents(logger: Logger): LiveProcessEvents {
  let tracer: { stop(): Promise<void> } | undefined;
  return {
    async start(onEvents) {
      const { createProcexitTracer } = await import("../ebpf/index.ts");
      const t = createProcexitTracer({ logger: logger.child({ component: "procexit" }) });
      await t.start(onEvents);
      tracer = t;
    },
    stop: async () => tracer?.stop(),
  };
}

/**
 * OOM kills for the runtime graph. With the service graph on, its oomkill program's kills are passed on
 * (`onKill`: one program, one log line and count per kill); otherwise the runtime graph attaches an
 * oomkill program of its own (logged and counted the same, without the Pod label's name).
 */
export function oomKillEvents(
  logger: Logger,
  procRoot: string,
  viaNetgraph: boolean,
): { events: OomKillEvents; onKill: (k: OomKill) => void } {
  let listener: ((k: OomKillEvent) => void) | undefined;
  let own: { stop(): Promise<void> } | undefined;
  const onKill = (k: OomKill) =>
    listener?.({
      timeMs: Date.parse(k.time),
      pid: k.victimPid,
      comm: k.comm,
      cgroup: k.cgroup,
      cgroupIds: { unified: k.victimCgroupId, memory: k.victimMemcgId },
    });
  return {
    onKill,
    events: {
      async start(l) {
        listener = l;
        if (viaNetgraph) return;
        const { OomkillCollector } = await import("../ebpf/index.ts");
        const c = new OomkillCollector({ logger: logger.child({ component: "oomkill" }), procRoot, onKill });
        await c.start();
        own = c;
      },
      async stop() {
        listener = undefined;
        await own?.stop();
        own = undefined;
      },
    },
  };
}

/** Adds execsnoop to the registry (so `check` and the scheduler see one list) and returns its factory. */
async function registerExecsnoop(registry: CollectorRegistry, logger: Logger, node: string): Promise<() => ContinuousCollector> {
  const { createExecsnoopCollector, registerEbpfMetrics } = await import("../ebpf/index.ts");
  const create = () =>
    createExecsnoopCollector({ logger: logger.child({ component: "execsnoop" }), nodeName: node, metrics: registerEbpfMetrics() });
  const probe = create();
  registry.registerExternal({ spec: probe.spec, create });
  return create;
}

/** execsnoop as its own optional component: without privileges it degrades with the reason. */
function execsnoopComponent(create: () => ContinuousCollector, router: MetricsRouter, logger: Logger): Component {
  let collector: ContinuousCollector | undefined;
  return {
    name: "execsnoop",
    required: false,
    async start() {
      collector = create();
      await collector.start((e) => router.publish(e));
      logger.info({ component: "execsnoop" }, "tracing execve");
    },
    async stop() {
      await collector?.stop();
    },
    isReady: () => true,
  };
}

/** The metrics consumers asked for (--enable-otel, --enable-debug-consumer), subscribed to the router. */
async function createConsumers(ctx: CommandContext, router: MetricsRouter, paths: HostPaths, node: string): Promise<Component[]> {
  const { config, logger } = ctx;
  if (!config.enableOtel && !config.enableDebugConsumer) return [];
  const consumers = await import("../consumers/index.ts");
  const out: import("../consumers/index.ts").MetricsConsumer[] = [];
  if (config.enableOtel) {
    const otlp = consumers.otlpConfigFrom(config, buildInfo.version, ctx.resolved?.origins?.otelEndpoint);
    out.push(
      new consumers.OtlpConsumer({
        config: otlp,
        nodeName: node,
        clusterName: config.clusterName,
        bootTimeMs: await bootTimeMs(paths),
        logger: logger.child({ component: "otlp" }),
      }),
    );
  }
  if (config.enableDebugConsumer)
    out.push(
      new consumers.DebugConsumer(
        consumers.debugConfigFrom(config.debugLogLevel, config.debugLogFormat),
        logger.child({ component: "debug-consumer" }),
        config.clusterName,
      ),
    );
  for (const c of out) consumers.subscribeConsumer(router, c);
  return out;
}

/** The host's boot time from <proc>/stat btime (the start of the kernel's counters); now if unreadable. */
async function bootTimeMs(paths: HostPaths): Promise<number> {
  try {
    const m = /^btime (\d+)$/m.exec(await readFile(`${paths.proc}/stat`, "utf8"));
    if (m) return Number(m[1]) * 1000;
  } catch (e) {
    // ENOENT or EACCES on an unusual /proc: counters then start at the agent's start
    if (!(e instanceof Error)) throw e;
  }
  return Date.now();
}

/** What `run` checks beyond the option schema, at start and on every reload (ConfigError: exit 2 at start). */
function validateRunConfig(config: Config): void {
  assertKnownCollectors(config.collectors);
  parseIntervals(config.collectorIntervals);
  assertApiKeyFileUsable(config.intakeApiKeyFile);
  assertOneMetricsMode(config.metricsSecure, config.webConfigFile);
}

/** --metrics-secure (Kubernetes reviews through the project's KubeClient) or --web-config-file; undefined: plain HTTP. */
async function metricsListenerSecurity(config: Config, logger: Logger): Promise<MetricsSecurity | undefined> {
  if (config.webConfigFile !== "") return webConfigMetrics(config.webConfigFile, logger);
  if (!config.metricsSecure) {
    // As the Go agent: the certificate options mean nothing without --metrics-secure (said, not refused).
    if (config.metricsCertDir !== "") logger.warn("--metrics-cert-dir is ignored without --metrics-secure: /metrics is plain HTTP");
    return undefined;
  }
  if (config.metricsBindAddress === "0" || config.metricsBindAddress === "") return undefined;
  const { detectKubeConfig, KubeClient } = await import("../kube/index.ts");
  const detected = await detectKubeConfig({ kubeconfig: config.kubeconfig || undefined });
  if (!detected.config)
    throw new ConfigError(
      `invalid --metrics-secure: no cluster to review tokens with (${detected.reason}); without Kubernetes use --web-config-file`,
    );
  return secureMetrics({
    certDir: config.metricsCertDir,
    certName: config.metricsCertName,
    keyName: config.metricsKeyName,
    client: new KubeClient(detected.config),
    logger,
  });
}

/** The config object loader of --config-loader, or none (off). */
async function createConfigObjectSource(
  config: Config,
  registry: CollectorRegistry,
  paths: HostPaths,
  logger: Logger,
): Promise<ConfigObjectSource | undefined> {
  const collectorStatus = (collector: string) => registry.status(collector as never);
  const log = logger.child({ component: "config-objects" });
  if (config.configLoader === "fs") {
    const { FsConfigLoader } = await import("./run-perf-modules.ts");
    return new FsConfigLoader({
      directory: config.configFsPath,
      rescanIntervalMs: config.configFsRescanInterval,
      collectorStatus,
      logger: log,
    });
  }
  if (config.configLoader === "off") return undefined;
  // The config service's gRPC client loads only when used, like the intake's.
  const { AmsConfigLoader } = await import("../config/objects/ams-loader.ts");
  const { buildInstance, uuidv7 } = await import("../config/objects/instance.ts");
  return new AmsConfigLoader({
    address: config.configAmsAddr,
    secure: config.configAmsSecure,
    caFile: config.configAmsCaFile || undefined,
    apiKey: config.configAmsApiKey,
    maxStreamAgeMs: config.maxStreamAge,
    instance: buildInstance({ id: uuidv7(), build: buildInfo, paths, collectors: registry.available().map((e) => e.spec.type) }),
    collectorStatus,
    logger: log,
  });
}
