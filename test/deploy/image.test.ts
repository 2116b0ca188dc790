// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The container image: built without a Docker daemon (scripts/image/build.ts), unpacked by an
// independent OCI implementation (umoci), then the compiled agent runs inside that root and
// nothing else (chroot, uid 65532, only /proc mounted as a container runtime would). arm64 runs
// the same way through qemu-user: version, collect, check and run.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { type Arch, buildImage, IMAGE_UID, type ImageResult } from "../../scripts/image/build.ts";
import { binary, type Obj } from "./manifests.ts";

const VERSION = "0.0.0-test";
const QEMU = "/usr/bin/qemu-aarch64-static";

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

/**
 * argv that runs `args` in `root` as uid/gid 65532 in a private mount namespace with /proc mounted.
 * With `readOnlyRoot`, as the DaemonSet runs it: the root is read-only and only the store
 * directory and /tmp (emptyDirs there) are writable.
 */
function inRoot(root: string, arch: Arch, args: string[], env: Record<string, string> = {}, readOnlyRoot = false): string[] {
  const runner = arch === "arm64" ? ["/qemu-aarch64-static", "/usr/bin/antimetal-agent"] : ["/usr/bin/antimetal-agent"];
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const ro = readOnlyRoot
    ? 'mount --bind "$0" "$0" && mount --bind "$0/var/lib/antimetal" "$0/var/lib/antimetal" && mount --bind "$0/tmp" "$0/tmp" && mount -o remount,bind,ro "$0" && '
    : "";
  return [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    `${ro}mount -t proc proc "$0/proc" && exec "$@"`,
    root,
    "env",
    "-i",
    ...envArgs,
    "/usr/sbin/chroot",
    `--userspec=${IMAGE_UID}:${IMAGE_UID}`,
    root,
    ...runner,
    ...args,
  ];
}

function runIn(root: string, arch: Arch, args: string[], env: Record<string, string> = {}) {
  const [cmd, ...rest] = inRoot(root, arch, args, { PATH: "/usr/bin", TMPDIR: "/tmp", ...env });
  return spawnSync(cmd!, rest, { encoding: "utf8", timeout: 60000 });
}

function unpack(archive: string, work: string): { root: string; config: Obj } {
  const layout = path.join(work, "layout");
  fs.mkdirSync(layout);
  expect(spawnSync("tar", ["-xf", archive, "-C", layout]).status).toBe(0);
  const bundle = path.join(work, "bundle");
  const u = spawnSync("umoci", ["unpack", "--image", `${layout}:${VERSION}`, bundle], { encoding: "utf8" });
  expect(u.stderr.includes("level=error") ? u.stderr : "").toBe("");
  expect(u.status).toBe(0);
  return { root: path.join(bundle, "rootfs"), config: JSON.parse(fs.readFileSync(path.join(bundle, "config.json"), "utf8")) as Obj };
}

function walk(dir: string, out: string[] = [], base = dir): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out, base);
    else out.push(path.relative(base, p));
  }
  return out;
}

for (const arch of ["amd64", "arm64"] as Arch[]) {
  describe(`image linux/${arch}`, () => {
    let work: string;
    let image: ImageResult;
    let root: string;
    let config: Obj;

    beforeAll(() => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), `antimetal-image-test-${arch}-`));
      image = buildImage({ arch, binary: binary(arch), out: path.join(work, "image.oci.tar"), version: VERSION });
      ({ root, config } = unpack(image.archive, work));
      if (arch === "arm64") {
        expect(fs.existsSync(QEMU)).toBe(true);
        // The emulator only; the arm64 loader and libraries come from the image root.
        fs.copyFileSync(QEMU, path.join(root, "qemu-aarch64-static"));
        fs.chmodSync(path.join(root, "qemu-aarch64-static"), 0o755);
      }
    }, 120000);
    afterAll(() => {
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    test("OCI config: uid 65532, entrypoint the agent, run by default", () => {
      expect(config.process.user.uid).toBe(IMAGE_UID);
      expect(config.process.user.gid).toBe(IMAGE_UID);
      expect(config.process.args).toEqual(["/usr/bin/antimetal-agent", "run"]);
      expect(config.process.env).toContain("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt");
      expect(image.packages.map((p) => p.name).sort()).toEqual([
        "ca-certificates",
        "gcc-12-base",
        "libc6",
        "libgcc-s1",
        "netbase",
        "tzdata",
      ]);
    });

    test("skopeo reads the archive (platform, user) and converts it for `docker load`", () => {
      const inspect = spawnSync("skopeo", ["inspect", "--config", `oci-archive:${image.archive}`], { encoding: "utf8" });
      expect(inspect.stderr).toBe("");
      const cfg = JSON.parse(inspect.stdout) as Obj;
      expect([cfg.architecture, cfg.os, cfg.config.User]).toEqual([arch, "linux", `${IMAGE_UID}:${IMAGE_UID}`]);
      const dockerTar = path.join(work, "docker.tar");
      const copy = spawnSync(
        "skopeo",
        ["copy", "-q", `oci-archive:${image.archive}`, `docker-archive:${dockerTar}:antimetal/agent:${VERSION}`],
        { encoding: "utf8" },
      );
      expect({ status: copy.status, stderr: copy.stderr }).toEqual({ status: 0, stderr: "" });
      const list = spawnSync("tar", ["-tf", dockerTar], { encoding: "utf8" }).stdout;
      expect(list).toContain("manifest.json");
      fs.rmSync(dockerTar);
    }, 60000);

    test("root: no shell, no program but the agent; CA bundle, zoneinfo, passwd present", () => {
      const files = walk(root).filter((f) => f !== "qemu-aarch64-static");
      expect(fs.existsSync(path.join(root, "bin/sh"))).toBe(false);
      const programs = files.filter((f) => {
        const st = fs.lstatSync(path.join(root, f));
        return st.isFile() && (st.mode & 0o111) !== 0 && !/\.so(\.\d+)*$/.test(f);
      });
      expect(programs).toEqual(["usr/bin/antimetal-agent"]);
      const bundle = fs.readFileSync(path.join(root, "etc/ssl/certs/ca-certificates.crt"), "utf8");
      expect(bundle.split("BEGIN CERTIFICATE").length - 1).toBeGreaterThan(100);
      expect(fs.existsSync(path.join(root, "usr/share/zoneinfo/Europe/Berlin"))).toBe(true);
      expect(fs.readFileSync(path.join(root, "etc/passwd"), "utf8")).toContain(`nonroot:x:${IMAGE_UID}:${IMAGE_UID}:`);
      const st = fs.statSync(path.join(root, "var/lib/antimetal"));
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([IMAGE_UID, IMAGE_UID, 0o700]);
      expect(fs.statSync(path.join(root, "tmp")).mode & 0o7777).toBe(0o1777);
    });

    test("`version` runs inside the image root as uid 65532", () => {
      const r = runIn(root, arch, ["version"]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^antimetal-agent \d+\.\d+\.\d+/);
    }, 60000);

    test("`collect` runs inside the image root and prints the host's load, cpu and memory", () => {
      const r = runIn(root, arch, ["collect", "--collectors", "load,cpu,memory"]);
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout) as Obj;
      expect(Object.keys(out.errors ?? {})).toEqual([]);
      for (const k of ["load", "cpu", "memory"]) expect(out[k]).toBeDefined();
    }, 60000);

    test("`check` in the image as the base DaemonSet runs it: host collectors available, kmsg and eBPF unavailable with the reason", () => {
      const r = runIn(root, arch, ["check"]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^collector load: available$/m);
      expect(r.stdout).toMatch(/^collector kernel: unavailable: missing capability: CAP_SYSLOG$/m);
      expect(r.stdout).toMatch(/^collector execsnoop: unavailable: .*CAP_BPF/m);
    }, 60000);

    test("`run` serves /readyz and /metrics in the image with a read-only root, and stops cleanly on SIGTERM", async () => {
      const [health, metrics] = [await freePort(), await freePort()];
      const [cmd, ...rest] = inRoot(
        root,
        arch,
        [
          "run",
          "--enable-kubernetes-controller=false",
          "--leader-elect=false",
          "--intake-address=",
          `--health-probe-bind-address=127.0.0.1:${health}`,
          `--metrics-bind-address=127.0.0.1:${metrics}`,
        ],
        { PATH: "/usr/bin", TMPDIR: "/tmp" },
        true,
      );
      const child = spawn(cmd!, rest, { stdio: ["ignore", "pipe", "pipe"] });
      let log = "";
      child.stdout!.on("data", (d) => (log += d));
      child.stderr!.on("data", (d) => (log += d));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      try {
        const deadline = Date.now() + (arch === "arm64" ? 90000 : 30000); // arm64 runs under qemu
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
        const m = await fetch(`http://127.0.0.1:${metrics}/metrics`);
        expect(m.status).toBe(200);
        // The store lives in the image's /var/lib/antimetal (owned by 65532, the only writable place).
        expect(fs.readdirSync(path.join(root, "var/lib/antimetal")).length).toBeGreaterThan(0);
      } finally {
        child.kill("SIGTERM");
      }
      expect(await exited).toBe(0);
    }, 150000);

    if (arch === "amd64") {
      test("kernel-collectors overlay's security context: uid 0 with only BPF, PERFMON, SYSLOG runs execsnoop and kmsg in the image", () => {
        // As the overlay's container: uid 0, every other capability dropped from the bounding and
        // inheritable sets, no_new_privs, sysfs read-only with tracefs on /sys/kernel/tracing (the
        // host's instance), the host's /dev at /host/dev (HOST_DEV). Then one capability less
        // each: the collector that needs it reports itself unavailable.
        const names: string[] = [];
        const last = Number(fs.readFileSync("/proc/sys/kernel/cap_last_cap", "utf8"));
        for (let i = 0; i <= last; i++) {
          const d = spawnSync("capsh", [`--decode=${(1n << BigInt(i)).toString(16)}`], { encoding: "utf8" });
          names.push(d.stdout.trim().split("=")[1]!);
        }
        fs.mkdirSync(path.join(root, "host/dev"), { recursive: true });
        const collect = (keep: string[], collectors: string) => {
          const drop = names.filter((n) => !keep.includes(n)).join(",");
          const script = [
            'mount -t proc proc "$0/proc"',
            'mount -t sysfs -o ro sysfs "$0/sys"',
            'mount -t tracefs -o ro tracefs "$0/sys/kernel/tracing"',
            // Something to see: execs on the host while execsnoop records.
            "(for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.2; /bin/true; done &)",
            'mount --rbind -o ro /dev "$0/host/dev"',
            'exec "$@"',
          ].join(" && ");
          const capsh = spawnSync("sh", ["-c", "command -v capsh"], { encoding: "utf8" }).stdout.trim();
          const r = spawnSync(
            "unshare",
            [
              "--mount",
              "--propagation",
              "private",
              "--",
              "sh",
              "-c",
              script,
              root,
              "env",
              "-i",
              "HOST_DEV=/host/dev",
              "TMPDIR=/tmp",
              capsh,
              "--inh=",
              "--no-new-privs",
              `--chroot=${root}`,
              `--drop=${drop}`,
              "--shell=/usr/bin/antimetal-agent",
              "--",
              "collect",
              "--collectors",
              collectors,
              ...(collectors === "execsnoop" ? ["--duration", "1s"] : []),
            ],
            { encoding: "utf8", timeout: 60000 },
          );
          return { status: r.status, stdout: r.stdout, stderr: r.stderr };
        };
        const granted = ["cap_bpf", "cap_perfmon", "cap_syslog"];
        const kmsg = collect(granted, "kernel");
        const kmsgOut = JSON.parse(kmsg.stdout) as Obj;
        expect({ errors: kmsgOut.errors, n: kmsgOut.kernel?.length > 0 }).toEqual({ errors: undefined, n: true });
        const exec = collect(granted, "execsnoop");
        expect(exec.stdout).not.toContain('"errors"');
        expect(exec.stdout).toContain('"comm"');
        expect((JSON.parse(collect(["cap_bpf", "cap_perfmon"], "kernel").stdout) as Obj).errors?.kernel).toContain("CAP_SYSLOG");
        expect(collect(["cap_perfmon", "cap_syslog"], "execsnoop").stdout).toContain('"errors"');
      }, 90000);

      test("reproducible: the same inputs give the same image digest", () => {
        // A private copy of the binary and a fixed time: the repository may move on meanwhile.
        const bin = path.join(work, "agent-copy");
        fs.copyFileSync(binary(arch), bin);
        const build = (name: string) => buildImage({ arch, binary: bin, out: path.join(work, name), version: VERSION, epoch: 1700000000 });
        const [a, b] = [build("a.oci.tar"), build("b.oci.tar")];
        expect(b.manifestDigest).toBe(a.manifestDigest);
        expect(b.layerDigest).toBe(a.layerDigest);
      }, 240000); // two gzip -6 runs over a ~100 MB layer: 90 s was not enough on a loaded 2-vCPU machine
    }
  });
}
