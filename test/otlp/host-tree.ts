// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A fixed host tree (procfs and sysfs files, two NUMA nodes, no processes; from test/fixtures/perf/samples plus a few written here)
// so the agent's OTLP output and `collect` see the same numbers at any moment; values include
// counters past 2^53 to check exact u64 on the wire.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const sample = (name: string) => fs.readFileSync(path.join(import.meta.dir, "../fixtures/perf/samples", name), "utf8");

const STAT = `cpu  9007199254740993 100 2000 50000 300 10 20 5 0 0
cpu0 4503599627370497 50 1000 25000 150 5 10 3 0 0
cpu1 4503599627370496 50 1000 25000 150 5 10 2 0 0
intr 18014398509481985 1 2 3
ctxt 36028797018963971
btime 1764900000
processes 4242
procs_running 3
procs_blocked 1
softirq 100 1 2 3
`;

const VMSTAT = `nr_free_pages 100
pswpin 12
pswpout 34
`;

/** Materialises the tree; returns its root (proc under <root>/proc, sys under <root>/sys). */
export function makeHostTree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "otlp-host-"));
  const files: Record<string, string> = {
    "proc/stat": STAT,
    "proc/loadavg": "0.25 0.50 1.75 3/420 12345\n",
    "proc/uptime": "12345.67 20000.00\n",
    "proc/meminfo": sample("meminfo"),
    "proc/vmstat": VMSTAT,
    "proc/diskstats": sample("diskstats"),
    "proc/net/dev": sample("net_dev"),
    "proc/net/snmp": sample("snmp"),
    "proc/net/netstat": sample("netstat"),
    "proc/net/tcp": sample("tcp"),
    "proc/net/tcp6": sample("tcp6"),
    "sys/class/net/eth0/operstate": "up\n",
    "sys/class/net/eth0/speed": "10000\n",
    "sys/class/net/eth0/carrier": "1\n",
    "sys/class/net/eth0/duplex": "full\n",
    "sys/class/net/lo/operstate": "unknown\n",
    "sys/class/net/lo/carrier": "1\n",
  };
  for (const node of [0, 1]) {
    files[`sys/devices/system/node/node${node}/numastat`] =
      `numa_hit ${1000 + node}\nnuma_miss ${10 + node}\nnuma_foreign 5\ninterleave_hit 3\nlocal_node ${990 + node}\nother_node 20\n`;
    files[`sys/devices/system/node/node${node}/meminfo`] =
      `Node ${node} MemTotal:       8192000 kB\nNode ${node} MemFree:        ${4096000 + node} kB\nNode ${node} MemUsed:        4096000 kB\n` +
      `Node ${node} FilePages:      1000 kB\nNode ${node} AnonPages:      2000 kB\n`;
  }
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  return root;
}
