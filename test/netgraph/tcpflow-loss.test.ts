// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * tcpflow loss accounting on the real kernel: with a 4 KiB ring (about 40 records) and a main
 * thread that takes no batches for a while, a burst of loopback connections overflows the ring;
 * the program counts every record it could not store, and seen + lost covers every record.
 */

import { expect, test } from "bun:test";
import { Registry } from "prom-client";
import { registerEbpfMetrics, registerTcpflowMetrics, TcpflowCollector } from "../../src/ebpf/index.ts";
import { startLoopbackBurst } from "./loopback-burst.ts";

test("a full ring buffer is counted in antimetal_tcpflow_lost_total, and seen + lost covers every record", async () => {
  expect(process.getuid?.()).toBe(0);
  const reg = new Registry();
  const c = new TcpflowCollector({
    metrics: registerTcpflowMetrics(reg),
    ebpfMetrics: registerEbpfMetrics(reg),
    ringBytes: 4096,
    maxInflightBatches: 1,
    pollIntervalMs: 10,
    lostPollMs: 100,
  });
  const N = 300;
  let port = 0;
  let seen = 0;
  await c.start((f) => {
    if (port !== 0 && (f.sport === port || f.dport === port)) seen++;
  });
  try {
    const burst = await startLoopbackBurst(N);
    port = burst.port;
    burst.go();
    // Block this thread: the reader fills its in-flight budget, the ring fills, the program counts the rest.
    Bun.sleepSync(2500);
    expect(await burst.exited).toBe(0);
    await Bun.sleep(500);
  } finally {
    await c.stop();
  }
  const stats = c.stats();
  expect(stats.lostRingbufFull).toBeGreaterThan(0n);
  // 4 records per connection (connect, accept, two closes); lost may also include other traffic on the host.
  expect(BigInt(seen) + stats.lostRingbufFull).toBeGreaterThanOrEqual(BigInt(4 * N));
  const text = await reg.metrics();
  expect(text).toContain(`antimetal_tcpflow_lost_total{reason="ringbuf_full"} ${stats.lostRingbufFull}`);
}, 60_000);
