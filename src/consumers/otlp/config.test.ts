// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The OTLP settings as the original reads them: headers, endpoint forms, resource attributes; and the
// OTEL_* variables through the agent's option loader.

import { expect, test } from "bun:test";
import { loadConfig } from "../../config/load.ts";
import { otlpConfigFrom, parseHeaders, resolveTarget } from "./config.ts";

test("headers: split on the first =, trimmed, empty keys and pairs without = dropped, no URL-decoding", () => {
  expect(parseHeaders(" a = b ,c=d=e,=x,novalue,k=%20v,")).toEqual({ a: "b", c: "d=e", k: "%20v" });
  expect(parseHeaders("")).toEqual({});
});

test("endpoint: host:port for grpc (a scheme dropped); a URL for http/protobuf", () => {
  expect(resolveTarget("collector:4317", "grpc", false, false)).toBe("collector:4317");
  expect(resolveTarget("http://collector:4317/", "grpc", true, false)).toBe("collector:4317");
  expect(resolveTarget("collector:4318", "http/protobuf", true, true)).toBe("http://collector:4318/v1/metrics");
  expect(resolveTarget("collector:4318", "http/protobuf", false, true)).toBe("https://collector:4318/v1/metrics");
  expect(resolveTarget("https://c:4318/custom", "http/protobuf", false, false)).toBe("https://c:4318/custom");
});

function load(env: Record<string, string>) {
  const { config, origins } = loadConfig({ command: "run", argv: [], env });
  return otlpConfigFrom(config, "1.2.3", origins.otelEndpoint);
}

test("defaults are the original's: localhost:4317, TLS, gzip, 30s, batch 500, queue 1000, 10s", () => {
  const c = load({});
  expect(c).toMatchObject({
    protocol: "grpc",
    target: "localhost:4317",
    insecure: false,
    compression: "gzip",
    timeoutMs: 30_000,
    exportBatchSize: 500,
    maxQueueSize: 1000,
    exportIntervalMs: 10_000,
    serviceVersion: "1.2.3",
  });
  expect(c.resource).toEqual([
    ["service.name", "antimetal-agent"],
    ["service.version", "1.2.3"],
    ["telemetry.distro.name", "antimetal-agent"],
  ]);
});

test("OTEL_* variables: the metrics-specific one first, Go booleans, Go durations or integer ms", () => {
  const c = load({
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "m:1",
    OTEL_EXPORTER_OTLP_ENDPOINT: "g:2",
    OTEL_EXPORTER_OTLP_INSECURE: "T",
    OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer x",
    OTEL_EXPORTER_OTLP_COMPRESSION: "none",
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: "1500",
    OTEL_SERVICE_NAME: "svc",
    OTEL_SERVICE_VERSION: "9",
    OTEL_RESOURCE_ATTRIBUTES: "service.name=no,team=a%20b",
    OTEL_EXPORTER_METRICS_EXPORT_BATCH_SIZE: "7",
    OTEL_EXPORTER_METRICS_MAX_QUEUE_SIZE: "70",
  });
  expect(c).toMatchObject({ target: "m:1", insecure: true, headers: { authorization: "Bearer x" }, compression: "none", timeoutMs: 1500 });
  expect(c).toMatchObject({ exportBatchSize: 7, maxQueueSize: 70, serviceVersion: "9" });
  expect(c.resource).toEqual([
    ["team", "a b"],
    ["service.name", "svc"],
    ["service.version", "9"],
    ["telemetry.distro.name", "antimetal-agent"],
  ]);
  expect(load({ OTEL_EXPORTER_OTLP_TIMEOUT: "2s" }).timeoutMs).toBe(2000);
  expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://g:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" }).target).toBe(
    "http://g:4318/v1/metrics",
  );
  expect(load({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://g:4318/x", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" }).target).toBe(
    "http://g:4318/x",
  );
});

test("bad values name the variable and exit 2 (the original ignored some of them)", () => {
  expect(() => load({ OTEL_EXPORTER_OTLP_COMPRESSION: "zstd" })).toThrow(
    /OTEL_EXPORTER_OTLP_COMPRESSION.*compression type must be 'gzip' or 'none'/,
  );
  expect(() => load({ OTEL_EXPORTER_METRICS_EXPORT_BATCH_SIZE: "10001" })).toThrow(/batch size cannot exceed 10000/);
  expect(() => load({ OTEL_EXPORTER_METRICS_MAX_QUEUE_SIZE: "100001" })).toThrow(/queue size cannot exceed 100000/);
  expect(() => load({ OTEL_EXPORTER_OTLP_INSECURE: "maybe" })).toThrow(/OTEL_EXPORTER_OTLP_INSECURE/);
});
