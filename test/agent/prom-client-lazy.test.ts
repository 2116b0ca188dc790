// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The compiled agent's prom-client (scripts/build-plugins.ts loads Pushgateway, the default metrics,
 * Summary and the cluster aggregator on first use) renders what the source's does, and the parts
 * loaded late still work when asked for.
 */

import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bundleWithPlugins, runJson } from "../helpers/plugin-bundle.ts";

const root = path.join(import.meta.dir, "../..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prom-client-lazy-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("bundled with the binary's plugins, prom-client renders the source's exposition and its lazy parts load on use", async () => {
  const b = await bundleWithPlugins(dir, [
    `import * as prom from ${JSON.stringify(path.join(root, "node_modules/prom-client/index.js"))};`,
    "const registry = new prom.Registry();",
    'const c = new prom.Counter({ name: "c_total", help: "a counter", labelNames: ["op"], registers: [registry] });',
    'const g = new prom.Gauge({ name: "g", help: "a gauge", registers: [registry] });',
    'const h = new prom.Histogram({ name: "h_seconds", help: "a histogram", buckets: [0.1, 1], registers: [registry] });',
    'const s = new prom.Summary({ name: "s", help: "a summary", percentiles: [0.5], registers: [registry] });',
    'c.inc({ op: "x" }, 2); g.set(3); h.observe(0.5); s.observe(4);',
    "prom.collectDefaultMetrics({ register: registry, prefix: 'd_' });",
    "const text = (await registry.metrics()).split('\\n').filter((l) => !l.startsWith('d_') && !l.startsWith('# HELP d_') && !l.startsWith('# TYPE d_')).join('\\n');",
    "const defaults = (await registry.getMetricsAsJSON()).some((m) => m.name === 'd_process_cpu_seconds_total');",
    "console.log(JSON.stringify({ text, defaults, push: typeof prom.Pushgateway, agg: typeof prom.AggregatorRegistry, keys: Object.keys(prom).sort() }));",
  ]);
  // the bundle has the late loads (so the comparison below is of the plugin's prom-client)
  expect(b.text).toMatch(/defineProperty\(exports, ["']Pushgateway["'], \{ enumerable: true, configurable: true, get:/);
  const fromSource = await runJson<{ text: string; defaults: boolean; push: string; agg: string }>(b.entry);
  const fromBundle = await runJson<{ text: string; defaults: boolean; push: string; agg: string }>(b.bundled);
  expect(fromBundle).toEqual(fromSource);
  expect(fromSource.text).toContain('c_total{op="x"} 2');
  expect(fromSource.text).toContain('s{quantile="0.5"} 4');
  expect(fromSource).toMatchObject({ defaults: true, push: "function", agg: "function" });
});
