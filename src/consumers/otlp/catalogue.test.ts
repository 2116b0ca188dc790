// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The catalogue where the original is wrong: each attribute variant keeps its own value (no aliasing),
// counters are cumulative kernel totals with a start time that moves on a reset, utilisation is per
// interval, kernel messages are counted once, u64 past int64 survives.

import { expect, test } from "bun:test";
import { toBinary } from "@bufbuild/protobuf";
import type { MetricEvent } from "../../perf/collector.ts";
import { ExportMetricsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.ts";
import { type Attrs, CumulativeState, RequestBuilder } from "./batch.ts";
import { addEvent, CatalogueState } from "./catalogue.ts";

const NET_ZERO = Object.fromEntries(
  ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped", "speed"].map((k) => [k, 0n]),
);
const ev = (metricType: string, data: unknown, ms = 1000): MetricEvent =>
  ({ timestamp: new Date(ms), metricType, eventType: "gauge", nodeName: "n", data }) as MetricEvent;

function points(events: MetricEvent[], state = new CatalogueState(), cumulative = new CumulativeState(5n)) {
  const b = new RequestBuilder(cumulative, { "host.name": "n" });
  for (const e of events) addEvent(b, e, state);
  const req = b.build([["service.name", "s"]]);
  toBinary(ExportMetricsServiceRequestSchema, req); // encodes
  return req.resourceMetrics[0]!.scopeMetrics[0]!.metrics.flatMap((m) =>
    (
      m.data.value!.dataPoints as {
        attributes: { key: string; value?: { value: { value: unknown } } }[];
        value: { value: unknown };
        startTimeUnixNano: bigint;
      }[]
    ).map((p) => ({
      name: m.name,
      attrs: Object.fromEntries(p.attributes.map((a) => [a.key, a.value?.value.value])) as Attrs,
      value: p.value.value,
      start: p.startTimeUnixNano,
    })),
  );
}

test("each attribute variant keeps its own value (the original put the last one under every label)", () => {
  const mem = { mem_total: 100n, mem_free: 10n, mem_available: 40n, swap_total: 50n, swap_free: 20n, s_reclaimable: 3n, s_unreclaim: 4n };
  const ps = points([ev("memory", mem), ev("network", [{ ...NET_ZERO, interface: "eth0", rx_bytes: 7n, tx_bytes: 9n }])]);
  const get = (name: string, attrs: Attrs) =>
    ps.find((p) => p.name === name && Object.entries(attrs).every(([k, v]) => p.attrs[k] === v))?.value;
  expect(get("system.memory.swap_usage", { state: "free" })).toBe(20n);
  expect(get("system.memory.swap_usage", { state: "used" })).toBe(30n);
  expect(get("system.memory.slab", { type: "reclaimable" })).toBe(3n);
  expect(get("system.memory.slab", { type: "unreclaimable" })).toBe(4n);
  expect(get("system.network.io", { direction: "receive" })).toBe(7n);
  expect(get("system.network.io", { direction: "transmit" })).toBe(9n);
});

test("counters: the kernel's total since boot; a value going backwards starts the series anew at the last point", () => {
  const state = new CatalogueState();
  const cumulative = new CumulativeState(5n);
  const sys = (n: bigint, ms: number) => ev("system", { interrupts: n, context_switches: 1n }, ms);
  expect(points([sys(100n, 1000)], state, cumulative)[0]).toMatchObject({ value: 100n, start: 5n });
  expect(points([sys(150n, 2000)], state, cumulative)[0]).toMatchObject({ value: 150n, start: 5n });
  expect(points([sys(3n, 3000)], state, cumulative)[0]).toMatchObject({ value: 3n, start: 2000n * 1_000_000n });
});

test("u64 counters past int64 are clamped, gauges past int64 go as doubles; exact below", () => {
  const big = (1n << 64n) - 1n;
  const ps = points([ev("system", { interrupts: big, context_switches: 9007199254740993n }), ev("disk", [])]);
  expect(ps.find((p) => p.name === "system.interrupts")!.value).toBe((1n << 63n) - 1n);
  expect(ps.find((p) => p.name === "system.context_switches")!.value).toBe(9007199254740993n);
});

test("cpu utilisation is over the interval since the last collection (since boot on the first)", () => {
  const zero = { nice: 0n, system: 0n, io_wait: 0n, irq: 0n, soft_irq: 0n, steal: 0n, guest: 0n, guest_nice: 0n };
  const state = new CatalogueState();
  const first = points([ev("cpu", [{ cpu_index: -1, ...zero, user: 10n, idle: 90n }])], state);
  expect(first.find((p) => p.attrs.state === "user")!.value).toBeCloseTo(0.1);
  const second = points([ev("cpu", [{ cpu_index: -1, ...zero, user: 60n, idle: 140n }])], state);
  expect(second.find((p) => p.attrs.state === "user")!.value).toBeCloseTo(0.5);
  expect(second.find((p) => p.attrs.state === "user")!.attrs.cpu).toBe("-1");
});

test("kernel messages: counted per severity, each sequence number once", () => {
  const rec = (seq: bigint, severity: number) => ({
    sequence_num: seq,
    severity,
    facility: 0,
    timestamp: "",
    message: "m",
    subsystem: "",
    device: "",
  });
  const state = new CatalogueState();
  points([ev("kernel", [rec(1n, 3), rec(2n, 3), rec(3n, 6)])], state);
  const again = points([ev("kernel", [rec(2n, 3), rec(3n, 6), rec(4n, 3)])], state);
  expect(Object.fromEntries(again.map((p) => [p.attrs.severity, p.value]))).toEqual({ severity_3: 3n, severity_6: 1n });
});

test("types outside the catalogue (inventory, cgroups, node_exporter-only families) are not sent", () => {
  const b = new RequestBuilder(new CumulativeState(0n), {});
  expect(addEvent(b, ev("cpu_info", {}), new CatalogueState())).toBe(false);
  expect(addEvent(b, ev("pressure", {}), new CatalogueState())).toBe(false);
  expect(b.points).toBe(0);
});
