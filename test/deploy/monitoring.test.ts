// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Monitoring the agent itself: the alert rules (deploy/helm/antimetal-agent/files/alerts.yaml) pass
// `promtool check rules` and fire as `promtool test rules` expects (Debian's prometheus package),
// and every metric the alerts and the Grafana dashboard (files/dashboard.json) query is one the
// agent serves: read from a running compiled agent's /metrics, plus the antimetal_* names declared
// in src/ (metrics of parts that are off here: intake upload, Kubernetes watch).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { freePort } from "../helpers/kube-testenv.ts";
import { binary, type Obj, REPO } from "./manifests.ts";

const FILES = path.join(REPO, "deploy/helm/antimetal-agent/files");
const ALERTS = path.join(FILES, "alerts.yaml");
const DASHBOARD = path.join(FILES, "dashboard.json");
const PROMTOOL = "/usr/bin/promtool";

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

/** Metric names a PromQL expression selects (label matchers, ranges, strings and grouping removed). */
export function metricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = s.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith("(") || KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/^\d/.test(s.slice(Math.max(0, m.index! - 1), m.index!))) continue; // 5m, 1e3
    names.add(m[0]);
  }
  return [...names];
}

/** antimetal_* names declared in src/ (a metric's `name: "..."`, or the first argument of a declaring helper such as `gauge("...", ...)`). */
function declaredNames(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) {
        for (const m of fs.readFileSync(p, "utf8").matchAll(/(?:name:\s*|\b(?:gauge|counter|histogram)\()"(antimetal_[a-z0-9_]+)"/g))
          out.add(m[1]!);
      }
    }
  };
  walk(path.join(REPO, "src"));
  return out;
}

describe("alert rules", () => {
  test("promtool check rules: the file is valid and has the six alerts", () => {
    const r = spawnSync(PROMTOOL, ["check", "rules", ALERTS], { encoding: "utf8" });
    expect({ status: r.status, err: r.status === 0 ? "" : r.stdout + r.stderr }).toEqual({ status: 0, err: "" });
    expect(r.stdout).toContain("SUCCESS: 6 rules found");
  });

  test("promtool test rules: each alert fires on its trigger and not on a healthy agent", () => {
    const r = spawnSync(PROMTOOL, ["test", "rules", path.join(REPO, "test/fixtures/deploy/alerts-promtool-test.yaml")], {
      encoding: "utf8",
    });
    expect({ status: r.status, out: r.status === 0 ? "" : r.stdout + r.stderr }).toEqual({ status: 0, out: "" });
    // Every alert of the file is exercised by the fixture.
    const fixture = fs.readFileSync(path.join(REPO, "test/fixtures/deploy/alerts-promtool-test.yaml"), "utf8");
    const rules = (parseYaml(fs.readFileSync(ALERTS, "utf8")) as Obj).groups.flatMap((g: Obj) => g.rules);
    for (const rule of rules) expect(`${rule.alert}: ${fixture.includes(`alertname: ${rule.alert}`)}`).toBe(`${rule.alert}: true`);
  });
});

describe("alerts and dashboard query metrics the agent serves", () => {
  let child: ChildProcess;
  let dir: string;
  let served = new Set<string>();
  let declared = new Set<string>();

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-monitoring-"));
    const [health, metrics] = [await freePort(), await freePort()];
    child = spawn(
      binary("amd64"),
      [
        "run",
        `--data-directory=${dir}`,
        "--intake-address=",
        "--enable-kubernetes-controller=false",
        "--leader-elect=false",
        "--enable-performance-collectors",
        "--collectors=all,execsnoop",
        `--metrics-bind-address=127.0.0.1:${metrics}`,
        `--health-probe-bind-address=127.0.0.1:${health}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, TMPDIR: dir } },
    );
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      if (
        (await fetch(`http://127.0.0.1:${health}/readyz`).then(
          (r) => r.status,
          () => 0,
        )) === 200
      )
        break;
      await Bun.sleep(200);
    }
    await Bun.sleep(2000); // a first collection cycle
    const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
    served = new Set(
      text
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
    );
    declared = declaredNames();
  }, 60000);
  afterAll(() => {
    child?.kill("SIGTERM");
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const known = (name: string) =>
    name === "up" ||
    served.has(name) ||
    declared.has(name) ||
    ["_bucket", "_sum", "_count"].some((s) => name.endsWith(s) && declared.has(name.slice(0, -s.length)));

  test("the running agent serves its self-metrics (the names the dashboard is built on)", () => {
    for (const n of [
      "antimetal_build_info",
      "antimetal_agent_uptime_seconds",
      "process_resident_memory_bytes",
      "process_cpu_seconds_total",
      "antimetal_js_heap_used_bytes",
      "antimetal_event_loop_lag_seconds",
      "antimetal_component_state",
      "antimetal_queue_depth",
      "antimetal_collector_up",
      "antimetal_execsnoop_events_total",
    ]) {
      expect(`${n}: ${served.has(n)}`).toBe(`${n}: true`);
    }
    expect(declared.has("antimetal_intake_outbox_depth")).toBe(true);
    expect(declared.has("antimetal_kube_leader")).toBe(true);
  });

  test("every alert expression names known metrics", () => {
    const rules = (parseYaml(fs.readFileSync(ALERTS, "utf8")) as Obj).groups.flatMap((g: Obj) => g.rules);
    const unknown = rules.flatMap((r: Obj) =>
      metricNames(r.expr)
        .filter((n) => !known(n))
        .map((n) => `${r.alert}: ${n}`),
    );
    expect(unknown).toEqual([]);
    expect([...new Set(rules.flatMap((r: Obj) => metricNames(r.expr)))].sort()).toEqual([
      "antimetal_collector_up",
      "antimetal_ebpf_records_rejected_total",
      "antimetal_execsnoop_lost_total",
      "antimetal_intake_dropped_total",
      "antimetal_intake_outbox_depth",
      "antimetal_intake_outbox_oldest_age_seconds",
      "antimetal_kube_leader",
      "antimetal_queue_dropped_total",
      "up",
    ]);
  });

  test("every dashboard query names known metrics; panels and variables are well formed", () => {
    const dash = JSON.parse(fs.readFileSync(DASHBOARD, "utf8")) as Obj;
    expect(dash.uid).toBe("antimetal-agent");
    expect(dash.templating.list.map((v: Obj) => v.name)).toEqual(["datasource", "instance"]);
    const panels = dash.panels.filter((p: Obj) => p.type !== "row");
    expect(panels.length).toBeGreaterThanOrEqual(20);
    expect(new Set(dash.panels.map((p: Obj) => p.id)).size).toBe(dash.panels.length);
    const exprs: [string, string][] = panels.flatMap((p: Obj) => p.targets.map((t: Obj) => [p.title, t.expr] as [string, string]));
    exprs.push(["variable instance", dash.templating.list[1].query.query.replace(/^label_values\((\w+),.*$/, "$1")]);
    const unknown = exprs.flatMap(([title, e]) =>
      metricNames(e)
        .filter((n) => !known(n))
        .map((n) => `${title}: ${n}`),
    );
    expect(unknown).toEqual([]);
    // Each panel queries something, filtered by the instance variable.
    for (const p of panels) {
      expect(p.targets.length).toBeGreaterThan(0);
      for (const t of p.targets) expect(`${p.title}: ${t.expr.includes('instance=~"$instance"')}`).toBe(`${p.title}: true`);
    }
  });

  test("the name extraction sees through functions, grouping, matchers and ranges", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (collector, le) (rate(a_bucket{instance=~"$instance"}[5m])))')).toEqual([
      "a_bucket",
    ]);
    expect(metricNames('time() - b_seconds{x="y"} and on (instance) c > 5').sort()).toEqual(["b_seconds", "c"]);
  });
});
