// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The image under a real container runtime, as a Kubernetes node would run it: containerd
// (Debian's, with runc) imports the OCI archive and runs it with its default seccomp profile,
// a read-only root, the DaemonSet's host mounts and environment.
//   - base: the image's own user (65532), no capabilities: `run` answers /readyz and /metrics;
//     `check` reports kmsg and eBPF unavailable with the reason.
//   - capabilities added for the non-root user never become effective (why the overlay is uid 0).
//   - overlay: uid 0 with only CAP_BPF, CAP_PERFMON, CAP_SYSLOG and the host's tracefs:
//     execsnoop records exec events through the default seccomp profile.
//   - /dev/kmsg is a device: reading it needs the device allowed in the container's device
//     cgroup (here `--device /dev/kmsg`), which a hostPath mount alone does not give.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { buildImage } from "../../scripts/image/build.ts";
import { binary } from "./manifests.ts";

const NS = "antimetal-test";
const VERSION = "0.0.0-test";
// containerd's default capability set for a container (oci.defaultUnixCaps), dropped here so that
// only what a test adds remains, as `capabilities: {drop: [ALL], add: [...]}` does.
const RUNTIME_DEFAULT_CAPS = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FSETID",
  "FOWNER",
  "MKNOD",
  "NET_RAW",
  "SETGID",
  "SETUID",
  "SETFCAP",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "SYS_CHROOT",
  "KILL",
  "AUDIT_WRITE",
];
const DROP_ALL = RUNTIME_DEFAULT_CAPS.flatMap((c) => ["--cap-drop", `CAP_${c}`]);
const OVERLAY_CAPS = ["BPF", "PERFMON", "SYSLOG"].flatMap((c) => ["--cap-add", `CAP_${c}`]);
// The DaemonSet's volumes and env (deploy/kubernetes/base/daemonset.yaml), without the node's / (a pod's view of mounts).
const POD_MOUNTS = [
  "--mount",
  "type=bind,src=/proc,dst=/host/proc,options=rbind:ro",
  "--mount",
  "type=bind,src=/sys,dst=/host/sys,options=rbind:ro",
  "--mount",
  "type=bind,src=/dev,dst=/host/dev,options=rbind:ro",
  "--mount",
  "type=bind,src=/etc/machine-id,dst=/host/etc/machine-id,options=bind:ro",
  "--mount",
  "type=tmpfs,src=tmpfs,dst=/tmp,options=nosuid:nodev:mode=1777",
];
// The node's / at /host/root (HOST_ROOT), for the statfs of the node's mounts.
const ROOT_MOUNT = ["--mount", "type=bind,src=/,dst=/host/root,options=rbind:ro", "--env", "HOST_ROOT=/host/root"];
const HOST_MOUNTS = [...POD_MOUNTS, ...ROOT_MOUNT];
const HOST_ENV = ["HOST_PROC=/host/proc", "HOST_SYS=/host/sys", "HOST_DEV=/host/dev", "HOST_ETC=/host/etc"].flatMap((e) => ["--env", e]);

/** /metrics of a local agent once `ready` accepts it (the first collections run after /readyz answers). */
async function waitForMetrics(port: number, ready: (body: string) => boolean, timeoutMs = 20000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let body = "";
  while (Date.now() < deadline) {
    body = await fetch(`http://127.0.0.1:${port}/metrics`).then(
      (r) => r.text(),
      (e: Error) => `fetch failed: ${e.message}`,
    );
    if (ready(body)) return body;
    await Bun.sleep(200);
  }
  throw new Error(`/metrics on port ${port} not ready within ${timeoutMs} ms; last body:\n${body.slice(0, 4000)}`);
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

describe("the image under containerd", () => {
  let work: string;
  let daemon: ChildProcess;
  let sock: string;
  let n = 0;
  const ctr = (args: string[], timeout = 60000) =>
    spawnSync("ctr", ["--address", sock, "--namespace", NS, ...args], { encoding: "utf8", timeout });
  const run = (image: string, flags: string[], command: string[], timeout = 60000, mounts = HOST_MOUNTS) =>
    ctr(
      [
        "run",
        "--rm",
        "--seccomp",
        "--read-only",
        ...mounts,
        ...HOST_ENV,
        ...flags,
        image,
        `t${process.pid}-${n++}`,
        "/usr/bin/antimetal-agent",
        ...command,
      ],
      timeout,
    );

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-containerd-"));
    sock = path.join(work, "containerd.sock");
    fs.writeFileSync(
      path.join(work, "config.toml"),
      [
        "version = 2",
        `root = "${work}/root"`,
        `state = "${work}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${sock}"`,
        "",
      ].join("\n"),
    );
    daemon = spawn("containerd", ["--config", path.join(work, "config.toml")], {
      stdio: ["ignore", fs.openSync(path.join(work, "containerd.log"), "w"), fs.openSync(path.join(work, "containerd.log"), "a")],
    });
    const deadline = Date.now() + 20000;
    while (!(fs.existsSync(sock) && ctr(["version"]).status === 0)) {
      if (Date.now() > deadline)
        throw new Error(`containerd did not start: ${fs.readFileSync(path.join(work, "containerd.log"), "utf8").slice(-2000)}`);
      await Bun.sleep(100);
    }
    // The release image, and the same image with User 0:0 (a pod's runAsUser: 0).
    for (const [tag, user] of [
      [VERSION, undefined],
      ["uid0", "0:0"],
    ] as const) {
      const archive = path.join(work, `${tag}.oci.tar`);
      buildImage({ arch: "amd64", binary: binary("amd64"), out: archive, version: tag, user });
      const imp = ctr(["images", "import", "--base-name", "docker.io/antimetal/agent", archive], 120000);
      expect({ status: imp.status, stderr: imp.stderr }).toEqual({ status: 0, stderr: "" });
    }
  }, 150000);

  afterAll(async () => {
    daemon?.kill("SIGTERM");
    if (daemon) await new Promise((r) => daemon.once("exit", r));
    if (work) {
      spawnSync("umount", ["-R", path.join(work, "root")]);
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  test("base: image user 65532, read-only root, default seccomp: `run` serves /readyz and /metrics", async () => {
    const [health, metrics] = [await freePort(), await freePort()];
    const id = `run-${process.pid}`;
    const child = spawn(
      "ctr",
      [
        "--address",
        sock,
        "--namespace",
        NS,
        "run",
        "--rm",
        "--seccomp",
        "--read-only",
        "--net-host",
        ...HOST_MOUNTS,
        ...HOST_ENV,
        "--mount",
        `type=tmpfs,src=tmpfs,dst=/var/lib/antimetal,options=nosuid:nodev:uid=65532:gid=65532:mode=0700`,
        `docker.io/antimetal/agent:${VERSION}`,
        id,
        "/usr/bin/antimetal-agent",
        "run",
        "--enable-kubernetes-controller=false",
        "--leader-elect=false",
        "--intake-address=",
        "--enable-performance-collectors",
        `--health-probe-bind-address=127.0.0.1:${health}`,
        `--metrics-bind-address=127.0.0.1:${metrics}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    child.stdout!.on("data", (d) => (log += d));
    child.stderr!.on("data", (d) => (log += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
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
      expect(await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text()).toMatch(/^node_load1 /m);
      // The DaemonSet's host view (node network, node / at /host/root): the node_* network and
      // filesystem series are the node's, and /metrics says so.
      const body = await waitForMetrics(metrics, (m) => /^node_filesystem_size_bytes\{[^}]*mountpoint="\/"/m.test(m));
      expect(body).toContain('antimetal_host_view_info{network="host",mounts="host"} 1');
      const nodeInterfaces = fs.readdirSync("/sys/class/net");
      for (const device of nodeInterfaces) expect(body).toContain(`node_network_receive_bytes_total{device="${device}"}`);
      expect(log).not.toContain('"level":"error"');
    } finally {
      ctr(["task", "kill", "--signal", "SIGTERM", id]);
    }
    expect(await exited).toBe(0);
  }, 90000);

  test("base: `check` reports the kernel log and eBPF unavailable with the reason", () => {
    const r = run(`docker.io/antimetal/agent:${VERSION}`, [], ["check"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("CapEff=0x0000000000000000");
    expect(r.stdout).toMatch(/^collector load: available$/m);
    expect(r.stdout).toMatch(/^collector kernel: unavailable: missing capability: CAP_SYSLOG$/m);
    expect(r.stdout).toMatch(/^collector execsnoop: unavailable: .*CAP_BPF/m);
  });

  test("host view: `check` reports the node's network and mounts with the DaemonSet's settings, the pod's without them", () => {
    const image = `docker.io/antimetal/agent:${VERSION}`;
    const node = run(image, ["--net-host"], ["check"]);
    expect(node.stdout).toMatch(/^host view: network=host \(.+\); mounts=host \(host root at \/host\/root \(HOST_ROOT\)\)$/m);
    // No hostNetwork, no node / : the pod's own network namespace, and the node's mounts cannot be statfs'd.
    const pod = run(image, [], ["check"], 60000, POD_MOUNTS);
    expect(pod.stdout).toMatch(
      /^host view: network=pod \(the agent has its own network namespace \(no hostNetwork\)\); mounts=pod \(.+\)$/m,
    );
  });

  test("a pod's view: /metrics says so and leaves out the node_* network and filesystem families, not the node-wide ones", async () => {
    // The pod's network namespace, with its loopback up (as a CNI does), scraped from inside it.
    const holder = spawn("unshare", ["--net", "sh", "-c", "ip link set lo up && exec sleep 300"], { stdio: "ignore" });
    const netns = `/proc/${holder.pid}/ns/net`;
    const id = `podview-${process.pid}`;
    let agentLog = "";
    let child: ChildProcess | undefined;
    try {
      const deadline = Date.now() + 10000;
      while (spawnSync("nsenter", [`--net=${netns}`, "ip", "-o", "link", "show", "lo"], { encoding: "utf8" }).stdout.indexOf("UP") < 0) {
        if (Date.now() > deadline) throw new Error("the pod network namespace's loopback did not come up");
        await Bun.sleep(50);
      }
      child = spawn(
        "ctr",
        [
          ...["--address", sock, "--namespace", NS, "run", "--rm", "--seccomp", "--read-only", "--with-ns", `network:${netns}`],
          ...POD_MOUNTS,
          ...HOST_ENV,
          ...["--mount", "type=tmpfs,src=tmpfs,dst=/var/lib/antimetal,options=nosuid:nodev:uid=65532:gid=65532:mode=0700"],
          ...[`docker.io/antimetal/agent:${VERSION}`, id, "/usr/bin/antimetal-agent", "run", "--enable-kubernetes-controller=false"],
          ...["--leader-elect=false", "--intake-address=", "--enable-performance-collectors"],
          ...["--health-probe-bind-address=127.0.0.1:8081", "--metrics-bind-address=127.0.0.1:8080"],
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      child.stdout!.on("data", (d) => (agentLog += d));
      child.stderr!.on("data", (d) => (agentLog += d));
      // Bun's fetch, run inside the pod's network namespace.
      const scrapeInPod = () =>
        spawnSync(
          "nsenter",
          [`--net=${netns}`, process.execPath, "-e", 'console.log(await (await fetch("http://127.0.0.1:8080/metrics")).text())'],
          { encoding: "utf8", timeout: 10000 },
        ).stdout;
      let body = "";
      const until = Date.now() + 30000;
      while (!/^node_disk_reads_completed_total\{/m.test(body) && Date.now() < until) {
        await Bun.sleep(300);
        body = scrapeInPod();
      }
      expect({ disk: /^node_disk_reads_completed_total\{/m.test(body), log: agentLog.slice(-3000) }).toMatchObject({ disk: true });
      expect(body).toContain('antimetal_host_view_info{network="pod",mounts="pod"} 1');
      const leftOut = body.split("\n").filter((l) => /^(# TYPE )?node_(network|netstat|sockstat|tcp_connection|filesystem)_?/.test(l));
      expect(leftOut).toEqual([]);
      // Node-wide files are the node's whatever the namespaces: still served.
      for (const family of ["node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_load1"])
        expect(body).toContain(`# TYPE ${family} `);
      expect(agentLog).toContain("only the pod's own namespaces are visible");
    } finally {
      ctr(["task", "kill", "--signal", "SIGKILL", id]);
      if (child && child.exitCode === null) await new Promise((r) => child!.once("exit", r));
      holder.kill("SIGKILL");
    }
  }, 90000);

  test("capabilities added for the non-root user never become effective (why the overlay runs as uid 0)", () => {
    const r = run(`docker.io/antimetal/agent:${VERSION}`, OVERLAY_CAPS, ["check"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("CapEff=0x0000000000000000");
    expect(r.stdout).toMatch(/^collector execsnoop: unavailable/m);
  });

  test("overlay: uid 0 with only BPF, PERFMON, SYSLOG records exec events through the default seccomp profile", async () => {
    const flags = [...DROP_ALL, ...OVERLAY_CAPS, "--mount", "type=bind,src=/sys/kernel/tracing,dst=/sys/kernel/tracing,options=rbind:ro"];
    const check = run("docker.io/antimetal/agent:uid0", flags, ["check"]);
    expect(check.stdout).toContain("CapEff=0x000000c400000000"); // SYSLOG(34), PERFMON(38), BPF(39), nothing else
    expect(check.stdout).toMatch(/^collector execsnoop: available$/m);
    // Something to record: execs on the host while it runs.
    const execs = spawn("sh", ["-c", "for i in $(seq 1 25); do sleep 0.2; /bin/true; done"]);
    const r = run("docker.io/antimetal/agent:uid0", flags, ["collect", "--collectors", "execsnoop", "--duration", "4s"]);
    execs.kill();
    expect(r.stderr).not.toContain("error");
    const events = r.stdout
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { comm: string });
    expect(events.length).toBeGreaterThan(0);
    expect(events.some((e) => e.comm === "true")).toBe(true);
  }, 60000);

  test("kmsg is a device: with /dev/kmsg allowed in the device cgroup, CAP_SYSLOG alone reads it", () => {
    const flags = [...DROP_ALL, "--cap-add", "CAP_SYSLOG", "--device", "/dev/kmsg"];
    const r = run("docker.io/antimetal/agent:uid0", flags, ["collect", "--collectors", "kernel"]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { kernel?: unknown[]; errors?: Record<string, string> };
    expect(out.errors).toBeUndefined();
    expect(out.kernel!.length).toBeGreaterThan(0);
  });

  test("without the device (a normal pod), CAP_SYSLOG still reads the kernel log through syslog(2)", () => {
    const flags = [...DROP_ALL, "--cap-add", "CAP_SYSLOG"];
    const r = run("docker.io/antimetal/agent:uid0", flags, ["collect", "--collectors", "kernel"]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { kernel?: Array<{ sequence_num: number }>; errors?: Record<string, string> };
    expect(out.errors).toBeUndefined();
    expect(out.kernel!.length).toBeGreaterThan(0);
    // syslog(2) text has no sequence numbers: this proves the fallback path was taken.
    expect(out.kernel!.every((k) => k.sequence_num === 0)).toBe(true);
  });
});
