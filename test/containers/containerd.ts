// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A private containerd (Debian's, with runc; root, state and socket in a temp dir) for the runtime
// graph tests, a minimal root filesystem (sh, sleep, true and their libraries from this host) to run
// containers from, and a host root (HOST_ROOT) whose run/containerd is that daemon's state.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface Containerd {
  work: string;
  /** HOST_ROOT for the agent: run/containerd -> this daemon's state directory. */
  hostRoot: string;
  rootfs: string;
  /** ctr in namespace `ns`; throws with stderr on failure. */
  ctr(ns: string, args: string[], timeoutMs?: number): string;
  /** Starts a detached container from the rootfs: `flags` before the rootfs, `cmd` after the id. Returns its init pid. */
  run(ns: string, id: string, flags: string[], cmd: string[]): number;
  /** Kills and deletes a container (its task, then the container). */
  remove(ns: string, id: string): void;
  stop(): Promise<void>;
}

function copyWithLibs(bins: string[], root: string): void {
  const libs = new Set<string>();
  for (const b of bins) {
    const out = spawnSync("ldd", [b], { encoding: "utf8" }).stdout;
    for (const m of out.matchAll(/(\/[^\s]+\.so[^\s]*)/g)) libs.add(m[1]!);
  }
  for (const f of [...bins, ...libs]) {
    const dst = path.join(root, f);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(fs.realpathSync(f), dst);
    fs.chmodSync(dst, 0o755);
  }
}

export async function startContainerd(): Promise<Containerd> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "rt-containerd-"));
  const sock = path.join(work, "containerd.sock");
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
  const log = path.join(work, "containerd.log");
  const daemon: ChildProcess = spawn("containerd", ["--config", path.join(work, "config.toml")], {
    stdio: ["ignore", fs.openSync(log, "w"), fs.openSync(log, "a")],
  });
  const ctrRaw = (ns: string, args: string[], timeout = 60_000) =>
    spawnSync("ctr", ["--address", sock, "--namespace", ns, ...args], { encoding: "utf8", timeout });
  const ctr = (ns: string, args: string[], timeout?: number) => {
    const r = ctrRaw(ns, args, timeout);
    if (r.status !== 0) throw new Error(`ctr ${args.join(" ")}: ${r.stderr || r.error}`);
    return r.stdout;
  };
  const deadline = Date.now() + 20_000;
  while (!(fs.existsSync(sock) && ctrRaw("default", ["version"]).status === 0)) {
    if (Date.now() > deadline) throw new Error(`containerd did not start: ${fs.readFileSync(log, "utf8").slice(-2000)}`);
    await Bun.sleep(100);
  }
  const rootfs = path.join(work, "rootfs");
  for (const d of ["proc", "dev", "sys", "tmp"]) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  copyWithLibs(["/bin/sh", "/bin/sleep", "/bin/true"], rootfs);
  const hostRoot = path.join(work, "host");
  fs.mkdirSync(path.join(hostRoot, "run"), { recursive: true });
  fs.symlinkSync(path.join(work, "state"), path.join(hostRoot, "run", "containerd"));
  const started: [string, string][] = [];
  const cgroups = new Set<string>();

  const c: Containerd = {
    work,
    hostRoot,
    rootfs,
    ctr,
    run(ns, id, flags, cmd) {
      ctr(ns, ["run", "-d", "--rootfs", ...flags, rootfs, id, ...cmd]);
      started.push([ns, id]);
      const cfg = JSON.parse(fs.readFileSync(path.join(work, "state", "io.containerd.runtime.v2.task", ns, id, "config.json"), "utf8"));
      cgroups.add(cfg.linux.cgroupsPath);
      return Number(fs.readFileSync(path.join(work, "state", "io.containerd.runtime.v2.task", ns, id, "init.pid"), "utf8"));
    },
    remove(ns, id) {
      ctrRaw(ns, ["task", "kill", "-s", "SIGKILL", id]);
      for (let i = 0; i < 50 && ctrRaw(ns, ["task", "delete", id]).status !== 0; i++) spawnSync("sleep", ["0.1"]);
      ctrRaw(ns, ["container", "delete", id]);
    },
    async stop() {
      for (const [ns, id] of started) c.remove(ns, id);
      daemon.kill("SIGTERM");
      await new Promise((r) => daemon.once("exit", r));
      // runc leaves the parents of the containers' cgroups (e.g. /<ns>, kubepods/.../pod<uid>): remove the empty ones.
      for (const p of cgroups)
        for (const ctl of ["", ...fs.readdirSync("/sys/fs/cgroup")]) {
          const segs = p.replace(/^\/+/, "").split("/");
          for (let i = segs.length; i > 0; i--) {
            const dir = path.join("/sys/fs/cgroup", ctl, ...segs.slice(0, i));
            try {
              fs.rmdirSync(dir);
            } catch (e) {
              const code = (e as NodeJS.ErrnoException).code;
              if (code !== "ENOENT" && code !== "EBUSY" && code !== "ENOTDIR" && code !== "ENOTEMPTY") throw e;
            }
          }
        }
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
  return c;
}
