// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Concurrent /metrics scrapers and a probe timer, for the scrape-load test and bench/scrape-load.
// Run as its own process (`bun test/helpers/scrape-load.ts URL CONCURRENCY SECONDS [gzip]`) so the load
// it makes never delays the side that measures the probes; it prints one JSON line of totals.

export interface ScrapeTotals {
  requests: number;
  errors: number;
  bytes: number;
}

/** Keeps `concurrency` scrapes of `url` in flight until `signal` aborts. */
export async function hammer(url: string, concurrency: number, signal: AbortSignal, gzip = false): Promise<ScrapeTotals> {
  const totals: ScrapeTotals = { requests: 0, errors: 0, bytes: 0 };
  // A new connection per scrape, as ab and many scrapers do: accept handling is part of the cost.
  const headers = { "accept-encoding": gzip ? "gzip" : "identity", connection: "close" };
  const worker = async () => {
    while (!signal.aborted) {
      try {
        const r = await fetch(url, { headers, decompress: false, keepalive: false, signal } as RequestInit);
        totals.bytes += (await r.arrayBuffer()).byteLength;
        if (r.ok) totals.requests++;
        else totals.errors++;
      } catch (e) {
        if (!signal.aborted) totals.errors++;
        else void e; // the abort that ends the run
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return totals;
}

/** Starts the scrapers in a child process; resolves with their totals when they finish. */
export function spawnScrapers(
  url: string,
  concurrency: number,
  seconds: number,
  gzip = false,
): { done: Promise<ScrapeTotals>; kill(): void } {
  const proc = Bun.spawn([process.execPath, import.meta.path, url, String(concurrency), String(seconds), gzip ? "gzip" : "identity"], {
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, BUN_BE_BUN: "1" },
  });
  const done = (async () => {
    const out = await new Response(proc.stdout).text();
    const code = await proc.exited;
    if (code !== 0) throw new Error(`scrape load exited with ${code}: ${out}`);
    return JSON.parse(out.trim().split("\n").pop()!) as ScrapeTotals;
  })();
  return { done, kill: () => proc.kill("SIGKILL") };
}

export interface ProbeTimes {
  samples: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** GETs `url` every `everyMs` (one at a time) until `signal` aborts; latency percentiles. */
export async function timeProbes(url: string, everyMs: number, signal: AbortSignal): Promise<ProbeTimes> {
  const ms: number[] = [];
  let failures = 0;
  while (!signal.aborted) {
    const t0 = performance.now();
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      await r.arrayBuffer();
      if (!r.ok) failures++;
    } catch (e) {
      failures++;
      void e; // counted: a probe that never answered within 30 s
    }
    ms.push(performance.now() - t0);
    await Bun.sleep(everyMs);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => (ms.length ? ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]! : NaN);
  return { samples: ms.length, failures, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: ms.at(-1) ?? NaN };
}

if (import.meta.main) {
  const [url, concurrency, seconds, enc] = process.argv.slice(2);
  if (!url || !concurrency || !seconds) throw new Error("usage: scrape-load.ts URL CONCURRENCY SECONDS [gzip|identity]");
  const totals = await hammer(url, Number(concurrency), AbortSignal.timeout(Number(seconds) * 1000), enc === "gzip");
  console.log(JSON.stringify(totals));
}
