// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A small validating parser of the Prometheus text exposition format (what node_exporter's textfile
// collector accepts in *.prom files) and its renderer. Errors name the line, as expfmt's do.

export type PromType = "counter" | "gauge" | "histogram" | "summary" | "untyped";
const TYPES = new Set<PromType>(["counter", "gauge", "histogram", "summary", "untyped"]);

export interface PromSample {
  /** The sample's own name (a histogram's foo_bucket, foo_sum, foo_count). */
  name: string;
  labels: [string, string][];
  value: number;
  timestampMs?: number;
}

export interface PromFamily {
  name: string;
  help?: string;
  type?: PromType;
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|[Nn]a[Nn]|[Ii]nf(?:inity)?)$/;
const SUFFIXES: Record<string, string[]> = { histogram: ["_bucket", "_sum", "_count"], summary: ["_sum", "_count"] };

/** Parses a float as Go's strconv.ParseFloat accepts it in the text format (NaN, +Inf, -Inf, exponents). */
export function parsePromFloat(s: string): number | undefined {
  if (!FLOAT.test(s)) return undefined;
  const lower = s.toLowerCase().replace(/^\+/, "");
  if (lower === "nan") return Number.NaN;
  if (lower === "inf" || lower === "infinity") return Number.POSITIVE_INFINITY;
  if (lower === "-inf" || lower === "-infinity") return Number.NEGATIVE_INFINITY;
  return Number(s);
}

/**
 * Parses text-format exposition into families, in first-seen order. Throws `text format parsing error in
 * line N: ...` on a malformed line, a HELP or TYPE given twice, a TYPE after its samples, an unknown type,
 * or the same series twice.
 */
export function parsePromText(text: string): PromFamily[] {
  const families = new Map<string, PromFamily>();
  const seriesSeen = new Set<string>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, samples: [] }));
    return f;
  };
  const rows = text.split("\n");
  for (const [i, raw] of rows.entries()) {
    const line = raw.replace(/\r$/, "");
    const fail = (what: string): never => {
      throw new Error(`text format parsing error in line ${i + 1}: ${what}`);
    };
    if (line.trim() === "") continue;
    if (line.trimStart().startsWith("#")) {
      const m = /^\s*#\s*(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      const [, keyword, name, rest = ""] = m;
      if (!METRIC_NAME.test(name!)) fail(`invalid metric name "${name}"`);
      const f = family(name!);
      if (keyword === "HELP") {
        if (f.help !== undefined) fail(`second HELP line for metric name "${name}"`);
        f.help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\"));
      } else {
        const t = rest.trim() as PromType;
        if (f.type !== undefined) fail(`second TYPE line for metric name "${name}", or TYPE reported after samples`);
        if (!TYPES.has(t)) fail(`unknown metric type "${rest.trim()}"`);
        if (f.samples.length > 0) fail(`TYPE line for metric name "${name}" after its samples`);
        f.type = t;
      }
      continue;
    }
    const sample = parseSampleLine(line, fail);
    const owner = familyOf(sample.name, families);
    const key = `${sample.name}\u0000${[...sample.labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).join("\u0000")}`;
    if (seriesSeen.has(key)) fail(`series ${sample.name} with the same labels given twice`);
    seriesSeen.add(key);
    family(owner).samples.push(sample);
  }
  return [...families.values()].filter((f) => f.samples.length > 0);
}

/** The family a sample belongs to: foo_bucket/_sum/_count go to foo when foo was TYPEd histogram or summary. */
function familyOf(name: string, families: Map<string, PromFamily>): string {
  for (const [type, suffixes] of Object.entries(SUFFIXES)) {
    for (const s of suffixes) {
      if (!name.endsWith(s)) continue;
      const base = families.get(name.slice(0, -s.length));
      if (base?.type === type) return base.name;
    }
  }
  return name;
}

function parseSampleLine(line: string, fail: (what: string) => never): PromSample {
  const m = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*/.exec(line);
  if (!m) return fail(`invalid metric name in "${line}"`);
  const name = m[1]!;
  let pos = m[0].length;
  const labels: [string, string][] = [];
  if (line[pos] === "{") {
    pos++;
    for (;;) {
      while (line[pos] === " " || line[pos] === "\t") pos++;
      if (line[pos] === "}") {
        pos++;
        break;
      }
      const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(pos));
      if (!ln) return fail(`invalid label name for metric "${name}"`);
      pos += ln[0].length;
      while (line[pos] === " ") pos++;
      if (line[pos] !== "=") return fail(`expected '=' after label name "${ln[0]}"`);
      pos++;
      while (line[pos] === " ") pos++;
      if (line[pos] !== '"') return fail(`expected '"' to start the value of label "${ln[0]}"`);
      pos++;
      let value = "";
      for (;;) {
        const c = line[pos];
        if (c === undefined) return fail(`unterminated value of label "${ln[0]}"`);
        pos++;
        if (c === '"') break;
        if (c === "\\") {
          const e = line[pos++];
          if (e === "n") value += "\n";
          else if (e === "\\" || e === '"') value += e;
          else return fail(`invalid escape sequence '\\${e ?? ""}' in label value`);
        } else value += c;
      }
      if (labels.some(([k]) => k === ln[0])) return fail(`duplicate label name "${ln[0]}"`);
      if (!LABEL_NAME.test(ln[0])) return fail(`invalid label name "${ln[0]}"`);
      labels.push([ln[0], value]);
      while (line[pos] === " ") pos++;
      if (line[pos] === ",") pos++;
      else if (line[pos] !== "}") return fail(`expected ',' or '}' after the value of label "${ln[0]}"`);
    }
  }
  const rest = line.slice(pos).trim().split(/\s+/);
  if (rest.length === 0 || rest[0] === "") return fail(`no value for metric "${name}"`);
  if (rest.length > 2) return fail(`unexpected text after the value of metric "${name}"`);
  const value = parsePromFloat(rest[0]!);
  if (value === undefined) return fail(`expected float as value, got "${rest[0]}"`);
  const sample: PromSample = { name, labels, value };
  if (rest[1] !== undefined) {
    if (!/^-?\d+$/.test(rest[1])) return fail(`expected integer as timestamp, got "${rest[1]}"`);
    sample.timestampMs = Number(rest[1]);
  }
  return sample;
}

/** A float as the text format writes it. */
export function formatPromFloat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/** Renders families in the text format (HELP and TYPE always written, as client libraries do). */
export function renderPromText(families: readonly PromFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help ?? "")}`, `# TYPE ${f.name} ${f.type ?? "untyped"}`);
    for (const s of f.samples) {
      const labels = s.labels.length ? `{${s.labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
      out.push(`${s.name}${labels} ${formatPromFloat(s.value)}`);
    }
  }
  return out.length ? `${out.join("\n")}\n` : "";
}
