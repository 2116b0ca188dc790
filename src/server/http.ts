// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The agent's HTTP listeners: probes (/healthz, /livez, /readyz), Prometheus /metrics, and the optional
// profiling endpoints.

import { profile } from "bun:jsc";
import type { Server } from "bun";
import type { Registry } from "prom-client";
import { buildInfo } from "../build-info.ts";
import type { Logger } from "../log/logger.ts";
import { type ExpositionSource, ScrapeCache } from "../metrics/scrape-cache.ts";
import type { Component } from "../runtime/component.ts";
import type { Readiness } from "../runtime/lifecycle.ts";
import { errorMessage } from "../util/errors.ts";
import { parseBindAddress } from "./address.ts";
import { renderLandingPage } from "./landing.ts";
import type { MetricsSecurity, ServeTls } from "./metrics-security.ts";

/**
 * The only format /metrics serves, whatever the request's Accept header asks for (OpenMetrics
 * included): Prometheus and every other scraper that asks for OpenMetrics also accept this one.
 */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface HttpOptions {
  probeAddress: string;
  metricsAddress: string;
  pprofAddress: string;
  readiness: () => Readiness;
  /** Self metrics, re-rendered at most once per selfMaxAgeMs. */
  registry: Registry;
  /** Further /metrics text (host metrics), re-rendered only when its version changes. May be filled after creation. */
  sources?: readonly ExpositionSource[];
  selfMaxAgeMs?: number;
  logger: Logger;
  /** GET /config on the probe port: the effective configuration and where each value came from (secrets redacted). */
  configView?: () => unknown;
  /** HTTPS and request checks of the metrics listener (--metrics-secure, --web-config-file); plain HTTP without. */
  metricsSecurity?: MetricsSecurity;
}

export interface HttpComponent extends Component {
  /** Bound ports by listener name (probes, metrics, pprof), for logs and tests. */
  ports(): Record<string, number>;
}

/** True when the client lists gzip in Accept-Encoding without q=0. */
function acceptsGzip(req: Request): boolean {
  const accept = req.headers.get("accept-encoding");
  if (!accept) return false;
  return accept.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    if (coding !== "gzip" && coding !== "*") return false;
    return !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
  });
}

const text = (body: string, status = 200) => new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });

/**
 * The agent's HTTP listeners: probes (/healthz, /livez, /readyz), Prometheus /metrics, and the
 * optional profiling endpoints. Each address may be "0" to disable that listener. A listener
 * that cannot bind fails the start with the address in the message.
 */
export function createHttpComponent(opts: HttpOptions): HttpComponent {
  const servers = new Map<string, Server<undefined>>();
  const log = opts.logger.child({ component: "http" });

  const probes = (req: Request): Response => {
    const path = new URL(req.url).pathname;
    if (path === "/healthz" || path === "/livez") return text("ok\n");
    if (path === "/readyz") {
      const r = opts.readiness();
      return r.ready ? text("ok\n") : text(`not ready:\n${r.reasons.map((x) => `- ${x}`).join("\n")}\n`, 503);
    }
    if (path === "/config" && opts.configView)
      return new Response(JSON.stringify(opts.configView(), null, 2) + "\n", { headers: { "content-type": "application/json" } });
    return text("not found\n", 404);
  };

  // Every scrape shares one rendered body: N concurrent scrapers cost N buffer writes, not N renders.
  const scrapes = new ScrapeCache({ registry: opts.registry, sources: opts.sources, selfMaxAgeMs: opts.selfMaxAgeMs });
  const landingPage = renderLandingPage(buildInfo);
  const metrics = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path === "/") return new Response(landingPage, { headers: { "content-type": "text/html; charset=utf-8" } });
    if (path !== "/metrics") return text("not found\n", 404);
    try {
      const body = await scrapes.current();
      const headers: Record<string, string> = { "content-type": METRICS_CONTENT_TYPE, vary: "accept-encoding" };
      if (!acceptsGzip(req)) return new Response(body.text, { headers });
      return new Response(body.gzip(), { headers: { ...headers, "content-encoding": "gzip" } });
    } catch (e) {
      log.error({ err: errorMessage(e) }, "metrics collection failed");
      return text(`metrics collection failed: ${errorMessage(e)}\n`, 500);
    }
  };

  const pprof = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname === "/debug/heap") {
      return new Response(Bun.generateHeapSnapshot("v8"), {
        headers: { "content-type": "application/json", "content-disposition": 'attachment; filename="agent.heapsnapshot"' },
      });
    }
    if (url.pathname === "/debug/memory") return Response.json((await import("./memory.ts")).memoryBreakdown());
    if (url.pathname === "/debug/profile") {
      const seconds = Number(url.searchParams.get("seconds") ?? "10");
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 300) return text("seconds must be in (0, 300]\n", 400);
      const report = await profile(() => Bun.sleep(seconds * 1000), 1000);
      return new Response(JSON.stringify(report), { headers: { "content-type": "application/json" } });
    }
    return text("not found\n", 404);
  };

  const security = opts.metricsSecurity;
  const guarded = async (req: Request): Promise<Response> => {
    const res = (await security?.guard?.(req)) ?? (await metrics(req));
    for (const [k, v] of Object.entries(security?.headers ?? {})) res.headers.set(k, v);
    return res;
  };
  let certWatch: { stop(): void } | undefined;
  const hostnames = new Map<string, string>();

  const listen = (name: string, address: string, fetch: (req: Request) => Response | Promise<Response>, tls?: ServeTls) => {
    const bind = parseBindAddress(address);
    if (!bind) return;
    // A listener whose certificate may change is replaced by a second socket on the same port (SO_REUSEPORT).
    const reusePort = tls !== undefined && security?.watch !== undefined;
    hostnames.set(name, bind.hostname);
    try {
      servers.set(name, Bun.serve({ hostname: bind.hostname, port: bind.port, fetch, idleTimeout: 30, tls, reusePort }));
    } catch (e) {
      throw new Error(`cannot listen on ${address} for ${name}: ${errorMessage(e)}`);
    }
    log.info({ listener: name, address, port: servers.get(name)!.port, ...(tls ? { tls: true, mode: security?.mode } : {}) }, "listening");
  };

  /** A new certificate: start a listener with it on the same port, then close the old one (in-flight requests finish). */
  const rotate = (tls: ServeTls) => {
    const old = servers.get("metrics");
    if (!old) return;
    try {
      servers.set(
        "metrics",
        Bun.serve({ hostname: hostnames.get("metrics"), port: old.port, fetch: guarded, idleTimeout: 30, tls, reusePort: true }),
      );
      void old.stop();
    } catch (e) {
      log.error({ err: errorMessage(e) }, "cannot restart the metrics listener with the new certificate; keeping the previous one");
    }
  };

  return {
    name: "http",
    required: true,
    async start() {
      try {
        listen("probes", opts.probeAddress, probes);
        listen("metrics", opts.metricsAddress, security ? guarded : metrics, security?.tls);
        if (servers.has("metrics") && security?.tls) certWatch = security.watch?.(rotate);
        listen("pprof", opts.pprofAddress, pprof);
      } catch (e) {
        for (const s of servers.values()) s.stop(true);
        servers.clear();
        throw e;
      }
    },
    async stop() {
      certWatch?.stop();
      await Promise.all([...servers.values()].map((s) => s.stop()));
      servers.clear();
    },
    isReady: () => true,
    ports: () => Object.fromEntries([...servers].map(([name, s]) => [name, s.port ?? 0])),
  };
}
