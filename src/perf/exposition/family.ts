// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The shape every exposition file shares: a family group turns the latest data of its metric types
// into Prometheus families (one file per group, as node_exporter keeps one file per collector).

import type { MetricDataMap, MetricType } from "../collector.ts";

export type Labels = Record<string, string>;
export interface Sample {
  labels: Labels;
  value: number;
}
export type Kind = "counter" | "gauge" | "untyped";

export interface Family {
  name: string;
  help: string;
  type: Kind;
  samples(): Sample[];
}

/** What a group reads: the latest data of each metric type, typed by the collector that made it. */
export interface LatestData {
  get<T extends MetricType>(type: T): MetricDataMap[T] | undefined;
  readonly userHz: number;
  readonly pageSize: number;
  /** Kernel log records seen in follow mode, by severity. */
  readonly kmsgBySeverity: ReadonlyMap<number, number>;
}

export type AddFamily = (name: string, type: Kind, help: string, samples: () => Sample[]) => void;

export interface FamilyGroup {
  /** For logs and the errors counter, like node_exporter's collector names. */
  name: string;
  /** The group's text changes only when data of these types arrives. */
  types: readonly MetricType[];
  define(data: LatestData, fam: AddFamily): void;
}

/**
 * u64 counters reach the text format as float64: Number(bigint) rounds to the nearest double, and that
 * rounding is monotonic (a >= b implies Number(a) >= Number(b)), so a growing counter never appears to
 * go down and rate()/increase() stay correct. Above 2^53 the last digits are lost, exactly as they are
 * in Prometheus' own float64 storage; nothing downstream could keep them anyway.
 */
export const n = (v: bigint | number | undefined): number => (v === undefined ? 0 : typeof v === "bigint" ? Number(v) : v);

/** A family with one unlabelled sample, or none when the value is unknown. */
export const one = (v: number | undefined): Sample[] => (v === undefined ? [] : [{ labels: {}, value: v }]);
