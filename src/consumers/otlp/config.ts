// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The OTLP consumer's settings from the option table: endpoint and transport, headers parsed as the
// original parses them, resource attributes, batch and queue sizes, retry schedule.

import type { Config } from "../../config/schema.ts";

export type OtlpProtocol = "grpc" | "http/protobuf";

export interface OtlpConfig {
  protocol: OtlpProtocol;
  /** grpc: host:port. http/protobuf: the full URL of the metrics path. */
  target: string;
  insecure: boolean;
  headers: Record<string, string>;
  compression: "gzip" | "none";
  timeoutMs: number;
  exportIntervalMs: number;
  exportBatchSize: number;
  maxQueueSize: number;
  /** Resource attributes, in order (OTEL_RESOURCE_ATTRIBUTES underneath the agent's own). */
  resource: [string, string][];
  serviceVersion: string;
  /** Retry of one request: the original's 1 s initial, 30 s cap, x2, and 3 x 30 s = 90 s budget. */
  retry: { initialMs: number; maxMs: number; multiplier: number; maxElapsedMs: number };
}

/** Meter (instrumentation scope) name and version, as the original's. */
export const SCOPE = { name: "github.com/antimetal/agent", version: "1.0.0" };

/**
 * Comma-separated key=value pairs, as the original reads OTEL_EXPORTER_OTLP_HEADERS: split on the
 * first "=", keys and values trimmed, pairs without "=" or with an empty key dropped, no URL-decoding.
 */
export function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(",")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim();
    if (key === "") continue;
    out[key] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** OTEL_RESOURCE_ATTRIBUTES: key=value pairs, percent-decoded as the OpenTelemetry specification says. */
export function parseResourceAttributes(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const pair of text.split(",")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim();
    if (key === "") continue;
    let value = pair.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch (e) {
      // URIError: a stray "%" is kept as written
      if (!(e instanceof URIError)) throw e;
    }
    out.push([key, value]);
  }
  return out;
}

/**
 * Where requests go. grpc takes host:port (a scheme, if given, is dropped). http/protobuf takes a URL:
 * the signal-specific variable as is, the generic one with /v1/metrics appended, as the OpenTelemetry
 * specification says; a bare host:port gets http:// when insecure, https:// otherwise.
 */
export function resolveTarget(endpoint: string, protocol: OtlpProtocol, insecure: boolean, appendPath: boolean): string {
  if (protocol === "grpc") return endpoint.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "");
  const url = /^[a-z]+:\/\//i.test(endpoint) ? endpoint : `${insecure ? "http" : "https"}://${endpoint}`;
  if (!appendPath) return url;
  return url.replace(/\/+$/, "") + "/v1/metrics";
}

/** The consumer's config from the agent's; `endpointFrom` names the variable the endpoint came from. */
export function otlpConfigFrom(
  config: Pick<
    Config,
    | "otelEndpoint"
    | "otelProtocol"
    | "otelInsecure"
    | "otelHeaders"
    | "otelCompression"
    | "otelTimeout"
    | "otelServiceName"
    | "otelServiceVersion"
    | "otelResourceAttributes"
    | "otelExportBatchSize"
    | "otelMaxQueueSize"
    | "otelExportInterval"
  >,
  agentVersion: string,
  endpointFrom?: string,
): OtlpConfig {
  const serviceVersion = config.otelServiceVersion || agentVersion;
  const own: [string, string][] = [
    ["service.name", config.otelServiceName || "antimetal-agent"],
    ["service.version", serviceVersion],
    ["telemetry.distro.name", "antimetal-agent"],
  ];
  const ownKeys = new Set(own.map(([k]) => k));
  const extra = parseResourceAttributes(config.otelResourceAttributes).filter(([k]) => !ownKeys.has(k));
  const generic = endpointFrom === "env OTEL_EXPORTER_OTLP_ENDPOINT";
  return {
    protocol: config.otelProtocol,
    target: resolveTarget(
      config.otelEndpoint,
      config.otelProtocol,
      config.otelInsecure,
      generic || !/^[a-z]+:\/\//i.test(config.otelEndpoint),
    ),
    insecure: config.otelInsecure,
    headers: parseHeaders(config.otelHeaders),
    compression: config.otelCompression,
    timeoutMs: config.otelTimeout,
    exportIntervalMs: config.otelExportInterval,
    exportBatchSize: config.otelExportBatchSize,
    maxQueueSize: config.otelMaxQueueSize,
    resource: [...extra, ...own],
    serviceVersion,
    retry: { initialMs: 1000, maxMs: 30_000, multiplier: 2, maxElapsedMs: 90_000 },
  };
}
