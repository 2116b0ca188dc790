// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// deb and rpm packages (scripts/packages.ts, nfpm built from github.com/goreleaser/nfpm/v2):
// the default configuration is accepted by `run --config`; the rpm's files, scriptlets and config
// flags as `rpm -qp` reports them (Debian's rpm); the deb's contents and conffiles; and the deb's
// whole life under a booted systemd (the Debian 12 root of test/deploy/systemd-boot.test.ts in
// systemd-nspawn): install starts the service, which runs with the packaged configuration; an
// upgrade to a newer package keeps the changed configuration and restarts it; remove stops it and
// keeps configuration and store; purge deletes them.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { buildPackages, PACKAGED_BINARY, packageNames } from "../../scripts/packages.ts";
import { binary, type Obj, REPO } from "./manifests.ts";

const ROOTFS = "/var/cache/antimetal-dev/systemd-root";
const OLD = "0.0.1";
const NEW = "0.0.2";
const CONFIG = path.join(REPO, "deploy/systemd/agent.yaml");

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

describe("default configuration /etc/antimetal/agent.yaml", () => {
  const printConfig = (file: string) => {
    const r = spawnSync(binary("amd64"), ["run", "--config", file, "--print-config"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    return JSON.parse(r.stdout) as Obj;
  };

  test("run --config accepts it as shipped, and its values are the ones in effect", () => {
    const shipped = parseYaml(fs.readFileSync(CONFIG, "utf8")) as Obj;
    expect(Object.keys(shipped).length).toBeGreaterThanOrEqual(5);
    const effective = printConfig(CONFIG);
    for (const [k, v] of Object.entries(shipped)) expect(`${k}=${effective[k]}`).toBe(`${k}=${v}`);
  });

  test("every commented-out key is accepted too, once uncommented", () => {
    const text = fs.readFileSync(CONFIG, "utf8");
    const commented = [...text.matchAll(/^# ([a-z][a-z0-9-]+): (.+?)(?:\s+#.*)?$/gm)];
    expect(commented.length).toBeGreaterThanOrEqual(6);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-config-"));
    try {
      const file = path.join(dir, "agent.yaml");
      fs.writeFileSync(file, text.replace(/^# ([a-z][a-z0-9-]+): (.+?)(\s+#.*)?$/gm, "$1: $2"));
      const effective = printConfig(file);
      for (const m of commented) expect(effective[m[1]!]).toBeDefined();
      expect(effective["intake-api-key-file"]).toBe("/etc/antimetal/intake-api-key");
      expect(effective["max-stream-age"]).toBe("10m");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("deb and rpm", () => {
  let out: string;
  let oldNames: { deb: string; rpm: string };
  let newNames: { deb: string; rpm: string };

  beforeAll(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-packages-"));
    fs.chmodSync(out, 0o755);
    const epoch = Number(sh("git", ["-C", REPO, "log", "-1", "--format=%ct"]).trim());
    buildPackages({ out, version: OLD, binaries: { amd64: binary("amd64") }, epoch });
    buildPackages({ out, version: NEW, binaries: { amd64: binary("amd64") }, epoch, packagers: ["deb"] });
    oldNames = packageNames(OLD, "amd64");
    newNames = packageNames(NEW, "amd64");
  }, 300000);
  afterAll(() => {
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  test("rpm -qpl: binary, unit, configuration, environment file", () => {
    const rpm = path.join(out, oldNames.rpm);
    expect(oldNames.rpm).toBe(`antimetal-agent-${OLD}-1.x86_64.rpm`);
    const files = sh("rpm", ["-qpl", rpm]).trim().split("\n");
    for (const f of [
      PACKAGED_BINARY,
      "/usr/lib/systemd/system/antimetal-agent.service",
      "/etc/antimetal/agent.yaml",
      "/etc/antimetal/agent.env",
    ])
      expect(files).toContain(f);
    expect(sh("rpm", ["-qpc", rpm]).trim().split("\n").sort()).toEqual(["/etc/antimetal/agent.env", "/etc/antimetal/agent.yaml"]);
    // %config(noreplace): the flags are "c" (config) and "n" (noreplace); modes as intended.
    const info = Object.fromEntries(
      sh("rpm", ["-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEMODES:perms}\\n]", rpm])
        .trim()
        .split("\n")
        .map((l) => {
          const [name, ...rest] = l.split(" ");
          return [name, rest.join(" ")];
        }),
    );
    expect(info["/etc/antimetal/agent.yaml"]).toBe("cn -rw-r--r--");
    expect(info["/etc/antimetal/agent.env"]).toBe("cn -rw-------");
    expect(info[PACKAGED_BINARY]).toBe(" -rwxr-xr-x");
    expect(sh("rpm", ["-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}", rpm])).toBe(
      `antimetal-agent ${OLD} 1 x86_64 PolyForm-Shield-1.0.0`,
    );
    expect(sh("rpm", ["-qp", "--requires", rpm])).toContain("glibc >= 2.17");
  });

  test("rpm -qp --scripts: the maintainer scripts of deploy/packaging", () => {
    const scripts = sh("rpm", ["-qp", "--scripts", path.join(out, oldNames.rpm)]);
    for (const [section, file] of [
      ["postinstall", "postinstall.sh"],
      ["preuninstall", "preremove.sh"],
      ["postuninstall", "postremove.sh"],
    ] as const) {
      expect(scripts).toMatch(new RegExp(`^${section} scriptlet \\(using /bin/sh\\):`, "m"));
      const body = fs
        .readFileSync(path.join(REPO, "deploy/packaging", file), "utf8")
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .join("\n");
      expect(
        scripts
          .split("\n")
          .filter((l) => l && !l.startsWith("#"))
          .join("\n"),
      ).toContain(body);
    }
  });

  test("the deb: contents, control fields, conffiles, packaged unit", () => {
    const deb = path.join(out, oldNames.deb);
    expect(oldNames.deb).toBe(`antimetal-agent_${OLD}_amd64.deb`);
    const list = sh("dpkg-deb", ["-c", deb]);
    for (const f of [
      `.${PACKAGED_BINARY}`,
      "./usr/lib/systemd/system/antimetal-agent.service",
      "./etc/antimetal/agent.yaml",
      "./etc/antimetal/agent.env",
    ])
      expect(list).toContain(f);
    expect(list).toMatch(/^-rw------- root\/root .* \.\/etc\/antimetal\/agent\.env$/m);
    expect(sh("dpkg-deb", ["-f", deb, "Package", "Version", "Architecture", "Depends"])).toBe(
      `Package: antimetal-agent\nVersion: ${OLD}-1\nArchitecture: amd64\nDepends: libc6 (>= 2.17)\n`,
    );
    const ctl = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-deb-control-"));
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-deb-root-"));
    try {
      sh("dpkg-deb", ["-e", deb, ctl]);
      expect(fs.readFileSync(path.join(ctl, "conffiles"), "utf8").trim().split("\n").sort()).toEqual([
        "/etc/antimetal/agent.env",
        "/etc/antimetal/agent.yaml",
      ]);
      for (const s of ["postinst", "prerm", "postrm"]) expect(fs.statSync(path.join(ctl, s)).mode & 0o111).not.toBe(0);
      sh("dpkg-deb", ["-x", deb, root]);
      const unit = fs.readFileSync(path.join(root, "usr/lib/systemd/system/antimetal-agent.service"), "utf8");
      expect(unit).toContain(`ExecStart=${PACKAGED_BINARY} run`);
      expect(unit).not.toContain("/usr/local/bin");
      // Otherwise the hardened unit of deploy/systemd, line for line.
      const source = fs.readFileSync(path.join(REPO, "deploy/systemd/antimetal-agent.service"), "utf8").split("\n");
      expect(unit.split("\n").filter((l, i) => l !== source[i]).length).toBeLessThanOrEqual(2);
      expect(fs.readFileSync(path.join(root, "etc/antimetal/agent.env"), "utf8")).toMatch(
        /^ANTIMETAL_CONFIG=\/etc\/antimetal\/agent\.yaml$/m,
      );
      expect(fs.readFileSync(path.join(root, "etc/antimetal/agent.yaml"), "utf8")).toBe(fs.readFileSync(CONFIG, "utf8"));
      expect(sh("sha256sum", [path.join(root, PACKAGED_BINARY)]).split(" ")[0]).toBe(sh("sha256sum", [binary("amd64")]).split(" ")[0]);
    } finally {
      fs.rmSync(ctl, { recursive: true, force: true });
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  describe("install, upgrade, remove, purge under a booted systemd (nspawn)", () => {
    let results: string;
    let console_: string;
    const read = (f: string) => {
      const p = path.join(results, f);
      if (!fs.existsSync(p)) throw new Error(`probe wrote no ${f}; container console:\n${console_.slice(-4000)}`);
      return fs.readFileSync(p, "utf8");
    };
    const props = (text: string) =>
      Object.fromEntries(
        text
          .trim()
          .split("\n")
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );

    const PROBE = `#!/bin/bash
set -u
out=/results
# The guide's commands (apt install ./file.deb, apt remove, apt purge), without prompts.
export DEBIAN_FRONTEND=noninteractive
ready() { for i in $(seq 1 120); do curl -fsS http://127.0.0.1:8081/readyz >/dev/null 2>&1 && return 0; sleep 0.5; done; return 1; }
show() { systemctl show antimetal-agent -p LoadState -p ActiveState -p SubState -p UnitFileState -p MainPID -p NRestarts; }

apt install -y /pkgs/${packageNames(OLD, "amd64").deb} > $out/install.log 2>&1; echo $? > $out/install.rc
ready; show > $out/installed
stat -c '%a %U %n' /etc/antimetal /etc/antimetal/agent.yaml /etc/antimetal/agent.env /var/lib/private/antimetal > $out/modes
readlink /var/lib/antimetal >> $out/modes
( set -a; . /etc/antimetal/agent.env; antimetal-agent run --print-config ) > $out/print-config 2>&1
curl -fsS http://127.0.0.1:8080/metrics > $out/metrics 2>&1

# The user changes the configuration; the upgrade keeps it and restarts the service with it.
sed -i 's/^log-level: info$/log-level: debug/' /etc/antimetal/agent.yaml
echo 'ANTIMETAL_AGENT_ARGS=--intake-address=' >> /etc/antimetal/agent.env
apt install -y /pkgs/${packageNames(NEW, "amd64").deb} > $out/upgrade.log 2>&1; echo $? > $out/upgrade.rc
ready; show > $out/upgraded
dpkg-query -W -f='\${Version}' antimetal-agent > $out/version
cp /etc/antimetal/agent.yaml $out/agent.yaml.after; cp /etc/antimetal/agent.env $out/agent.env.after
ls -A /etc/antimetal > $out/etc.after
ls -A /var/lib/private/antimetal > $out/state.after
journalctl -u antimetal-agent --no-pager -o cat > $out/journal 2>&1

apt remove -y antimetal-agent > $out/remove.log 2>&1; echo $? > $out/remove.rc
show > $out/removed
ls -A /etc/antimetal /var/lib/private/antimetal > $out/kept 2>&1
test -e ${PACKAGED_BINARY} && echo present > $out/binary || echo absent > $out/binary

apt purge -y antimetal-agent > $out/purge.log 2>&1; echo $? > $out/purge.rc
for p in /etc/antimetal /var/lib/private/antimetal /var/lib/antimetal; do test -e $p -o -L $p && echo "$p present" || echo "$p absent"; done > $out/purged
dpkg-query -W antimetal-agent > $out/dpkg-query 2>&1
systemctl poweroff
`;
    beforeAll(() => {
      expect(fs.existsSync(path.join(ROOTFS, "usr/lib/systemd/systemd"))).toBe(true);
      results = path.join(out, "results");
      fs.mkdirSync(results);
      fs.writeFileSync(path.join(out, "probe.sh"), PROBE, { mode: 0o755 });
      fs.writeFileSync(
        path.join(out, "antimetal-probe.service"),
        "[Unit]\nDescription=package lifecycle, then checks\n[Service]\nType=oneshot\nExecStart=/probe/probe.sh\n",
      );
      const r = spawnSync(
        "timeout",
        [
          "240",
          "systemd-nspawn",
          "--quiet",
          "--directory",
          ROOTFS,
          // As in systemd-boot.test.ts: the cached root stays pristine (tmpfs overlay), and the
          // capabilities and syscalls the unit grants exist inside the container.
          "--volatile=overlay",
          "--register=no",
          "--keep-unit",
          "--private-network",
          "--capability=CAP_BPF,CAP_PERFMON,CAP_SYSLOG",
          "--system-call-filter=bpf perf_event_open",
          "--bind-ro=/dev/kmsg",
          "--bind-ro=/sys/kernel/tracing",
          `--bind-ro=${path.join(out, oldNames.deb)}:/pkgs/${oldNames.deb}`,
          `--bind-ro=${path.join(out, newNames.deb)}:/pkgs/${newNames.deb}`,
          `--bind-ro=${path.join(out, "probe.sh")}:/probe/probe.sh`,
          `--bind-ro=${path.join(out, "antimetal-probe.service")}:/etc/systemd/system/antimetal-probe.service`,
          `--bind=${results}:/results`,
          "--boot",
          "--",
          "systemd.wants=antimetal-probe.service",
        ],
        { encoding: "utf8" },
      );
      console_ = `${r.stdout}\n${r.stderr}`;
    }, 270000);

    test("apt install ./<deb> installs, enables and starts the service with the packaged configuration", () => {
      expect({ rc: read("install.rc").trim(), log: read("install.rc").trim() === "0" ? "" : read("install.log") }).toEqual({
        rc: "0",
        log: "",
      });
      const s = props(read("installed"));
      expect([s.ActiveState, s.SubState, s.UnitFileState, s.NRestarts]).toEqual(["active", "running", "enabled", "0"]);
      const modes = read("modes").trim().split("\n");
      expect(modes.slice(0, 3)).toEqual([
        "755 root /etc/antimetal",
        "644 root /etc/antimetal/agent.yaml",
        "600 root /etc/antimetal/agent.env",
      ]);
      // The state directory: made by the postinstall, handed to the transient user by systemd.
      expect(modes[3]).toMatch(/^700 \S+ \/var\/lib\/private\/antimetal$/);
      expect(modes[4]).toBe("private/antimetal");
      const config = JSON.parse(read("print-config")) as Obj;
      expect(config.config).toBe("/etc/antimetal/agent.yaml");
      expect(config["hardware-update-interval"]).toBe("5m");
      expect(read("metrics")).toMatch(/^node_load1 [\d.]+$/m);
    });

    test("apt install of the newer package keeps the changed agent.yaml and agent.env and restarts with them", () => {
      expect({ rc: read("upgrade.rc").trim(), log: read("upgrade.rc").trim() === "0" ? "" : read("upgrade.log") }).toEqual({
        rc: "0",
        log: "",
      });
      expect(read("version")).toBe(`${NEW}-1`);
      expect(read("agent.yaml.after")).toMatch(/^log-level: debug$/m);
      expect(read("agent.env.after")).toMatch(/^ANTIMETAL_AGENT_ARGS=--intake-address=$/m);
      expect(read("etc.after").trim().split("\n").sort()).toEqual(["agent.env", "agent.yaml"]);
      const before = props(read("installed"));
      const after = props(read("upgraded"));
      expect([after.ActiveState, after.SubState, after.UnitFileState]).toEqual(["active", "running", "enabled"]);
      expect(after.MainPID).not.toBe(before.MainPID);
      // The store survived, and the restarted agent runs with the changed configuration.
      expect(read("state.after")).toContain("resource");
      const journal = read("journal");
      expect(journal).toContain('"level":"debug"');
      expect(journal.split("\n").filter((l) => l.includes('"level":"error"'))).toEqual([]);
    });

    test("apt remove stops and removes the service, keeps configuration and store", () => {
      expect(read("remove.rc").trim()).toBe("0");
      const s = props(read("removed"));
      expect([s.LoadState, s.ActiveState]).toEqual(["not-found", "inactive"]);
      expect(read("binary").trim()).toBe("absent");
      const kept = read("kept");
      expect(kept).toContain("agent.yaml");
      expect(kept).toContain("resource");
    });

    test("apt purge deletes configuration and store", () => {
      expect({ rc: read("purge.rc").trim(), log: read("purge.rc").trim() === "0" ? "" : read("purge.log") }).toEqual({ rc: "0", log: "" });
      expect(read("purged").trim().split("\n")).toEqual([
        "/etc/antimetal absent",
        "/var/lib/private/antimetal absent",
        "/var/lib/antimetal absent",
      ]);
      expect(read("dpkg-query")).toContain("no packages found matching antimetal-agent");
    });
  });
});
