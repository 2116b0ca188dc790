// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * bench/otlp: the cost of exporting one collection cycle over OTLP (agent CPU, bytes on the wire)
 * beside the cost of collecting it (the anchor), in the same run, on this host, to the test
 * OpenTelemetry Collector (scripts/setup.d/55-otelcol.sh). The set is the original's default
 * collectors: load, cpu, memory, system, disk, network, tcp, process. Prints one JSON object.
 *
 * Flags: --cycles N per transport (default 60), --gap-ms N between cycles (default 150).
 */

import { gzipSync } from "node:zlib";
import { type OtlpConfig, otlpConfigFrom } from "../../src/consumers/otlp/config.ts";
import { OtlpExporter } from "../../src/consumers/otlp/exporter.ts";
import { BatchProcessor } from "../../src/consumers/otlp/processor.ts";
import { createTransport, type OtlpTransport } from "../../src/consumers/otlp/transport.ts";
import { createLogger } from "../../src/log/logger.ts";
import { defaultRegistry } from "../../src/perf/collect-command.ts";
import { DEFAULT_HOST_PATHS, type MetricType, metricEvent, type PointCollector } from "../../src/perf/collector.ts";
import { HostIo } from "../../src/perf/io.ts";
import { isPoint } from "../../src/perf/registry.ts";
import { startCollector } from "../../test/otlp/collector.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const CYCLES = arg("cycles", 60);
const GAP = arg("gap-ms", 150);
const SET: MetricType[] = ["load", "cpu", "memory", "system", "disk", "network", "tcp", "process"];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 1000) / 1000;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Passes requests through and keeps each body, to size its gzip after the measured part. */
class Recording implements OtlpTransport {
  bodies: Uint8Array[] = [];
  constructor(private readonly inner: OtlpTransport) {}
  send(body: Uint8Array, signal: AbortSignal) {
    this.bodies.push(body);
    return this.inner.send(body, signal);
  }
  close() {
    this.inner.close();
  }
}

const collector = await startCollector();
const logger = createLogger({ level: "error" });
const io = new HostIo(DEFAULT_HOST_PATHS.sys, 4, DEFAULT_HOST_PATHS.proc);
const reg = await defaultRegistry(DEFAULT_HOST_PATHS, { io });
const collectors = reg
  .available()
  .filter((e) => SET.includes(e.spec.type))
  .map((e) => e.create())
  .filter(isPoint) as PointCollector[];

const base = (protocol: OtlpConfig["protocol"], compression: "gzip" | "none") =>
  otlpConfigFrom(
    {
      otelEndpoint: `127.0.0.1:${protocol === "grpc" ? collector.grpcPort : collector.httpPort}`,
      otelProtocol: protocol,
      otelInsecure: true,
      otelHeaders: "",
      otelCompression: compression,
      otelTimeout: 10_000,
      otelServiceName: "bench",
      otelServiceVersion: "",
      otelResourceAttributes: "",
      otelExportBatchSize: 500,
      otelMaxQueueSize: 1000,
      otelExportInterval: 10_000,
    },
    "bench",
  );

async function run(protocol: OtlpConfig["protocol"], compression: "gzip" | "none") {
  const cfg = base(protocol, compression);
  const transport = new Recording(createTransport(cfg));
  const exporter = new OtlpExporter(cfg, transport, logger);
  const processor = new BatchProcessor(
    cfg,
    exporter,
    { "host.name": "bench", "service.instance.id": "performance-collector" },
    Date.now(),
    logger,
  );
  const signals = { stop: new AbortController().signal, cancel: new AbortController().signal };
  const collect: number[] = [];
  const exportCpu: number[] = [];
  const exportWall: number[] = [];
  const bytes: number[] = [];
  const gzBytes: number[] = [];
  const points: number[] = [];
  for (let i = 0; i < CYCLES + 5; i++) {
    const c0 = cpuMs();
    const data = await Promise.all(collectors.map((c) => c.collect(AbortSignal.timeout(5000))));
    const c1 = cpuMs();
    const events = collectors.map((c, j) => metricEvent(c.spec.type, data[j] as never, "gauge", "bench"));
    const before = { bytes: exporter.stats.wireBytes, points: exporter.stats.exportedPoints, n: transport.bodies.length };
    const w1 = performance.now();
    const outcome = await processor.process(events, signals);
    const w2 = performance.now();
    const c2 = cpuMs();
    if (outcome !== "ok") throw new Error(`export failed: ${outcome} ${exporter.stats.lastError}`);
    const sent = transport.bodies.slice(before.n);
    if (i >= 5) {
      collect.push(c1 - c0);
      exportCpu.push(c2 - c1);
      exportWall.push(w2 - w1);
      bytes.push(exporter.stats.wireBytes - before.bytes);
      gzBytes.push(sent.reduce((s, b) => s + gzipSync(b).length, 0));
      points.push(exporter.stats.exportedPoints - before.points);
    }
    transport.bodies = [];
    await Bun.sleep(GAP);
  }
  transport.close();
  const collectMs = median(collect);
  const exportMs = median(exportCpu);
  return {
    protocol,
    compression,
    points_per_cycle: median(points),
    collect_cpu_ms: round(collectMs),
    export_cpu_ms: round(exportMs),
    export_wall_ms: round(median(exportWall)),
    export_over_collect: round(exportMs / collectMs),
    // HTTP: the body as sent; gRPC: the message before grpc-js compresses it (gzip size beside it)
    request_bytes_per_cycle: median(bytes),
    gzip_bytes_per_cycle: median(gzBytes),
  };
}

const results = [];
for (const [p, c] of [
  ["grpc", "gzip"],
  ["http/protobuf", "gzip"],
  ["http/protobuf", "none"],
] as const)
  results.push(await run(p, c));
await collector.cleanup();
console.log(
  JSON.stringify(
    {
      bench: "otlp",
      cycles: CYCLES,
      collectors: SET,
      anchor: "collect_cpu_ms: CPU of collecting the same cycle, measured in the same run",
      loadavg: (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).map(Number),
      results,
    },
    null,
    2,
  ),
);
process.exit(0);
