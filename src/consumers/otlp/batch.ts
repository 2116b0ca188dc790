// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Builds one OTLP ExportMetricsServiceRequest from data points: metrics grouped by instrument (name,
// kind, unit), each attribute set built on its own (no shared, aliased attribute slices), cumulative
// sums carrying the kernel's own counter with a start time per series (boot, or the last reset seen).

import { create } from "@bufbuild/protobuf";
import {
  type ExportMetricsServiceRequest,
  ExportMetricsServiceRequestSchema,
} from "../../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.ts";
import { type KeyValue, KeyValueSchema } from "../../proto/gen/opentelemetry/proto/common/v1/common_pb.ts";
import {
  AggregationTemporality,
  type Metric,
  MetricSchema,
  type NumberDataPoint,
  NumberDataPointSchema,
} from "../../proto/gen/opentelemetry/proto/metrics/v1/metrics_pb.ts";
import { SCOPE } from "./config.ts";

export type Attrs = Record<string, string>;
/** gauge: an Int64/Float64 gauge; counter: a monotonic cumulative sum. */
export type InstrumentKind = "gauge" | "counter";

const INT64_MAX = (1n << 63n) - 1n;

export function keyValues(attrs: Attrs): KeyValue[] {
  return Object.entries(attrs).map(([key, v]) => create(KeyValueSchema, { key, value: { value: { case: "stringValue", value: v } } }));
}

function seriesKey(name: string, attrs: Attrs): string {
  return (
    name +
    "\u0000" +
    Object.keys(attrs)
      .sort()
      .map((k) => `${k}=${attrs[k]}`)
      .join("\u0000")
  );
}

/** Start time and last value of every cumulative series, kept across batches (bounded by the host's series). */
export class CumulativeState {
  private readonly series = new Map<string, { start: bigint; last: bigint; lastTime: bigint }>();
  constructor(
    /** Start of a series first seen: the host's boot time (kernel counters count from boot), ns. */
    private readonly defaultStartNs: bigint,
    /** Series beyond this many are not tracked (their start is the default). */
    private readonly maxSeries = 100_000,
  ) {}

  /** The start time of this point; a value lower than the last one is a reset and starts the series anew. */
  startOf(name: string, attrs: Attrs, value: bigint, timeNs: bigint): bigint {
    const key = seriesKey(name, attrs);
    const s = this.series.get(key);
    if (!s) {
      if (this.series.size < this.maxSeries) this.series.set(key, { start: this.defaultStartNs, last: value, lastTime: timeNs });
      return this.defaultStartNs;
    }
    if (value < s.last) s.start = s.lastTime;
    s.last = value;
    s.lastTime = timeNs;
    return s.start;
  }

  get size(): number {
    return this.series.size;
  }
}

/** Collects data points into one request, one Metric per (name, kind, unit). */
export class RequestBuilder {
  private readonly metrics = new Map<string, Metric>();
  points = 0;

  constructor(
    private readonly state: CumulativeState,
    /** Attributes every point carries (host.name, service.instance.id, service.version, ...). */
    private readonly base: Attrs,
  ) {}

  private metric(name: string, kind: InstrumentKind, unit: string): Metric {
    const key = `${kind}:${name}:${unit}`;
    let m = this.metrics.get(key);
    if (!m) {
      m = create(MetricSchema, {
        name,
        unit,
        data:
          kind === "gauge"
            ? { case: "gauge", value: { dataPoints: [] } }
            : { case: "sum", value: { dataPoints: [], aggregationTemporality: AggregationTemporality.CUMULATIVE, isMonotonic: true } },
      });
      this.metrics.set(key, m);
    }
    return m;
  }

  private push(m: Metric, p: NumberDataPoint): void {
    (m.data.value as { dataPoints: NumberDataPoint[] }).dataPoints.push(p);
    this.points++;
  }

  /** An integer gauge point (Int64Gauge). u64 beyond int64 is sent as a double. */
  gaugeInt(name: string, unit: string, value: bigint | number, attrs: Attrs, timeNs: bigint): void {
    const v = BigInt(value);
    this.push(
      this.metric(name, "gauge", unit),
      create(NumberDataPointSchema, {
        attributes: keyValues({ ...this.base, ...attrs }),
        timeUnixNano: timeNs,
        value: v > INT64_MAX ? { case: "asDouble", value: Number(v) } : { case: "asInt", value: v },
      }),
    );
  }

  /** A floating-point gauge point (Float64Gauge). */
  gaugeDouble(name: string, unit: string, value: number, attrs: Attrs, timeNs: bigint): void {
    this.push(
      this.metric(name, "gauge", unit),
      create(NumberDataPointSchema, {
        attributes: keyValues({ ...this.base, ...attrs }),
        timeUnixNano: timeNs,
        value: { case: "asDouble", value },
      }),
    );
  }

  /** A monotonic cumulative sum point whose value is the counter's total since its start. */
  counter(name: string, unit: string, total: bigint, attrs: Attrs, timeNs: bigint): void {
    const all = { ...this.base, ...attrs };
    const v = total > INT64_MAX ? INT64_MAX : total;
    this.push(
      this.metric(name, "counter", unit),
      create(NumberDataPointSchema, {
        attributes: keyValues(all),
        startTimeUnixNano: this.state.startOf(name, all, total, timeNs),
        timeUnixNano: timeNs,
        value: { case: "asInt", value: v },
      }),
    );
  }

  build(resource: [string, string][]): ExportMetricsServiceRequest {
    return create(ExportMetricsServiceRequestSchema, {
      resourceMetrics: [
        {
          resource: { attributes: keyValues(Object.fromEntries(resource)) },
          scopeMetrics: [{ scope: { name: SCOPE.name, version: SCOPE.version }, metrics: [...this.metrics.values()] }],
        },
      ],
    });
  }
}
