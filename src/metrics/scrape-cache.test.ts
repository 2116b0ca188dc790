// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The shared /metrics body: one render per change however many scrapes, self metrics refreshed by age.

import { expect, test } from "bun:test";
import { Counter, Registry } from "prom-client";
import { type ExpositionSource, joinExpositions, ScrapeCache } from "./scrape-cache.ts";

function source(text: () => string) {
  let renders = 0;
  const s = {
    version: 0,
    get renders() {
      return renders;
    },
    async render() {
      renders++;
      await Bun.sleep(5);
      return text();
    },
  };
  return s satisfies ExpositionSource;
}

test("concurrent scrapes share one render; a source is rendered again only when its version changes, the self metrics with it or when aged", async () => {
  const registry = new Registry();
  let selfRenders = 0;
  new Counter({ name: "self_total", help: "Self.", registers: [registry], collect: () => void selfRenders++ });
  let value = 1;
  const host = source(() => `# HELP host_value Host.\n# TYPE host_value gauge\nhost_value ${value}\n`);
  let now = 0;
  const cache = new ScrapeCache({ registry, sources: [host], selfMaxAgeMs: 1000, now: () => now });
  const bodies = await Promise.all(Array.from({ length: 50 }, () => cache.current()));
  expect(new Set(bodies).size).toBe(1);
  expect(host.renders).toBe(1);
  expect(selfRenders).toBe(1);
  const text = new TextDecoder().decode(bodies[0]!.text);
  expect(text).toBe(
    "# HELP self_total Self.\n# TYPE self_total counter\nself_total 0\n\n# HELP host_value Host.\n# TYPE host_value gauge\nhost_value 1\n",
  );

  now = 999;
  await cache.current();
  expect([host.renders, selfRenders]).toEqual([1, 1]);
  value = 2;
  host.version++;
  expect(new TextDecoder().decode((await cache.current()).text)).toContain("host_value 2\n");
  // new collector data re-renders the self metrics with it (last-success timestamps match the data)
  expect([host.renders, selfRenders]).toEqual([2, 2]);
  now = 1500;
  await cache.current();
  expect([host.renders, selfRenders]).toEqual([2, 2]); // both fresh
  now = 1999;
  await cache.current();
  expect([host.renders, selfRenders]).toEqual([2, 3]); // self metrics aged out, host unchanged
});

test("gzip is made once per body and decodes to the text", async () => {
  const registry = new Registry();
  new Counter({ name: "self_total", help: "Self.", registers: [registry] });
  const cache = new ScrapeCache({ registry, now: () => 0 });
  const body = await cache.current();
  const gz = body.gzip();
  expect(body.gzip()).toBe(gz);
  expect(Buffer.from(Bun.gunzipSync(new Uint8Array(gz)))).toEqual(Buffer.from(body.text));
});

test("joined text is what one registry holding every family renders", async () => {
  const one = new Registry();
  const a = new Registry();
  const b = new Registry();
  for (const [name, regs] of [
    ["a_total", [one, a]],
    ["b_total", [one, b]],
  ] as const)
    new Counter({ name, help: name, registers: [...regs] }).inc(2);
  expect(joinExpositions([await a.metrics(), await b.metrics()])).toBe(await one.metrics());
  expect(joinExpositions([await new Registry().metrics(), await b.metrics()])).toBe(await b.metrics());
  expect(joinExpositions([])).toBe(await new Registry().metrics());
});
