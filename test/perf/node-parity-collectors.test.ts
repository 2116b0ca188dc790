// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The node_exporter parity collectors (uname, os_release, time, timex, pressure, conntrack, filefd, entropy,
// arp, softnet) against fixture trees and this host, and the exact text their families render to.

import { afterAll, describe, expect, test } from "bun:test";
import * as os from "node:os";
import { readTimex } from "../../src/perf/adjtimex.ts";
import { type MetricType, metricEvent } from "../../src/perf/collector.ts";
import { OSReleaseCollector, UnameCollector } from "../../src/perf/collectors/host-identity.ts";
import { ConntrackCollector, EntropyCollector, FilefdCollector } from "../../src/perf/collectors/kernel-tables.ts";
import { ArpCollector, SoftnetCollector } from "../../src/perf/collectors/net-tables.ts";
import { PressureCollector } from "../../src/perf/collectors/pressure.ts";
import { localZone, TimeCollector, TimexCollector } from "../../src/perf/collectors/time.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { cleanupTrees, makeTree, pathsFor, sig } from "./tree.ts";

afterAll(cleanupTrees);

const FULL = {
  "proc/sys/kernel/ostype": "Linux\n",
  "proc/sys/kernel/osrelease": "6.1.0-18-amd64\n",
  "proc/sys/kernel/version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)\n",
  "proc/sys/kernel/hostname": "node-a\n",
  "proc/sys/kernel/domainname": "(none)\n",
  "etc/os-release":
    'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n',
  "sys/devices/system/clocksource/clocksource0/available_clocksource": "tsc hpet acpi_pm \n",
  "sys/devices/system/clocksource/clocksource0/current_clocksource": "tsc\n",
  "sys/devices/system/clocksource/power/autosuspend_delay_ms": "",
  "proc/pressure/cpu": "some avg10=1.00 avg60=2.00 avg300=3.00 total=3098266913\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
  "proc/pressure/io": "some avg10=0.22 avg60=0.34 avg300=0.33 total=33773053\nfull avg10=0.00 avg60=0.02 avg300=0.00 total=9756302\n",
  "proc/pressure/memory": "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=500000\n",
  "proc/sys/net/netfilter/nf_conntrack_count": "123\n",
  "proc/sys/net/netfilter/nf_conntrack_max": "262144\n",
  "proc/net/stat/nf_conntrack":
    "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n" +
    "0000007b  00000000 00000001 00000000 00000002 00000003 00000000 00000000 00000004 00000005 00000006 00000007 00000000  00000000 00000000 00000000 00000008\n" +
    "0000007b  00000000 00000001 00000000 00000002 00000003 00000000 00000000 00000004 00000005 00000006 00000007 00000000  00000000 00000000 00000000 00000008\n",
  "proc/sys/fs/file-nr": "1128\t0\t9223372036854775807\n",
  "proc/sys/kernel/random/entropy_avail": "256\n",
  "proc/sys/kernel/random/poolsize": "256\n",
  "proc/net/arp":
    "IP address       HW type     Flags       HW address            Mask     Device\n" +
    "192.168.1.1      0x1         0x2         cc:aa:dd:ee:ff:00     *        eth0\n" +
    "10.0.0.7         0x1         0x2         cc:aa:dd:ee:ff:01     *        cali1\n" +
    "10.0.0.8         0x1         0x2         cc:aa:dd:ee:ff:02     *        cali1\n",
  "proc/net/softnet_stat":
    "01387f1d 00000000 00000012 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n" +
    "00000010 00000002 00000018 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000 00000000\n",
};

/** Collects every parity type from `root` into a fresh exposition and renders it. */
async function renderTree(root: string, now = 1_700_000_000_123): Promise<string> {
  const paths = pathsFor(root);
  const ex = new PrometheusExposition();
  const collectors = [
    new UnameCollector(paths),
    new OSReleaseCollector(paths),
    new TimeCollector(paths, { now: () => now }),
    new PressureCollector(paths),
    new ConntrackCollector(paths),
    new FilefdCollector(paths),
    new EntropyCollector(paths),
    new ArpCollector(paths),
    new SoftnetCollector(paths),
  ];
  for (const c of collectors) ex.accept(metricEvent(c.spec.type as MetricType, (await c.collect(sig())) as never, "gauge", "n"));
  return ex.render();
}

const samplesOf = (text: string, prefix: string) => text.split("\n").filter((l) => l.startsWith(prefix));

describe("fixture host with every file", () => {
  test("collect JSON values", async () => {
    const paths = pathsFor(makeTree(FULL));
    expect(await new UnameCollector(paths).collect(sig())).toEqual({
      sysname: "Linux",
      release: "6.1.0-18-amd64",
      version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
      machine: os.machine(),
      nodename: "node-a",
      domainname: "(none)",
    });
    const osr = await new OSReleaseCollector(paths).collect(sig());
    expect(osr?.version_number).toBe(22.04);
    expect(osr?.id_like).toBe("debian");
    expect(osr?.variant).toBe("");
    const ct = await new ConntrackCollector(paths).collect(sig());
    expect(ct?.entries).toBe(123n);
    expect(ct?.stat?.search_restart).toBe(16n);
    expect((await new FilefdCollector(paths).collect(sig())).maximum).toBe(9223372036854775807n);
    expect(await new ArpCollector(paths).collect(sig())).toEqual([
      { device: "eth0", entries: 1 },
      { device: "cali1", entries: 2 },
    ]);
    const p = await new PressureCollector(paths).collect(sig());
    expect(p.irq).toBeNull();
    expect(p.cpu?.some?.total).toBe(3098266913n);
  });

  test("renders node_exporter's names, labels and units", async () => {
    const text = await renderTree(makeTree(FULL));
    expect(samplesOf(text, "node_uname_info")).toEqual([
      `node_uname_info{domainname="(none)",machine="${os.machine()}",nodename="node-a",release="6.1.0-18-amd64",sysname="Linux",version="#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"} 1`,
    ]);
    expect(samplesOf(text, "node_os_")).toEqual([
      'node_os_info{build_id="",id="ubuntu",id_like="debian",image_id="",image_version="",name="Ubuntu",pretty_name="Ubuntu 22.04.4 LTS",variant="",variant_id="",version="22.04.4 LTS (Jammy Jellyfish)",version_codename="jammy",version_id="22.04"} 1',
      'node_os_version{id="ubuntu",id_like="debian",name="Ubuntu"} 22.04',
    ]);
    expect(samplesOf(text, "node_time_seconds")).toEqual(["node_time_seconds 1700000000.123"]);
    expect(samplesOf(text, "node_time_clocksource")).toEqual([
      'node_time_clocksource_available_info{clocksource="tsc",device="0"} 1',
      'node_time_clocksource_available_info{clocksource="hpet",device="0"} 1',
      'node_time_clocksource_available_info{clocksource="acpi_pm",device="0"} 1',
      'node_time_clocksource_current_info{clocksource="tsc",device="0"} 1',
    ]);
    expect(samplesOf(text, "node_pressure_")).toEqual([
      "node_pressure_cpu_waiting_seconds_total 3098.266913",
      "node_pressure_io_waiting_seconds_total 33.773053",
      "node_pressure_io_stalled_seconds_total 9.756302",
      "node_pressure_memory_waiting_seconds_total 1.5",
      "node_pressure_memory_stalled_seconds_total 0.5",
    ]);
    expect(text).not.toContain("node_pressure_irq_stalled_seconds_total");
    expect(samplesOf(text, "node_nf_conntrack_")).toEqual([
      "node_nf_conntrack_entries 123",
      "node_nf_conntrack_entries_limit 262144",
      "node_nf_conntrack_stat_found 2",
      "node_nf_conntrack_stat_invalid 4",
      "node_nf_conntrack_stat_ignore 6",
      "node_nf_conntrack_stat_insert 8",
      "node_nf_conntrack_stat_insert_failed 10",
      "node_nf_conntrack_stat_drop 12",
      "node_nf_conntrack_stat_early_drop 14",
      "node_nf_conntrack_stat_search_restart 16",
    ]);
    expect(samplesOf(text, "node_filefd_")).toEqual(["node_filefd_allocated 1128", "node_filefd_maximum 9223372036854776000"]);
    expect(samplesOf(text, "node_entropy_")).toEqual(["node_entropy_available_bits 256", "node_entropy_pool_size_bits 256"]);
    expect(samplesOf(text, "node_arp_entries")).toEqual(['node_arp_entries{device="eth0"} 1', 'node_arp_entries{device="cali1"} 2']);
    expect(samplesOf(text, "node_softnet_")).toEqual([
      'node_softnet_processed_total{cpu="0"} 20479773',
      'node_softnet_processed_total{cpu="1"} 16',
      'node_softnet_dropped_total{cpu="0"} 0',
      'node_softnet_dropped_total{cpu="1"} 2',
      'node_softnet_times_squeezed_total{cpu="0"} 18',
      'node_softnet_times_squeezed_total{cpu="1"} 24',
    ]);
    expect(text).toContain("# TYPE node_softnet_processed_total counter\n");
    expect(text).toContain("# TYPE node_nf_conntrack_stat_drop gauge\n");
    expect(text).toContain("# HELP node_time_seconds System time in seconds since epoch (1970).\n");
  });
});

describe("hosts without the optional files (old kernels, no conntrack module, no os-release)", () => {
  const MINIMAL = Object.fromEntries(
    Object.entries(FULL).filter(([k]) => !/pressure|netfilter|stat\/nf_conntrack|os-release|clocksource/.test(k)),
  );
  test("collectors answer null / empty instead of failing", async () => {
    const paths = pathsFor(makeTree(MINIMAL));
    expect(await new OSReleaseCollector(paths).collect(sig())).toBeNull();
    expect(await new ConntrackCollector(paths).collect(sig())).toBeNull();
    expect(await new PressureCollector(paths).collect(sig())).toEqual({ cpu: null, io: null, memory: null, irq: null });
    expect((await new TimeCollector(paths).collect(sig())).clocksources).toEqual([]);
  });
  test("their families are not served at all (no bare HELP/TYPE)", async () => {
    const text = await renderTree(makeTree(MINIMAL));
    for (const gone of ["node_os_info", "node_os_version", "node_pressure_", "node_nf_conntrack_", "node_time_clocksource_"])
      expect(text).not.toContain(gone);
    expect(text).toContain("node_filefd_allocated 1128");
    expect(text).toContain("node_time_seconds ");
  });
  test("os-release falls back to usr/lib/os-release beside HOST_ETC", async () => {
    const paths = pathsFor(makeTree({ "usr/lib/os-release": "ID=fedora\nNAME=Fedora\nVERSION_ID=40\n", "etc/hostname": "x\n" }));
    const o = await new OSReleaseCollector(paths).collect(sig());
    expect(o?.id).toBe("fedora");
    expect(o?.file).toEndWith("/usr/lib/os-release");
  });
  test("nf_conntrack_count without nf_conntrack_max is an error naming the file", async () => {
    const paths = pathsFor(makeTree({ "proc/sys/net/netfilter/nf_conntrack_count": "1\n" }));
    await expect(new ConntrackCollector(paths).collect(sig())).rejects.toThrow("nf_conntrack_max is missing");
  });
  test("malformed files fail with the file and line", async () => {
    const paths = pathsFor(makeTree({ "proc/net/softnet_stat": "1 2\n", "proc/pressure/io": "some avg10=x\n" }));
    await expect(new SoftnetCollector(paths).collect(sig())).rejects.toThrow("/proc/net/softnet_stat line 1");
    await expect(new PressureCollector(paths).collect(sig())).rejects.toThrow("/proc/pressure/io line 1");
  });
});

describe("this host", () => {
  test("adjtimex(2) answers through bun:ffi and the timex collector serves every node_timex_ family", async () => {
    const t = readTimex();
    expect(t.tick_seconds).toBeGreaterThan(0);
    expect([0, 1]).toContain(t.sync_status);
    const timex = await new TimexCollector(pathsFor("/")).collect(sig());
    expect(timex).not.toBeNull();
    const ex = new PrometheusExposition();
    ex.accept(metricEvent("timex", timex, "gauge", "n"));
    const names = (await ex.render()).split("\n").filter((l) => l.startsWith("# TYPE node_timex_"));
    expect(names).toHaveLength(17);
  });
  test("uname matches the running kernel", async () => {
    const u = await new UnameCollector({ proc: "/proc", sys: "/sys", dev: "/dev", etc: "/etc", var: "/var" }).collect(sig());
    expect(u.release).toBe(os.release());
    expect(u.nodename).toBe(os.hostname());
  });
  test("local zone: UTC is named UTC with offset 0", () => {
    const z = localZone(new Date());
    expect(z.offsetSeconds).toBe(-new Date().getTimezoneOffset() * 60);
    if (z.offsetSeconds === 0) expect(["UTC", "GMT"]).toContain(z.name);
  });
});
