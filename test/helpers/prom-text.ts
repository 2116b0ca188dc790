// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Test helper: parses Prometheus text exposition (0.0.4) into families with their TYPE, label names and
// samples, and runs `promtool check metrics` on a body, so tests can compare two exporters.

import { spawnSync } from "node:child_process";

export const PROMTOOL = "/usr/bin/promtool";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  /** Label names seen on any sample (le and quantile of histograms/summaries left out). */
  labelNames: Set<string>;
  samples: Sample[];
}

const SUFFIXES = ["_bucket", "_sum", "_count", "_total", "_created"];

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    labels[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    end = re.lastIndex;
  }
  if (end !== text.length) throw new Error(`cannot parse labels of line: ${line}`);
  return labels;
}

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  const v = Number(text);
  if (Number.isNaN(v)) throw new Error(`cannot parse value of line: ${line}`);
  return v;
}

/** Families by name. A sample without a TYPE line becomes its own "untyped" family. Throws on a line it cannot read. */
export function parseExposition(body: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string, type: string) => {
    const f = { name, type, labelNames: new Set<string>(), samples: [] };
    families.set(name, f);
    return f;
  };
  for (const line of body.split("\n")) {
    const typeLine = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typeLine) {
      family(typeLine[1]!, typeLine[2]!);
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) throw new Error(`cannot parse line: ${line}`);
    const name = m[1]!;
    let f = families.get(name);
    for (const suffix of SUFFIXES) {
      if (f) break;
      if (name.endsWith(suffix)) f = families.get(name.slice(0, -suffix.length));
    }
    f ??= family(name, "untyped");
    const labels = parseLabels(m[2] ?? "", line);
    for (const label of Object.keys(labels)) if (label !== "le" && label !== "quantile") f.labelNames.add(label);
    f.samples.push({ name, labels, value: parseValue(m[3]!, line) });
  }
  return families;
}

/** The family a sample name belongs to (`x_count` of a histogram is in family `x`). */
function familyOf(families: Map<string, Family>, name: string): Family | undefined {
  const exact = families.get(name);
  if (exact) return exact;
  const suffix = SUFFIXES.find((s) => name.endsWith(s) && families.has(name.slice(0, -s.length)));
  return suffix ? families.get(name.slice(0, -suffix.length)) : undefined;
}

/** The value of the first sample of `name` whose labels include `match`, or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number | undefined {
  const f = familyOf(families, name);
  const hit = f?.samples.find((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  return hit?.value;
}

export interface PromtoolResult {
  /** 0: clean; 3: lint problems only; anything else: the body could not be parsed. */
  status: number;
  /** One problem per line (lint findings or the parse error). */
  problems: string[];
}

/** Runs `promtool check metrics` with the body on stdin. */
export function promtoolCheckMetrics(body: string): PromtoolResult {
  const r = spawnSync(PROMTOOL, ["check", "metrics"], { input: body, encoding: "utf8", timeout: 60_000 });
  if (r.error) throw new Error(`cannot run ${PROMTOOL}: ${r.error.message}`);
  const problems = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.trim() !== "");
  return { status: r.status ?? -1, problems };
}
