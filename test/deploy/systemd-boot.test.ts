// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The systemd install path of docs/install.md, end to end under a real systemd: a Debian 12
// root (scripts/setup.d/60-deploy.sh, debootstrap) boots with systemd as PID 1 in
// systemd-nspawn; a probe service runs the guide's install commands verbatim (only the editor
// step is replaced: upload is turned off, there is no intake here), then checks what a user
// would: the service is active with a dynamic user and exactly its four capabilities, /readyz
// and /metrics answer, the kernel log is followed, the store is in /var/lib/private/antimetal,
// the system is read-only to it, and `systemctl stop` ends it cleanly.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { binary, REPO } from "./manifests.ts";

const ROOTFS = "/var/cache/antimetal-dev/systemd-root";
const VERSION = "0.0.0-test";

/** The shell block of docs/install.md that installs the unit, with the editor step replaced. */
function installCommands(): string {
  const guide = fs.readFileSync(path.join(REPO, "docs/install.md"), "utf8");
  const section = guide.slice(guide.indexOf("## On a host with systemd"), guide.indexOf("## In a Kubernetes cluster"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("docs/install.md: no install block in the systemd section");
  expect(block).toContain("systemctl enable --now antimetal-agent");
  return block
    .replaceAll("<version>", VERSION)
    .replace(/^\$EDITOR .*$/m, "sed -i 's/^ANTIMETAL_AGENT_ARGS=$/ANTIMETAL_AGENT_ARGS=--intake-address=/' /etc/antimetal/agent.env");
}

const PROBE = `#!/bin/bash
set -u
out=/results
cd /install
bash -ex /install/install.sh > $out/install.log 2>&1
echo $? > $out/install.rc
for i in $(seq 1 120); do curl -fsS http://127.0.0.1:8081/readyz >/dev/null 2>&1 && break; sleep 0.5; done
curl -sS http://127.0.0.1:8081/readyz > $out/readyz 2>&1
sleep 3
curl -fsS http://127.0.0.1:8080/metrics > $out/metrics 2>&1
systemctl show antimetal-agent -p ActiveState -p SubState -p NRestarts -p DynamicUser -p UnitFileState > $out/show
pid=$(systemctl show -p MainPID --value antimetal-agent)
cat /proc/$pid/status > $out/status
cat /proc/$pid/mountinfo > $out/mountinfo
stat -c '%U %a %n' /var/lib/private/antimetal /var/lib/private/antimetal/* > $out/state 2>&1
readlink /var/lib/antimetal >> $out/state
journalctl -u antimetal-agent --no-pager -o cat > $out/journal 2>&1
systemctl stop antimetal-agent
systemctl show antimetal-agent -p ActiveState -p Result -p ExecMainStatus > $out/stopped
systemctl poweroff
`;

const PROBE_UNIT = `[Unit]
Description=docs/install.md systemd path, then checks
[Service]
Type=oneshot
ExecStart=/install/probe.sh
`;

function props(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

describe("systemd install under a booted systemd (nspawn)", () => {
  let work: string;
  let results: string;
  let read: (f: string) => string;
  let console_: string;

  beforeAll(() => {
    expect(fs.existsSync(path.join(ROOTFS, "usr/lib/systemd/systemd"))).toBe(true);
    work = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-nspawn-"));
    results = path.join(work, "results");
    fs.mkdirSync(results);
    fs.writeFileSync(path.join(work, "install.sh"), installCommands());
    fs.writeFileSync(path.join(work, "probe.sh"), PROBE, { mode: 0o755 });
    fs.writeFileSync(path.join(work, "antimetal-probe.service"), PROBE_UNIT);
    const r = spawnSync(
      "timeout",
      [
        "120",
        "systemd-nspawn",
        "--quiet",
        "--directory",
        ROOTFS,
        // The cached root stays pristine: every write goes to a tmpfs overlay.
        "--volatile=overlay",
        "--register=no",
        "--keep-unit",
        "--private-network",
        // A host's systemd has every capability and no syscall filter; nspawn's defaults lack these
        // three capabilities and block bpf() for containers without CAP_SYS_ADMIN.
        "--capability=CAP_BPF,CAP_PERFMON,CAP_SYSLOG",
        "--system-call-filter=bpf perf_event_open",
        "--bind-ro=/dev/kmsg",
        "--bind-ro=/sys/kernel/tracing",
        // The release layout the guide's commands expect, in /install.
        `--bind-ro=${binary("amd64")}:/install/antimetal-agent-${VERSION}-linux-amd64`,
        `--bind-ro=${path.join(REPO, "deploy")}:/install/deploy`,
        `--bind-ro=${path.join(work, "install.sh")}:/install/install.sh`,
        `--bind-ro=${path.join(work, "probe.sh")}:/install/probe.sh`,
        `--bind-ro=${path.join(work, "antimetal-probe.service")}:/etc/systemd/system/antimetal-probe.service`,
        `--bind=${results}:/results`,
        "--boot",
        "--",
        "systemd.wants=antimetal-probe.service",
      ],
      { encoding: "utf8" },
    );
    console_ = `${r.stdout}\n${r.stderr}`;
    read = (f: string) => {
      const p = path.join(results, f);
      if (!fs.existsSync(p)) throw new Error(`probe wrote no ${f}; container console:\n${console_.slice(-4000)}`);
      return fs.readFileSync(p, "utf8");
    };
  }, 150000);
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test("the guide's install commands succeed and start the service", () => {
    expect({ rc: read("install.rc").trim(), log: read("install.rc").trim() === "0" ? "" : read("install.log") }).toEqual({
      rc: "0",
      log: "",
    });
    const show = props(read("show"));
    expect([show.ActiveState, show.SubState, show.NRestarts, show.DynamicUser, show.UnitFileState]).toEqual([
      "active",
      "running",
      "0",
      "yes",
      "enabled",
    ]);
    expect(read("readyz").trim()).toBe("ok");
  });

  test("a dynamic user holding exactly CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH, CAP_SYSLOG", () => {
    const status = read("status");
    const uid = Number(/Uid:\s+(\d+)/.exec(status)![1]);
    expect(uid).toBeGreaterThanOrEqual(61184); // systemd's DynamicUser range 61184-65519
    expect(uid).toBeLessThanOrEqual(65519);
    const want = ((1n << 2n) | (1n << 34n) | (1n << 38n) | (1n << 39n)).toString(16).padStart(16, "0");
    for (const set of ["CapEff", "CapPrm", "CapBnd", "CapAmb"]) {
      expect(`${set} ${new RegExp(`${set}:\\s+([0-9a-f]+)`).exec(status)![1]}`).toBe(`${set} ${want}`);
    }
    expect(/NoNewPrivs:\s+1/.test(status)).toBe(true);
  });

  test("read-only system, private /tmp, store in the state directory", () => {
    const mounts = read("mountinfo").split("\n");
    expect(mounts.find((l) => l.split(" ")[4] === "/")!.split(" ")[5]).toMatch(/^ro/);
    expect(mounts.some((l) => l.split(" ")[4] === "/tmp" && l.split(" ")[5]!.startsWith("rw"))).toBe(true);
    const state = read("state");
    expect(state).toMatch(/^\S+ 700 \/var\/lib\/private\/antimetal$/m);
    expect(state).toContain("/var/lib/private/antimetal/resource");
    expect(state.trim().endsWith("private/antimetal")).toBe(true);
  });

  test("metrics: host collectors and the kernel log are live; no error in the journal", () => {
    const metrics = read("metrics");
    expect(metrics).toMatch(/^node_load1 [\d.]+$/m);
    expect(metrics).toMatch(/^antimetal_kernel_messages_total\{severity="\d"\} [1-9]\d*$/m);
    const journal = read("journal");
    expect(journal).toContain('"msg":"agent running"');
    expect(journal.split("\n").filter((l) => l.includes('"level":"error"'))).toEqual([]);
  });

  test("systemctl stop ends it cleanly", () => {
    const stopped = props(read("stopped"));
    expect([stopped.ActiveState, stopped.Result, stopped.ExecMainStatus]).toEqual(["inactive", "success", "0"]);
  });
});
