// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// container_* on /metrics of the compiled agent for a real container under containerd (Debian's, with runc),
// as on a bare containerd host: `ctr run` with a memory limit, a CPU quota and the CRI annotations kubelet's
// containers carry, burning CPU. The agent finds it in the cgroup tree, labels it from containerd's task
// bundle (its state dir is the host root's run/containerd, HOST_ROOT pointing at it), and drops its series
// once the container is deleted.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type AgentProcess, startAgent } from "../helpers/agent-process.ts";
import { promtoolCheckMetrics } from "../helpers/prom-text.ts";

const NS = `rtm-${process.pid}`;
const LIMIT = 64 * 1024 * 1024;
const IMAGE = "docker.io/library/busybox:1.36";

describe("container metrics of a real container under containerd", () => {
  let work: string;
  let daemon: ChildProcess | undefined;
  let agent: AgentProcess | undefined;
  let sock: string;
  const ctr = (args: string[]) => spawnSync("ctr", ["--address", sock, "--namespace", NS, ...args], { encoding: "utf8", timeout: 60_000 });
  const scrape = async () => (await fetch(`http://127.0.0.1:${agent!.ports.metrics}/metrics`)).text();
  /** The body once `ready` accepts it. */
  async function waitFor(ready: (body: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let body = "";
    while (Date.now() < deadline) {
      body = await scrape();
      if (ready(body)) return body;
      await Bun.sleep(200);
    }
    throw new Error(
      `${what} not seen within ${timeoutMs} ms; container_* lines:\n${body
        .split("\n")
        .filter((l) => l.startsWith("container_"))
        .join("\n")}`,
    );
  }

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-ctrmetrics-"));
    sock = path.join(work, "containerd.sock");
    const hostRoot = path.join(work, "host");
    fs.mkdirSync(path.join(hostRoot, "run/containerd"), { recursive: true });
    fs.writeFileSync(
      path.join(work, "config.toml"),
      [
        "version = 2",
        `root = "${work}/root"`,
        `state = "${hostRoot}/run/containerd"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${sock}"`,
        "",
      ].join("\n"),
    );
    const log = fs.openSync(path.join(work, "containerd.log"), "w");
    daemon = spawn("containerd", ["--config", path.join(work, "config.toml")], { stdio: ["ignore", log, log] });
    const deadline = Date.now() + 20_000;
    while (!(fs.existsSync(sock) && ctr(["version"]).status === 0)) {
      if (Date.now() > deadline)
        throw new Error(`containerd did not start: ${fs.readFileSync(path.join(work, "containerd.log"), "utf8").slice(-2000)}`);
      await Bun.sleep(100);
    }
    // A root filesystem of the host's /usr (merged-usr Debian): enough for /bin/sh.
    const rootfs = path.join(work, "rootfs");
    for (const d of ["usr", "proc", "dev", "sys", "tmp", "etc"]) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
    for (const l of ["bin", "lib", "lib64", "sbin"])
      if (fs.existsSync(`/${l}`)) fs.symlinkSync(fs.readlinkSync(`/${l}`), path.join(rootfs, l));
    agent = await startAgent(
      [
        ...["--data-directory", "", "--intake-address", "", "--enable-kubernetes-controller=false", "--enable-performance-collectors"],
        ...["--collectors", "container_metrics", "--collector-intervals", "container_metrics=500ms"],
      ],
      { HOST_ROOT: hostRoot },
    );
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    daemon?.kill("SIGTERM");
    if (daemon && daemon.exitCode === null) await new Promise((r) => daemon!.once("exit", r));
    for (const h of fs.existsSync("/sys/fs/cgroup/cgroup.controllers") ? [""] : fs.readdirSync("/sys/fs/cgroup")) {
      const dir = path.join("/sys/fs/cgroup", h, NS);
      if (fs.existsSync(dir)) fs.rmdirSync(dir);
    }
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test("limits, labels, CPU use growing, throttling; the series vanish once the container is deleted", async () => {
    const id = randomBytes(32).toString("hex");
    const run = ctr([
      ...["run", "-d", "--rootfs", "--mount", "type=bind,src=/usr,dst=/usr,options=rbind:ro"],
      ...["--memory-limit", String(LIMIT), "--cpu-quota", "20000", "--cpu-period", "100000"],
      ...["--annotation", "io.kubernetes.cri.container-name=burner", "--annotation", "io.kubernetes.cri.sandbox-name=burner-pod"],
      ...["--annotation", "io.kubernetes.cri.sandbox-namespace=team-a", "--annotation", `io.kubernetes.cri.image-name=${IMAGE}`],
      ...[path.join(work, "rootfs"), id, "/bin/sh", "-c", "while :; do :; done"],
    ]);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: "" });
    const labels = `container="burner",id="/${NS}/${id}",image="${IMAGE}",name="${id}",namespace="team-a",pod="burner-pod"`;
    const value = (body: string, family: string, extra = "") => {
      const l = extra ? labels.replace(`id=`, `${extra},id=`) : labels;
      const line = body.split("\n").find((x) => x.startsWith(`${family}{${l}} `));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
    };
    try {
      const cpuLine = (b: string) => value(b, "container_cpu_usage_seconds_total", 'cpu="total"');
      const first = await waitFor((b) => (cpuLine(b) ?? 0) > 0, "the container's CPU usage");
      expect(value(first, "container_spec_memory_limit_bytes")).toBe(LIMIT);
      expect(value(first, "container_spec_cpu_quota")).toBe(20000);
      expect(value(first, "container_spec_cpu_period")).toBe(100000);
      expect(value(first, "container_memory_usage_bytes")).toBeGreaterThan(0);
      expect(value(first, "container_memory_working_set_bytes")).toBeLessThanOrEqual(value(first, "container_memory_usage_bytes")!);
      const start = value(first, "container_start_time_seconds")!;
      expect(Math.abs(start - Date.now() / 1000)).toBeLessThan(120);
      const later = await waitFor((b) => (cpuLine(b) ?? 0) > cpuLine(first)! + 0.1, "CPU usage growing");
      // 0.2 CPU of quota for a busy loop: most periods are throttled.
      expect(value(later, "container_cpu_cfs_throttled_periods_total")).toBeGreaterThan(0);
      expect(value(later, "container_cpu_cfs_throttled_seconds_total")).toBeGreaterThan(0);
      expect(value(later, "container_cpu_user_seconds_total")! + value(later, "container_cpu_system_seconds_total")!).toBeGreaterThan(0);
      // The served count and the whole body as Prometheus reads it.
      expect(later).toMatch(/^antimetal_queue_depth\{queue="container_metrics_containers"\} [1-9]\d*$/m);
      const check = promtoolCheckMetrics(later);
      expect([0, 3]).toContain(check.status);
      expect(check.problems.filter((p) => p.startsWith("container_"))).toEqual(
        fs.existsSync("/sys/fs/cgroup/cgroup.controllers") ? [] : ['container_memory_failcnt counter metrics should have "_total" suffix'],
      );
    } finally {
      ctr(["task", "kill", "--signal", "SIGKILL", id]);
      for (let i = 0; i < 50 && ctr(["task", "delete", id]).status !== 0; i++) await Bun.sleep(100);
      ctr(["container", "delete", id]);
    }
    const after = await waitFor((b) => !b.includes(id), "the deleted container's series gone");
    expect(after.split("\n").filter((l) => l.startsWith("container_") && l.includes(`/${NS}/`))).toEqual([]);
  }, 90_000);
});
