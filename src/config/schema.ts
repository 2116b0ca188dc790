// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Every option of every subcommand in one table (flag, env vars, default, help, zod validation), from
// which the CLI parser, --help, --print-config, the YAML config file and the README flag table derive.
// Over 400 lines because it is that declaration table: one entry per option, nothing else.

import { z } from "zod";
import { DEFAULT_JIT_TIERS, JIT_TIERS } from "../runtime/jit.ts";
import {
  absolutePath,
  apiKey,
  bindAddress,
  bool,
  durationIn,
  durationRange,
  goBool,
  intakeAddress,
  list,
  optionalPath,
  otlpTimeout,
  regex,
} from "./validators.ts";

/**
 * Every option of every subcommand, in one place: flag name, environment variables, default, help
 * text and validation. The CLI parser, `--help`, `--print-config`, the YAML config file and the
 * README flag table are all derived from this table.
 */
export type Command = "run" | "collect" | "store" | "check";

export interface OptionSpec<S extends z.ZodType = z.ZodType> {
  flag: string;
  /** Extra environment variable names read before ANTIMETAL_<FLAG> (e.g. NODE_NAME). */
  env?: string[];
  help: string;
  /** Value as written on the command line, in the help text. */
  placeholder: string;
  schema: S;
  /** Raw default, validated by `schema` like any other input. */
  default: unknown;
  commands: readonly Command[];
  /** Redacted in --print-config and logs. */
  secret?: boolean;
  /** A bare `--flag` means true. */
  boolean?: boolean;
  /**
   * An option of one command with a generic name (--format, --type): its environment variable is
   * ANTIMETAL_<COMMAND>_<FLAG>, and the shared config file cannot set it, so a value meant for one
   * command never reaches another.
   */
  scoped?: boolean;
  /** Read from the command line only: no environment variable, no config file entry. */
  flagOnly?: boolean;
  /** `run` applies a new value from a reloaded config file without a restart. */
  live?: boolean;
}

const ALL: readonly Command[] = ["run", "collect", "store", "check"];
const HOST: readonly Command[] = ["run", "collect", "check"];
/** The intake endpoint: `run` uploads to it, `check` probes it. */
const INTAKE: readonly Command[] = ["run", "check"];

/** The collector interval range, shared by --performance-collector-interval and --collector-intervals. */
export const COLLECTOR_INTERVAL_RANGE = ["100ms", "24h"] as const;
const collectorInterval = durationIn(...COLLECTOR_INTERVAL_RANGE);

/** True for options whose value is a duration in milliseconds (printed back as "10m"). */
export function isDurationOption(spec: OptionSpec): boolean {
  return durationRange(spec.schema) !== undefined;
}

export const OPTIONS = {
  config: {
    flag: "config",
    placeholder: "FILE",
    help: "YAML file of options keyed by flag name, an absolute path, at most 1 MiB (precedence: flag > env > file > default)",
    schema: optionalPath,
    default: "",
    commands: ALL,
  },
  logLevel: {
    flag: "log-level",
    placeholder: "LEVEL",
    help: "log level: debug, info, warn or error",
    schema: z.enum(["debug", "info", "warn", "error"]),
    default: "info",
    commands: ALL,
    live: true,
  },
  logFormat: {
    flag: "log-format",
    placeholder: "FORMAT",
    help: "log format: json (one object per line) or text",
    schema: z.enum(["json", "text"]),
    default: "json",
    commands: ALL,
  },
  nodeName: {
    flag: "node-name",
    env: ["NODE_NAME"],
    placeholder: "NAME",
    help: "name of this node (default: the hostname)",
    schema: z.string(),
    default: "",
    commands: ["run", "collect"],
  },
  hostProc: {
    flag: "host-proc",
    env: ["HOST_PROC"],
    placeholder: "DIR",
    help: "host /proc mount",
    schema: absolutePath,
    default: "/proc",
    commands: HOST,
  },
  hostSys: {
    flag: "host-sys",
    env: ["HOST_SYS"],
    placeholder: "DIR",
    help: "host /sys mount",
    schema: absolutePath,
    default: "/sys",
    commands: HOST,
  },
  hostDev: {
    flag: "host-dev",
    env: ["HOST_DEV"],
    placeholder: "DIR",
    help: "host /dev mount",
    schema: absolutePath,
    default: "/dev",
    commands: HOST,
  },
  hostEtc: {
    flag: "host-etc",
    env: ["HOST_ETC"],
    placeholder: "DIR",
    help: "host /etc mount (machine-id)",
    schema: absolutePath,
    default: "/etc",
    commands: HOST,
  },
  hostRoot: {
    flag: "host-root",
    env: ["HOST_ROOT"],
    placeholder: "DIR",
    help: "host / mount (the host's filesystems for statfs, as node_exporter's --path.rootfs); empty: <proc>/1/root when accessible",
    schema: optionalPath,
    default: "",
    commands: HOST,
  },
  hostVar: {
    flag: "host-var",
    env: ["HOST_VAR"],
    placeholder: "DIR",
    help: "host /var mount (dbus machine-id)",
    schema: absolutePath,
    default: "/var",
    commands: HOST,
  },

  collectors: {
    flag: "collectors",
    placeholder: "A,B",
    help: 'collectors to run, comma-separated; "all" (the default) is every one available here, and execsnoop runs only when named (e.g. all,execsnoop)',
    schema: list,
    default: "",
    commands: ["run"],
    live: true,
  },
  collectCollectors: {
    flag: "collectors",
    placeholder: "A,B",
    help: 'collectors to print, comma-separated; "all" (the default) is every point collector available here; execsnoop alone records exec events for --duration, tcpflow alone TCP connections, and any of oomkill, procexit, tcpflow together their records (JSON lines with a program field)',
    schema: list,
    default: "",
    commands: ["collect"],
    scoped: true,
  },
  topProcessCount: {
    flag: "top-process-count",
    placeholder: "N",
    help: "processes the process collector reports, by CPU",
    schema: z.coerce.number().int().positive(),
    default: "20",
    commands: ["run", "collect"],
    live: true,
  },
  tcpStates: {
    flag: "tcp-states",
    placeholder: "HOW",
    help: "how TCP connection states are counted: auto (netlink sock_diag, else /proc/net/tcp*), netlink, proc, off",
    schema: z.enum(["auto", "netlink", "proc", "off"]),
    default: "auto",
    commands: ["run", "collect"],
    live: true,
  },
  filesystemMountExclude: {
    flag: "filesystem-mount-exclude",
    placeholder: "REGEX",
    help: 'mount points the filesystem collector skips ("" = node_exporter\'s default list)',
    schema: regex,
    default: "",
    commands: ["run", "collect"],
    live: true,
  },
  udevDataPath: {
    flag: "udev-data-path",
    placeholder: "DIR",
    help: "udev database the disk collector reads node_disk_info's path, wwn, model, serial and revision from (node_exporter's --path.udev.data; in a container mount the host's /run/udev/data)",
    schema: absolutePath,
    default: "/run/udev/data",
    commands: ["run", "collect"],
  },
  textfileDirectory: {
    flag: "textfile-directory",
    placeholder: "DIR",
    help: 'directory of *.prom files served on /metrics, as node_exporter\'s textfile collector ("" = off; at most 100 files and 8 MiB per pass)',
    schema: optionalPath,
    default: "",
    commands: ["run"],
  },
  format: {
    flag: "format",
    placeholder: "FORMAT",
    help: "output format",
    schema: z.enum(["json"]),
    default: "json",
    commands: ["collect"],
    scoped: true,
  },
  checkFormat: {
    flag: "format",
    placeholder: "FORMAT",
    help: "output format: text or json",
    schema: z.enum(["text", "json"]),
    default: "text",
    commands: ["check"],
    scoped: true,
  },
  duration: {
    flag: "duration",
    placeholder: "DURATION",
    help: "how long streaming collectors (execsnoop) record before printing",
    schema: durationIn("100ms", "24h"),
    default: "5s",
    commands: ["collect"],
    scoped: true,
  },

  dataDirectory: {
    flag: "data-directory",
    placeholder: "DIR",
    help: 'directory of the resource store (<dir>/resource); "" keeps it in memory',
    schema: optionalPath,
    default: "/var/lib/antimetal",
    commands: ["run", "store"],
  },

  metricsBindAddress: {
    flag: "metrics-bind-address",
    placeholder: "ADDR",
    help: "address of the Prometheus /metrics endpoint; 0 disables it",
    schema: bindAddress,
    default: ":8080",
    commands: ["run"],
  },
  healthProbeBindAddress: {
    flag: "health-probe-bind-address",
    placeholder: "ADDR",
    help: "address of /healthz, /livez and /readyz; 0 disables it",
    schema: bindAddress,
    default: ":8081",
    commands: ["run"],
  },
  pprofAddress: {
    flag: "pprof-address",
    placeholder: "ADDR",
    help: "address of /debug/heap (heap snapshot) and /debug/profile (CPU profile); 0 disables it",
    schema: bindAddress,
    default: "0",
    commands: ["run"],
  },
  metricsSecure: {
    flag: "metrics-secure",
    placeholder: "BOOL",
    help: "serve /metrics over HTTPS; every request needs a Kubernetes bearer token allowed to get the /metrics URL (TokenReview + SubjectAccessReview)",
    schema: bool,
    default: false,
    boolean: true,
    commands: ["run"],
  },
  metricsCertDir: {
    flag: "metrics-cert-dir",
    placeholder: "DIR",
    help: 'directory of the /metrics serving certificate and key for --metrics-secure, re-read when they change ("" = a self-signed certificate made at start)',
    schema: optionalPath,
    default: "",
    commands: ["run"],
  },
  metricsCertName: {
    flag: "metrics-cert-name",
    placeholder: "FILE",
    help: 'certificate file (PEM) in --metrics-cert-dir ("" = tls.crt)',
    schema: z.string(),
    default: "",
    commands: ["run"],
  },
  metricsKeyName: {
    flag: "metrics-key-name",
    placeholder: "FILE",
    help: 'private key file (PEM) in --metrics-cert-dir ("" = tls.key)',
    schema: z.string(),
    default: "",
    commands: ["run"],
  },
  webConfigFile: {
    flag: "web-config-file",
    placeholder: "FILE",
    help: "node_exporter web configuration for /metrics without Kubernetes: TLS, client CA, basic auth with bcrypt hashes (docs/metrics-security.md)",
    schema: optionalPath,
    default: "",
    commands: ["run"],
  },
  enableHttp2: {
    flag: "enable-http2",
    placeholder: "BOOL",
    help: "accepted for compatibility; the HTTP endpoints always speak HTTP/1.1",
    schema: bool,
    default: false,
    boolean: true,
    commands: ["run"],
  },
  shutdownTimeout: {
    flag: "shutdown-timeout",
    placeholder: "DURATION",
    help: "budget for a clean stop after SIGTERM/SIGINT (keep it under the pod's grace period)",
    schema: durationIn("1s", "1h"),
    default: "20s",
    commands: ["run"],
  },
  jit: {
    flag: "jit",
    placeholder: "TIERS",
    help: "JavaScriptCore compiler tiers: full (every tier), no-ftl (no FTL: less memory at scale, no CPU cost measured) or baseline (no optimizing tier: ~5 MiB less at idle, ~13% more CPU under load); the flag or ANTIMETAL_RUN_JIT only, applied by restarting the process image at startup; an explicit BUN_JSC_useDFGJIT or BUN_JSC_useFTLJIT wins",
    schema: z.enum(JIT_TIERS),
    default: DEFAULT_JIT_TIERS,
    commands: ["run"],
    scoped: true,
  },
  printConfig: {
    flag: "print-config",
    placeholder: "BOOL",
    help: "print the effective configuration (secrets redacted) and exit",
    schema: bool,
    default: false,
    boolean: true,
    commands: ["run"],
    flagOnly: true,
  },

  enablePerformanceCollectors: {
    flag: "enable-performance-collectors",
    placeholder: "BOOL",
    help: "run the host performance collectors and export them on /metrics",
    schema: bool,
    default: false,
    boolean: true,
    commands: ["run"],
  },
  performanceCollectorInterval: {
    flag: "performance-collector-interval",
    placeholder: "DURATION",
    help: "interval of the performance collectors",
    schema: collectorInterval,
    default: "10s",
    commands: ["run"],
    live: true,
  },
  collectorIntervals: {
    flag: "collector-intervals",
    placeholder: "T=D,...",
    help: `per-collector interval overrides, e.g. tcp=30s,process=5s (each ${COLLECTOR_INTERVAL_RANGE.join(" to ")})`,
    schema: list,
    default: "",
    commands: ["run"],
    live: true,
  },
  enableHardwareDiscovery: {
    flag: "enable-hardware-discovery",
    placeholder: "BOOL",
    help: "publish this host's hardware graph (antimetal.hardware.v1) to the store and intake",
    schema: bool,
    default: true,
    boolean: true,
    commands: ["run"],
  },
  hardwareUpdateInterval: {
    flag: "hardware-update-interval",
    placeholder: "DURATION",
    help: "how often the hardware graph is refreshed",
    schema: durationIn("1s", "24h"),
    default: "5m",
    commands: ["run"],
  },

  enableNetworkGraph: {
    flag: "enable-network-graph",
    placeholder: "BOOL",
    help: "trace TCP connections with eBPF (tcpflow) and publish who-talks-to-whom as network.v1.RoutesTo/RoutedFrom relationships (needs CAP_BPF+CAP_PERFMON)",
    schema: bool,
    default: false,
    boolean: true,
    commands: ["run"],
  },
  networkGraphTtl: {
    flag: "network-graph-ttl",
    placeholder: "DURATION",
    help: "a service-graph edge with no open connection and no traffic for this long is deleted",
    schema: durationIn("1s", "24h"),
    default: "10m",
    commands: ["run"],
  },
  enableOtel: {
    flag: "enable-otel",
    placeholder: "BOOL",
    help: "send the host metrics to an OpenTelemetry Collector over OTLP (docs/otlp.md)",
    schema: bool,
    default: false,
    boolean: true,
    commands: ["run"],
  },
  otelEndpoint: {
    flag: "otel-endpoint",
    env: ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"],
    placeholder: "HOST:PORT|URL",
    help: "OTLP endpoint: host:port for grpc, a URL (or host:port) for http/protobuf",
    schema: z.string().min(1, { error: "OTLP endpoint is required when OpenTelemetry is enabled" }),
    default: "localhost:4317",
    commands: ["run"],
  },
  otelProtocol: {
    flag: "otel-protocol",
    env: ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"],
    placeholder: "PROTOCOL",
    help: "OTLP transport: grpc or http/protobuf",
    schema: z.enum(["grpc", "http/protobuf"]),
    default: "grpc",
    commands: ["run"],
  },
  otelInsecure: {
    flag: "otel-insecure",
    env: ["OTEL_EXPORTER_OTLP_METRICS_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"],
    placeholder: "BOOL",
    help: "plaintext to the OTLP endpoint instead of TLS with the system roots",
    schema: goBool,
    default: false,
    boolean: true,
    commands: ["run"],
  },
  otelHeaders: {
    flag: "otel-headers",
    env: ["OTEL_EXPORTER_OTLP_METRICS_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"],
    placeholder: "K=V,...",
    help: "headers sent with every OTLP export (comma-separated key=value; not URL-decoded)",
    schema: z.string(),
    default: "",
    secret: true,
    commands: ["run"],
  },
  otelCompression: {
    flag: "otel-compression",
    env: ["OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"],
    placeholder: "gzip|none",
    help: "compression of OTLP exports",
    schema: z.enum(["gzip", "none"], { error: "compression type must be 'gzip' or 'none'" }),
    default: "gzip",
    commands: ["run"],
  },
  otelTimeout: {
    flag: "otel-timeout",
    env: ["OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"],
    placeholder: "DURATION",
    help: "deadline of one OTLP export request: a duration (30s) or integer milliseconds",
    schema: otlpTimeout,
    default: "30s",
    commands: ["run"],
  },
  otelServiceName: {
    flag: "otel-service-name",
    env: ["OTEL_SERVICE_NAME"],
    placeholder: "NAME",
    help: "service.name resource attribute of OTLP exports (empty: antimetal-agent)",
    schema: z.string(),
    default: "antimetal-agent",
    commands: ["run"],
  },
  otelServiceVersion: {
    flag: "otel-service-version",
    env: ["OTEL_SERVICE_VERSION"],
    placeholder: "VERSION",
    help: "service.version of OTLP exports (empty: the agent's version)",
    schema: z.string(),
    default: "",
    commands: ["run"],
  },
  otelResourceAttributes: {
    flag: "otel-resource-attributes",
    env: ["OTEL_RESOURCE_ATTRIBUTES"],
    placeholder: "K=V,...",
    help: "extra resource attributes of OTLP exports (the agent's own service.* attributes win)",
    schema: z.string(),
    default: "",
    commands: ["run"],
  },
  otelExportBatchSize: {
    flag: "otel-export-batch-size",
    env: ["OTEL_EXPORTER_METRICS_EXPORT_BATCH_SIZE"],
    placeholder: "N",
    help: "metric events per OTLP export request (1 to 10000)",
    schema: z.coerce.number().int().min(1).max(10_000, { error: "batch size cannot exceed 10000 to prevent OOM" }),
    default: 500,
    commands: ["run"],
  },
  otelMaxQueueSize: {
    flag: "otel-max-queue-size",
    env: ["OTEL_EXPORTER_METRICS_MAX_QUEUE_SIZE"],
    placeholder: "N",
    help: "metric events the OTLP consumer holds while the endpoint is slow or down; more are dropped and counted (1 to 100000)",
    schema: z.coerce.number().int().min(1).max(100_000, { error: "queue size cannot exceed 100000 to prevent OOM" }),
    default: 1000,
    commands: ["run"],
  },
  otelExportInterval: {
    flag: "otel-export-interval",
    placeholder: "DURATION",
    help: "how often buffered metric events are exported (the original's batch timeout)",
    schema: durationIn("100ms", "1h"),
    default: "10s",
    commands: ["run"],
  },
  enableDebugConsumer: {
    flag: "enable-debug-consumer",
    placeholder: "BOOL",
    help: "log every metric event the collectors publish (docs/otlp.md)",
    schema: bool,
    default: false,
    boolean: true,
    commands: ["run"],
  },
  debugLogLevel: {
    flag: "debug-log-level",
    placeholder: "LEVEL",
    help: "debug consumer detail: basic, details or verbose",
    schema: z.enum(["basic", "details", "verbose"]),
    default: "basic",
    commands: ["run"],
  },
  debugLogFormat: {
    flag: "debug-log-format",
    placeholder: "FORMAT",
    help: "debug consumer output: json or text",
    schema: z.enum(["json", "text"]),
    default: "json",
    commands: ["run"],
  },
  enableContainerDiscovery: {
    flag: "enable-container-discovery",
    placeholder: "BOOL",
    help: "publish this host's containers and processes (antimetal.runtime.v1) to the store and intake",
    schema: bool,
    default: true,
    boolean: true,
    commands: ["run"],
  },
  releaseStartupPages: {
    flag: "release-startup-pages",
    placeholder: "BOOL",
    help: "once started (ready, the runtime and host graphs started), ask Linux (5.4+) to reclaim the read-only pages of the executable and its libraries (madvise MADV_PAGEOUT): what only startup used (6-11 MiB measured) stops being resident; pages still in use are read back from the file",
    schema: bool,
    default: true,
    boolean: true,
    commands: ["run"],
  },
  containersUpdateInterval: {
    flag: "containers-update-interval",
    placeholder: "DURATION",
    help: "how often containers and processes are rescanned",
    schema: durationIn("1s", "24h"),
    default: "30s",
    commands: ["run"],
  },

  configLoader: {
    flag: "config-loader",
    placeholder: "LOADER",
    help: "where collector config objects come from: fs (--config-fs-path), ams (the Antimetal config service) or off",
    schema: z.enum(["fs", "ams", "off"]),
    default: "fs",
    commands: ["run"],
  },
  configFsPath: {
    flag: "config-fs-path",
    placeholder: "DIR",
    help: "directory of config object files (.json, .yaml, .yml), watched for changes",
    schema: absolutePath,
    default: "/etc/antimetal/agent",
    commands: ["run"],
  },
  configFsRescanInterval: {
    flag: "config-fs-rescan-interval",
    placeholder: "DURATION",
    help: "how often --config-fs-path is read again in full, in case a change notification was missed",
    schema: durationIn("100ms", "1h"),
    default: "30s",
    commands: ["run"],
  },
  configAmsAddr: {
    flag: "config-ams-addr",
    placeholder: "HOST:PORT",
    help: "gRPC endpoint of the Antimetal config service (--config-loader ams)",
    schema: intakeAddress,
    default: "agent.api.antimetal.com:443",
    commands: ["run"],
  },
  configAmsSecure: {
    flag: "config-ams-secure",
    placeholder: "BOOL",
    help: "use TLS to the config service (system roots unless --config-ams-ca-file)",
    schema: bool,
    default: true,
    boolean: true,
    commands: ["run"],
  },
  configAmsApiKey: {
    flag: "config-ams-api-key",
    placeholder: "KEY",
    help: "config service API key, sent as a bearer token (prefer ANTIMETAL_CONFIG_AMS_API_KEY over argv)",
    schema: apiKey,
    default: "",
    secret: true,
    commands: ["run"],
  },
  configAmsCaFile: {
    flag: "config-ams-ca-file",
    placeholder: "FILE",
    help: "PEM CA bundle for the config service instead of the system roots",
    schema: optionalPath,
    default: "",
    commands: ["run"],
  },

  intakeAddress: {
    flag: "intake-address",
    placeholder: "HOST:PORT",
    help: 'intake gRPC endpoint as host:port (IPv6 in brackets, no scheme); "" turns upload off',
    schema: intakeAddress,
    default: "intake.antimetal.com:443",
    commands: INTAKE,
  },
  intakeApiKey: {
    flag: "intake-api-key",
    placeholder: "KEY",
    help: "intake API key, printable ASCII (prefer ANTIMETAL_INTAKE_API_KEY or --intake-api-key-file over argv)",
    schema: apiKey,
    default: "",
    secret: true,
    commands: INTAKE,
    live: true,
  },
  intakeApiKeyFile: {
    flag: "intake-api-key-file",
    placeholder: "FILE",
    help: "file holding the intake API key (read again at every stream open)",
    schema: optionalPath,
    default: "",
    commands: INTAKE,
    live: true,
  },
  intakeSecure: {
    flag: "intake-secure",
    placeholder: "BOOL",
    help: "use TLS to the intake (system roots unless --intake-ca-file)",
    schema: bool,
    default: true,
    boolean: true,
    commands: INTAKE,
  },
  intakeCaFile: {
    flag: "intake-ca-file",
    placeholder: "FILE",
    help: "PEM CA bundle for the intake instead of the system roots",
    schema: optionalPath,
    default: "",
    commands: INTAKE,
  },
  intakeClientCert: {
    flag: "intake-client-cert",
    placeholder: "FILE",
    help: "PEM client certificate for mTLS to the intake",
    schema: optionalPath,
    default: "",
    commands: INTAKE,
  },
  intakeClientKey: {
    flag: "intake-client-key",
    placeholder: "FILE",
    help: "PEM client key for mTLS to the intake",
    schema: optionalPath,
    default: "",
    commands: INTAKE,
  },
  maxStreamAge: {
    flag: "max-stream-age",
    placeholder: "DURATION",
    help: "an intake or config service stream is closed and reopened after this age",
    schema: durationIn("1s", "24h"),
    default: "10m",
    commands: ["run"],
  },
  intakeAckInterval: {
    flag: "intake-ack-interval",
    placeholder: "DURATION",
    help: "how long a stream sends before it is half-closed and acknowledged (outbox entries are deleted only then)",
    schema: durationIn("100ms", "1h"),
    default: "5s",
    commands: ["run"],
  },

  enableKubernetesController: {
    flag: "enable-kubernetes-controller",
    placeholder: "BOOL",
    help: "watch the Kubernetes cluster (off automatically when no kubeconfig or in-cluster config exists)",
    schema: bool,
    default: true,
    boolean: true,
    commands: ["run"],
  },
  kubeconfig: {
    flag: "kubeconfig",
    env: ["KUBECONFIG"],
    placeholder: "FILE",
    help: "kubeconfig for out-of-cluster use (default: in-cluster service account)",
    schema: z.string(),
    default: "",
    commands: ["run"],
  },
  leaderElect: {
    flag: "leader-elect",
    placeholder: "BOOL",
    help: "elect one agent (Lease 4927b366.antimetal.com) to upload cluster state",
    schema: bool,
    default: true,
    boolean: true,
    commands: ["run"],
  },
  kubernetesProvider: {
    flag: "kubernetes-provider",
    placeholder: "NAME",
    help: 'cluster provider: eks, gke, aks, kind, generic, or "" to detect it (node providerID and labels, then metadata services, time-boxed)',
    schema: z.enum(["", "eks", "gke", "aks", "kind", "generic"]),
    default: "",
    commands: ["run"],
  },
  clusterName: {
    flag: "cluster-name",
    env: ["CLUSTER_NAME"],
    placeholder: "NAME",
    help: "name of the Kubernetes cluster (default: discovered by the provider)",
    schema: z.string(),
    default: "",
    commands: ["run"],
  },
  kubernetesProviderEksAccountId: {
    flag: "kubernetes-provider-eks-account-id",
    placeholder: "ID",
    help: "EKS account id (default: from IMDS)",
    schema: z.string(),
    default: "",
    commands: ["run"],
  },
  kubernetesProviderEksRegion: {
    flag: "kubernetes-provider-eks-region",
    placeholder: "REGION",
    help: "EKS region (default: from IMDS)",
    schema: z.string(),
    default: "",
    commands: ["run"],
  },
  kubernetesProviderEksClusterName: {
    flag: "kubernetes-provider-eks-cluster-name",
    placeholder: "NAME",
    help: "EKS cluster name (default: from EC2 tags)",
    schema: z.string(),
    default: "",
    commands: ["run"],
  },
  kubernetesProviderEksAutodiscover: {
    flag: "kubernetes-provider-eks-autodiscover",
    placeholder: "BOOL",
    help: "discover EKS region and cluster name from IMDS and EC2 tags",
    schema: bool,
    default: true,
    boolean: true,
    commands: ["run"],
  },

  storeType: {
    flag: "type",
    placeholder: "TYPE",
    help: "store resources: only types matching this dot-prefix (e.g. antimetal.hardware.v1)",
    schema: z.string(),
    default: "",
    commands: ["store"],
    scoped: true,
  },
  storeSubject: {
    flag: "subject",
    placeholder: "KEY",
    help: "store relationships: subject resource key",
    schema: z.string(),
    default: "",
    commands: ["store"],
    scoped: true,
  },
  storeObject: {
    flag: "object",
    placeholder: "KEY",
    help: "store relationships: object resource key",
    schema: z.string(),
    default: "",
    commands: ["store"],
    scoped: true,
  },
  storePredicate: {
    flag: "predicate",
    placeholder: "TYPE",
    help: "store relationships: predicate type (e.g. kubernetes.v1.Contains)",
    schema: z.string(),
    default: "",
    commands: ["store"],
    scoped: true,
  },
} satisfies Record<string, OptionSpec>;

export type OptionKey = keyof typeof OPTIONS;
export type Config = { [K in OptionKey]: z.output<(typeof OPTIONS)[K]["schema"]> };

/**
 * The environment variables of an option, in the order they are read: the original agent's names,
 * then ANTIMETAL_<FLAG>, or ANTIMETAL_<COMMAND>_<FLAG> for a scoped option; none for a flag-only one.
 */
export function envNames(key: OptionKey): string[] {
  const spec: OptionSpec = OPTIONS[key];
  if (spec.flagOnly) return [];
  const flag = spec.flag.toUpperCase().replaceAll("-", "_");
  const scope = spec.scoped ? `${spec.commands[0]!.toUpperCase()}_` : "";
  return [...(spec.env ?? []), `ANTIMETAL_${scope}${flag}`];
}

/** Options `run` applies from a reloaded config file without a restart. */
export function liveOptions(): OptionKey[] {
  return (Object.keys(OPTIONS) as OptionKey[]).filter((k) => (OPTIONS[k] as OptionSpec).live === true);
}

export function optionsFor(command: Command): OptionKey[] {
  return (Object.keys(OPTIONS) as OptionKey[]).filter((k) => (OPTIONS[k].commands as readonly Command[]).includes(command));
}
