// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the HTTP listeners: bind address parsing, /readyz reasons with 503, disabled listeners,
// the pprof endpoints, and the metrics listener's security hooks (TLS, guard, headers, rotation).

import { afterEach, expect, test } from "bun:test";
import { Counter, Registry } from "prom-client";
import { buildInfo } from "../build-info.ts";
import { silentLogger } from "../log/logger.ts";
import type { Readiness } from "../runtime/lifecycle.ts";
import { parseBindAddress } from "./address.ts";
import { createHttpComponent, type HttpComponent, METRICS_CONTENT_TYPE } from "./http.ts";
import { selfSignedCertificate } from "./x509.ts";

let http: HttpComponent | undefined;
afterEach(async () => {
  await http?.stop(AbortSignal.timeout(1000));
  http = undefined;
});

function start(readiness: () => Readiness, pprof = "0") {
  http = createHttpComponent({
    probeAddress: "127.0.0.1:0",
    metricsAddress: "127.0.0.1:0",
    pprofAddress: pprof,
    readiness,
    registry: new Registry(),
    logger: silentLogger,
  });
  return http.start().then(() => http!.ports());
}

test("bind addresses", () => {
  expect(parseBindAddress(":8080")).toEqual({ hostname: "0.0.0.0", port: 8080 });
  expect(parseBindAddress("127.0.0.1:0")).toEqual({ hostname: "127.0.0.1", port: 0 });
  expect(parseBindAddress("[::1]:9000")).toEqual({ hostname: "::1", port: 9000 });
  expect(parseBindAddress("0")).toBeUndefined();
  expect(parseBindAddress("")).toBeUndefined();
});

test("/readyz reports the reasons with 503", async () => {
  let state: Readiness = { ready: false, reasons: ["kube: not synced"] };
  const ports = await start(() => state);
  const r = await fetch(`http://127.0.0.1:${ports.probes}/readyz`);
  expect(r.status).toBe(503);
  expect(await r.text()).toContain("- kube: not synced");
  state = { ready: true, reasons: [] };
  expect((await fetch(`http://127.0.0.1:${ports.probes}/readyz`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${ports.probes}/nope`)).status).toBe(404);
});

test("0 disables a listener; pprof serves a heap snapshot and a CPU profile", async () => {
  const ports = await start(() => ({ ready: true, reasons: [] }), "127.0.0.1:0");
  expect(Object.keys(ports).sort()).toEqual(["metrics", "pprof", "probes"]);
  const heap = await (await fetch(`http://127.0.0.1:${ports.pprof}/debug/heap`)).json();
  expect(heap).toHaveProperty("snapshot");
  const prof = await fetch(`http://127.0.0.1:${ports.pprof}/debug/profile?seconds=0.2`);
  expect(prof.status).toBe(200);
  expect(await prof.json()).toHaveProperty("functions");
  expect((await fetch(`http://127.0.0.1:${ports.pprof}/debug/profile?seconds=-1`)).status).toBe(400);
});

test("pprof is off by default", async () => {
  const ports = await start(() => ({ ready: true, reasons: [] }));
  expect(ports.pprof).toBeUndefined();
});

test("/metrics: text by default, gzip when the client accepts it, both the same body", async () => {
  const registry = new Registry();
  new Counter({ name: "served_total", help: "Served.", registers: [registry] }).inc(3);
  const host = { version: 1, render: async () => "# HELP host_up Host.\n# TYPE host_up gauge\nhost_up 1\n" };
  http = createHttpComponent({
    probeAddress: "0",
    metricsAddress: "127.0.0.1:0",
    pprofAddress: "0",
    readiness: () => ({ ready: true, reasons: [] }),
    registry,
    sources: [host],
    logger: silentLogger,
  });
  await http.start();
  const url = `http://127.0.0.1:${http.ports().metrics}/metrics`;
  const plain = await fetch(url, { headers: { "accept-encoding": "identity" } });
  expect(plain.headers.get("content-encoding")).toBeNull();
  expect(plain.headers.get("content-type")).toBe(METRICS_CONTENT_TYPE);
  const text = await plain.text();
  expect(text).toBe(
    "# HELP served_total Served.\n# TYPE served_total counter\nserved_total 3\n\n# HELP host_up Host.\n# TYPE host_up gauge\nhost_up 1\n",
  );
  const gz = await fetch(url, { headers: { "accept-encoding": "gzip, deflate" }, decompress: false } as RequestInit);
  expect(gz.headers.get("content-encoding")).toBe("gzip");
  expect(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await gz.arrayBuffer())))).toBe(text);
  const refused = await fetch(url, { headers: { "accept-encoding": "gzip;q=0" }, decompress: false } as RequestInit);
  expect(refused.headers.get("content-encoding")).toBeNull();
  expect(await refused.text()).toBe(text);
});

test("/ on the metrics port is an HTML page with the version and a link to /metrics", async () => {
  const ports = await start(() => ({ ready: true, reasons: [] }));
  const r = await fetch(`http://127.0.0.1:${ports.metrics}/`);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
  const html = await r.text();
  expect(html).toContain('<a href="/metrics">');
  expect(html).toContain(`Version ${buildInfo.version}`);
  expect((await fetch(`http://127.0.0.1:${ports.metrics}/index.html`)).status).toBe(404);
});

test("/metrics answers text format 0.0.4 whatever Accept asks for, OpenMetrics included", async () => {
  const ports = await start(() => ({ ready: true, reasons: [] }));
  const url = `http://127.0.0.1:${ports.metrics}/metrics`;
  const plain = await (await fetch(url)).text();
  const accepts = [
    // What Prometheus 2.x sends: OpenMetrics first, text 0.0.4 as the fallback.
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "application/openmetrics-text; version=1.0.0",
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
    "text/plain",
  ];
  for (const accept of accepts) {
    const r = await fetch(url, { headers: { accept } });
    expect({ accept, type: r.headers.get("content-type") }).toEqual({ accept, type: "text/plain; version=0.0.4; charset=utf-8" });
    const body = await r.text();
    expect(body).not.toContain("# EOF");
    expect(body.split("\n").filter((l) => l.startsWith("# TYPE"))).toEqual(plain.split("\n").filter((l) => l.startsWith("# TYPE")));
  }
});

test("metrics security: TLS, the guard before the handler, added headers; a new certificate replaces the listener on the same port", async () => {
  const first = selfSignedCertificate({ commonName: "first", hosts: ["127.0.0.1"], validDays: 1 });
  const second = selfSignedCertificate({ commonName: "second", hosts: ["127.0.0.1"], validDays: 1 });
  let rotate: ((tls: typeof first) => void) | undefined;
  let watching = 0;
  http = createHttpComponent({
    probeAddress: "127.0.0.1:0",
    metricsAddress: "127.0.0.1:0",
    pprofAddress: "0",
    readiness: () => ({ ready: true, reasons: [] }),
    registry: new Registry(),
    logger: silentLogger,
    metricsSecurity: {
      mode: "test",
      tls: first,
      headers: { "x-frame-options": "deny" },
      guard: async (req) => (req.headers.get("x-let-me-in") ? undefined : new Response("no\n", { status: 401 })),
      watch: (cb) => {
        rotate = cb;
        watching++;
        return { stop: () => watching-- };
      },
    },
  });
  await http.start();
  const port = http.ports().metrics!;
  const get = (cert: string, headers: Record<string, string> = {}) =>
    fetch(`https://127.0.0.1:${port}/metrics`, { headers, tls: { ca: cert }, keepalive: false });
  const refused = await get(first.cert);
  expect([refused.status, refused.headers.get("x-frame-options")]).toEqual([401, "deny"]);
  const ok = await get(first.cert, { "x-let-me-in": "1" });
  expect([ok.status, ok.headers.get("content-type"), ok.headers.get("x-frame-options")]).toEqual([200, METRICS_CONTENT_TYPE, "deny"]);
  expect(watching).toBe(1);
  rotate!(second);
  expect(http.ports().metrics).toBe(port);
  expect((await get(second.cert, { "x-let-me-in": "1" })).status).toBe(200);
  await expect(get(first.cert, { "x-let-me-in": "1" })).rejects.toThrow();
  await http.stop(AbortSignal.timeout(1000));
  http = undefined;
  expect(watching).toBe(0);
});
