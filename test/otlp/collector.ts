// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Test helper: runs the OpenTelemetry Collector that scripts/setup.d/55-otelcol.sh builds (OTLP
// receiver on gRPC and HTTP, optional bearer-token auth, file exporter) on free loopback ports, restarts
// it on the same ports, and reads back every data point it wrote.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const CACHE = process.env.ANTIMETAL_OTELCOL_CACHE ?? "/var/cache/antimetal-dev/otelcol";
export const OTELCOL_BINARY = join(CACHE, "current/bin/otelcol");

export function requireCollector(): string {
  if (!existsSync(OTELCOL_BINARY)) throw new Error(`${OTELCOL_BINARY} is missing: run bash scripts/setup.d/55-otelcol.sh first`);
  return OTELCOL_BINARY;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** One data point as the collector wrote it (OTLP JSON), flattened. */
export interface Point {
  name: string;
  unit: string;
  kind: "gauge" | "sum";
  monotonic?: boolean;
  /** 2 = AGGREGATION_TEMPORALITY_CUMULATIVE (the file exporter writes the number). */
  temporality?: number;
  attrs: Record<string, string>;
  /** asInt as its exact decimal string, or asDouble. */
  value: string | number;
  time: string;
  start?: string;
  resource: Record<string, string>;
  scope: { name?: string; version?: string };
}

type Json = Record<string, any>;
const attrsOf = (kvs: Json[] | undefined) =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, kv.value?.stringValue ?? JSON.stringify(kv.value)]));

/** Every data point in an OTLP JSON lines file (the file exporter's output). */
export function readPoints(file: string): Point[] {
  if (!existsSync(file)) return [];
  const out: Point[] = [];
  const lines = readFileSync(file, "utf8").split("\n");
  // the last piece is "" or a line the collector is still writing
  for (const line of lines.slice(0, -1)) {
    if (line.trim() === "") continue;
    const req = JSON.parse(line) as Json;
    for (const rm of req.resourceMetrics ?? []) {
      const resource = attrsOf(rm.resource?.attributes);
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          const kind = m.gauge ? "gauge" : "sum";
          const body = m.gauge ?? m.sum;
          for (const p of body?.dataPoints ?? []) {
            out.push({
              name: m.name,
              unit: m.unit ?? "",
              kind,
              monotonic: m.sum?.isMonotonic,
              temporality: m.sum?.aggregationTemporality,
              attrs: attrsOf(p.attributes),
              value: p.asInt !== undefined ? String(p.asInt) : (p.asDouble ?? 0),
              time: p.timeUnixNano,
              start: p.startTimeUnixNano,
              resource,
              scope: sm.scope ?? {},
            });
          }
        }
      }
    }
  }
  return out;
}

export interface Collector {
  grpcPort: number;
  httpPort: number;
  /** Output files, one per run of the collector (a restart writes a new one). */
  files: string[];
  points(): Point[];
  stop(): Promise<void>;
  /** Starts it again on the same ports. */
  start(): Promise<void>;
  cleanup(): Promise<void>;
  log(): string;
}

/** Starts a collector; with `token`, its receivers require `authorization: Bearer <token>`. */
export async function startCollector(opts: { token?: string } = {}): Promise<Collector> {
  const binary = requireCollector();
  const dir = mkdtempSync(join(tmpdir(), "otelcol-"));
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const files: string[] = [];
  let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let logText = "";

  const start = async () => {
    const file = join(dir, `out-${files.length}.jsonl`);
    files.push(file);
    const auth = opts.token ? "\n        auth:\n          authenticator: bearertokenauth" : "";
    const config = `${opts.token ? `extensions:\n  bearertokenauth:\n    token: "${opts.token}"\n` : ""}receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${grpcPort}${auth}
      http:
        endpoint: 127.0.0.1:${httpPort}${auth}
exporters:
  file:
    path: ${file}
    flush_interval: 100ms
service:
  ${opts.token ? "extensions: [bearertokenauth]\n  " : ""}telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [file]
`;
    const cfgFile = join(dir, "config.yaml");
    writeFileSync(cfgFile, config);
    proc = Bun.spawn([binary, "--config", cfgFile], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const p = proc;
    void (async () => {
      for await (const chunk of p.stderr) logText += new TextDecoder().decode(chunk);
    })();
    const deadline = Date.now() + 20_000;
    while (!logText.includes("Everything is ready")) {
      if (p.exitCode !== null) throw new Error(`otelcol exited ${p.exitCode}:\n${logText}`);
      if (Date.now() > deadline) throw new Error(`otelcol did not start:\n${logText}`);
      await Bun.sleep(50);
    }
  };
  const stop = async () => {
    if (proc && proc.exitCode === null) {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  };
  await start();
  return {
    grpcPort,
    httpPort,
    files,
    points: () => files.flatMap(readPoints),
    stop,
    start,
    async cleanup() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => logText,
  };
}

/** Polls until `check` returns true (or throws its last failure after the timeout). */
export async function eventually(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(100);
  }
}
