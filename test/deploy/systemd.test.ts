// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// deploy/systemd: the unit passes `systemd-analyze verify` and the offline security review, and
// the agent works with exactly the unit's identity and capabilities: a non-root uid whose only
// capabilities (ambient, bounding, permitted) are the unit's AmbientCapabilities, no new
// privileges, its ExecStart flags, environment file and state directory. (CI machines do not
// boot systemd as PID 1, so setpriv and a read-only mount namespace apply what systemd would.)

import { describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { binary, DEPLOY, find, kustomizeBuild, type Obj, REPO } from "./manifests.ts";

const UNIT = path.join(REPO, "deploy/systemd/antimetal-agent.service");
const ENV_FILE = path.join(REPO, "deploy/systemd/agent.env");
const INSTALLED_PATH = "/usr/local/bin/antimetal-agent";
const TEST_UID = 61934;

/** `Key=value` lines of one section, continuation lines joined. */
function unitSettings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lines = text.replace(/\\\n\s*/g, " ").split("\n");
  for (const l of lines) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(l.trim());
    if (!m) continue;
    out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!.trim()]);
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

function bytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(q);
  if (!m) throw new Error(`quantity ${q}`);
  const mult: Record<string, number> = { "": 1, K: 1024, Ki: 1024, M: 1024 ** 2, Mi: 1024 ** 2, G: 1024 ** 3, Gi: 1024 ** 3 };
  return Number(m[1]) * mult[m[2] ?? ""]!;
}

const unitText = fs.readFileSync(UNIT, "utf8");
const settings = unitSettings(unitText);

describe("systemd unit", () => {
  test("systemd-analyze verify passes (with ExecStart pointing at the built binary)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-unit-"));
    try {
      const unit = path.join(dir, "antimetal-agent.service");
      fs.writeFileSync(unit, unitText.replaceAll(INSTALLED_PATH, binary("amd64")));
      const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
      expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 0, stderr: "" });
      // Offline security review: overall exposure at most 3.0 (systemd's scale 0-10; "OK").
      const s = spawnSync("systemd-analyze", ["security", "--offline=yes", "--threshold=30", "--no-pager", unit], { encoding: "utf8" });
      const level = /Overall exposure level for antimetal-agent\.service: ([\d.]+)/.exec(s.stdout)?.[1];
      expect({ status: s.status, level: Number(level) <= 3.0 }).toEqual({ status: 0, level: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("capabilities are exactly what the collectors need, in both the bounding and ambient set", () => {
    const ambient = settings.get("AmbientCapabilities")![0]!.split(/\s+/).sort();
    const bounding = settings.get("CapabilityBoundingSet")![0]!.split(/\s+/).sort();
    expect(ambient).toEqual(["CAP_BPF", "CAP_DAC_READ_SEARCH", "CAP_PERFMON", "CAP_SYSLOG"]);
    expect(bounding).toEqual(ambient);
    expect(settings.get("DynamicUser")).toEqual(["yes"]);
    expect(settings.get("StateDirectory")).toEqual(["antimetal"]);
    expect(settings.get("ProtectSystem")).toEqual(["strict"]);
    expect(settings.get("Restart")).toEqual(["on-failure"]);
    expect(settings.get("ExecReload")).toEqual(["/bin/kill -HUP $MAINPID"]);
    expect(settings.get("EnvironmentFile")).toEqual(["-/etc/antimetal/agent.env"]);
    expect(settings.get("NoNewPrivileges")).toEqual(["yes"]);
    // /dev/kmsg must stay reachable for the kernel log collector.
    expect(settings.get("DeviceAllow")).toEqual(["/dev/kmsg r"]);
    expect(settings.get("ProtectKernelLogs")).toEqual(["no"]);
    // The eBPF capabilities are used: execsnoop is requested by name, on top of every available collector.
    expect(settings.get("Environment")).toContain("ANTIMETAL_COLLECTORS=all,execsnoop");
  });

  test("the agent runs with the unit's uid model, capabilities, flags and env file; idle RSS fits the limits", async () => {
    const caps = settings
      .get("AmbientCapabilities")![0]!
      .split(/\s+/)
      .map((c) => `+${c.slice(4).toLowerCase()}`)
      .join(",");
    const exec = settings.get("ExecStart")![0]!.split(/\s+/);
    expect(exec[0]).toBe(INSTALLED_PATH);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-systemd-"));
    const state = path.join(dir, "state");
    const tmp = path.join(dir, "tmp");
    fs.mkdirSync(state, { mode: 0o700 });
    fs.mkdirSync(tmp, { mode: 0o700 });
    fs.chmodSync(dir, 0o755);
    fs.chownSync(state, TEST_UID, TEST_UID);
    fs.chownSync(tmp, TEST_UID, TEST_UID);
    const [health, metrics] = [await freePort(), await freePort()];
    // The env file as shipped, plus upload off (there is no intake here).
    const envFile = Object.fromEntries(
      fs
        .readFileSync(ENV_FILE, "utf8")
        .split("\n")
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    expect(Object.keys(envFile).sort()).toEqual(["ANTIMETAL_AGENT_ARGS", "ANTIMETAL_INTAKE_API_KEY"]);
    const extra = ["--intake-address="];
    const unitEnv = settings.get("Environment") ?? [];
    const args = exec
      .slice(1)
      .filter((a) => a !== "$ANTIMETAL_AGENT_ARGS")
      .map((a) =>
        a.startsWith("--data-directory=")
          ? `--data-directory=${state}`
          : a.startsWith("--health-probe-bind-address=")
            ? `--health-probe-bind-address=127.0.0.1:${health}`
            : a.startsWith("--metrics-bind-address=")
              ? `--metrics-bind-address=127.0.0.1:${metrics}`
              : a,
      );
    // ProtectSystem=strict + ProtectKernelTunables, as mounts: everything read-only except the
    // state directory and the private tmp (separate rw bind mounts made before the remount).
    const readOnly = [
      'mount --bind "$0" "$0"',
      'mount --bind "$1" "$1"',
      "mount -o remount,bind,ro /",
      "mount -o remount,bind,ro /sys",
      "mount --bind /proc/sys /proc/sys",
      "mount -o remount,bind,ro /proc/sys",
      "shift 1",
      'exec "$@"',
    ]
      .join(" && ")
      .replace(" && shift 1 && ", "; shift 1; ");
    const child = spawn(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        readOnly,
        state,
        tmp,
        "setpriv",
        `--reuid=${TEST_UID}`,
        `--regid=${TEST_UID}`,
        "--clear-groups",
        `--inh-caps=-all,${caps}`,
        `--ambient-caps=-all,${caps}`,
        `--bounding-set=-all,${caps}`,
        "--no-new-privs",
        "env",
        "-i",
        ...unitEnv,
        `TMPDIR=${tmp}`,
        "PATH=/usr/bin:/bin",
        ...Object.entries(envFile).map(([k, v]) => `${k}=${v}`),
        binary("amd64"),
        ...args,
        ...extra,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    child.stdout!.on("data", (d) => (log += d));
    child.stderr!.on("data", (d) => (log += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    let code: number | null = null;
    try {
      const deadline = Date.now() + 30000;
      let ready = 0;
      while (Date.now() < deadline) {
        ready = await fetch(`http://127.0.0.1:${health}/readyz`).then(
          (r) => r.status,
          () => 0,
        );
        if (ready === 200) break;
        await Bun.sleep(200);
      }
      expect({ ready, log: ready === 200 ? "" : log }).toEqual({ ready: 200, log: "" });
      const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
      // Only the unit's capabilities, all effective, nothing else.
      const capEff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(status)![1]}`);
      const capBnd = BigInt(`0x${/CapBnd:\s+([0-9a-f]+)/.exec(status)![1]}`);
      const want = (1n << 2n) | (1n << 34n) | (1n << 38n) | (1n << 39n); // DAC_READ_SEARCH, SYSLOG, PERFMON, BPF
      expect([capEff.toString(16), capBnd.toString(16)]).toEqual([want.toString(16), want.toString(16)]);
      expect(/Uid:\s+(\d+)/.exec(status)![1]).toBe(String(TEST_UID));
      expect((await fetch(`http://127.0.0.1:${metrics}/metrics`)).status).toBe(200);
      // It ran on the read-only system and wrote its store into the state directory only.
      expect(log).not.toContain('"level":"error"');
      expect(fs.readFileSync(`/proc/${child.pid}/mountinfo`, "utf8")).toMatch(/ \/ ro[ ,]/);
      expect(fs.readdirSync(state).length).toBeGreaterThan(0);

      // Idle RSS after start-up settles, against the unit's MemoryHigh and the DaemonSet request.
      await Bun.sleep(5000);
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) * 1024;
      const ds = find(kustomizeBuild(path.join(DEPLOY, "base")), "DaemonSet");
      const request = bytes(ds.spec.template.spec.containers.find((c: Obj) => c.name === "agent").resources.requests.memory);
      const memoryHigh = bytes(settings.get("MemoryHigh")![0]!);
      console.log(
        `idle RSS ${Math.round(rss / 1048576)} MiB (DaemonSet request ${request / 1048576} MiB, MemoryHigh ${memoryHigh / 1048576} MiB)`,
      );
      expect(rss).toBeLessThan(request);
      expect(rss).toBeLessThan(memoryHigh);
    } finally {
      child.kill("SIGTERM");
      code = await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(code).toBe(0);
  }, 90000);

  test("kernel log collector: works with the unit's capabilities, fails without CAP_SYSLOG", () => {
    expect(fs.readFileSync("/proc/sys/kernel/dmesg_restrict", "utf8").trim()).toBe("1");
    const caps = settings
      .get("AmbientCapabilities")![0]!
      .split(/\s+/)
      .map((c) => `+${c.slice(4).toLowerCase()}`)
      .join(",");
    const collect = (capList: string) => {
      const r = spawnSync(
        "setpriv",
        [
          `--reuid=${TEST_UID}`,
          `--regid=${TEST_UID}`,
          "--clear-groups",
          `--inh-caps=-all${capList ? `,${capList}` : ""}`,
          `--ambient-caps=-all${capList ? `,${capList}` : ""}`,
          `--bounding-set=-all${capList ? `,${capList}` : ""}`,
          "--no-new-privs",
          "env",
          "-i",
          "TMPDIR=/tmp",
          binary("amd64"),
          "collect",
          "--collectors",
          "kernel",
        ],
        { encoding: "utf8", timeout: 30000 },
      );
      return { status: r.status, out: JSON.parse(r.stdout || "{}") as Obj, stderr: r.stderr };
    };
    const withCaps = collect(caps);
    expect(withCaps.out.errors?.kernel).toBeUndefined();
    expect(Array.isArray(withCaps.out.kernel) && withCaps.out.kernel.length).toBeGreaterThan(0);
    const without = collect(
      caps
        .split(",")
        .filter((c) => c !== "+syslog")
        .join(","),
    );
    const kmsgMissing = without.out.errors?.kernel !== undefined || (Array.isArray(without.out.kernel) && without.out.kernel.length === 0);
    expect(kmsgMissing).toBe(true);
  }, 60000);
});
