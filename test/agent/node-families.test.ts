// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled agent serves the node_exporter families of issue 14 it adds (netclass, disk_info, udp_queues,
// IPv6 netstat, sockstat UDP, node_scrape_collector_*, textfile, process_*) on /metrics, and promtool
// parses the whole body.

import { afterAll, afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProcess, startAgent, waitForStatus } from "../helpers/agent-process.ts";

const STANDALONE = ["--data-directory", "", "--intake-address", "", "--enable-kubernetes-controller=false"];
const dir = mkdtempSync(join(tmpdir(), "textfile-e2e-"));
let agent: AgentProcess | undefined;
afterEach(async () => {
  await agent?.stop("SIGKILL");
  agent = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("node_exporter families from the binary, with a textfile directory, parse with promtool", async () => {
  writeFileSync(
    join(dir, "backup.prom"),
    '# HELP backup_last_success_seconds Last backup.\n# TYPE backup_last_success_seconds gauge\nbackup_last_success_seconds{job="db"} 1.7e9\n',
  );
  writeFileSync(join(dir, "broken.prom"), "half a line{\n");
  agent = await startAgent([
    ...STANDALONE,
    "--enable-performance-collectors",
    "--performance-collector-interval",
    "500ms",
    "--textfile-directory",
    dir,
  ]);
  await waitForStatus(`http://127.0.0.1:${agent.ports.probes}/readyz`, 200);
  let body = "";
  for (let i = 0; i < 40 && !body.includes('node_scrape_collector_success{collector="netclass"}'); i++) {
    await Bun.sleep(250);
    body = await (await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`)).text();
  }
  for (const re of [
    /^process_cpu_seconds_total \d/m,
    /^process_open_fds \d+$/m,
    /^process_max_fds \d+$/m,
    /^process_virtual_memory_bytes \d+$/m,
    /^process_virtual_memory_max_bytes \d/m,
    /^node_network_info\{address="[^"]*",broadcast="[^"]*",device="lo",duplex="",ifalias="[^"]*",operstate="[a-z]+"\} 1$/m,
    /^node_network_mtu_bytes\{device="lo"\} \d+$/m,
    /^node_network_iface_id\{device="lo"\} 1$/m,
    /^node_network_protocol_type\{device="lo"\} 772$/m,
    /^node_network_up\{device="lo"\} [01]$/m,
    /^node_disk_info\{device="[^"]+",major="\d+",minor="\d+",model="[^"]*",path="[^"]*",revision="[^"]*",serial="[^"]*",wwn="[^"]*"\} 1$/m,
    /^node_udp_queues\{ip="v4",queue="rx"\} \d+$/m,
    /^node_sockstat_UDP_mem_bytes \d+$/m,
    /^node_netstat_Ip6_InOctets \d/m,
    /^node_scrape_collector_success\{collector="cpu"\} 1$/m,
    /^node_scrape_collector_duration_seconds\{collector="netclass"\} [\d.e-]+$/m,
    /^backup_last_success_seconds\{job="db"\} 1700000000$/m,
    new RegExp(`^node_textfile_mtime_seconds\\{file="${join(dir, "backup.prom")}"\\} \\d+$`, "m"),
    /^node_textfile_scrape_error 1$/m,
  ])
    expect(body).toMatch(re);
  expect(body).not.toContain("half a line");
  const lint = Bun.spawnSync(["/usr/bin/promtool", "check", "metrics"], { stdin: new TextEncoder().encode(body) });
  const out = `${lint.stdout.toString()}${lint.stderr.toString()}`;
  expect(out).not.toContain("error while linting");
  expect(out).not.toContain("parsing error");
  expect(agent.logs.some((l) => l.component === "textfile" && String(l.file).endsWith("broken.prom"))).toBe(true);
});
