// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the host-fact readers over temp trees: machine-id, hostname, os-release, architecture,
// boot time, and bus/NUMA detection from sysfs device links.

import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Architecture, BusType } from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import {
  architectureFromMachine,
  busFromDevicePath,
  parseBootTime,
  parseOsReleasePrettyName,
  readBus,
  readHostname,
  readMachineId,
  readOsInfo,
  readSystemUuid,
} from "./facts.ts";

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
});
function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hostgraph-facts-"));
  dirs.push(root);
  for (const [p, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), text);
  }
  return root;
}
const at = (root: string) => ({ proc: `${root}/proc`, sys: `${root}/sys`, dev: `${root}/dev`, etc: `${root}/etc`, var: `${root}/var` });

test("machine-id: HOST_ETC first, then HOST_VAR/lib/dbus, blank counts as absent", async () => {
  expect(await readMachineId(at(tree({ "etc/machine-id": "aaa\n", "var/lib/dbus/machine-id": "bbb\n" })))).toBe("aaa");
  expect(await readMachineId(at(tree({ "etc/machine-id": "\n", "var/lib/dbus/machine-id": "bbb\n" })))).toBe("bbb");
  expect(await readMachineId(at(tree({})))).toBe("");
  expect(await readSystemUuid(at(tree({ "sys/class/dmi/id/product_uuid": " 4c4c-1 \n" })))).toBe("4c4c-1");
  expect(await readSystemUuid(at(tree({})))).toBe("");
});

test("hostname: HOST_ETC/hostname, then the kernel's", async () => {
  expect(await readHostname(at(tree({ "etc/hostname": "box\n", "proc/sys/kernel/hostname": "k\n" })))).toBe("box");
  expect(await readHostname(at(tree({ "proc/sys/kernel/hostname": "k\n" })))).toBe("k");
});

test("os-release PRETTY_NAME, else Linux", async () => {
  expect(parseOsReleasePrettyName('NAME=x\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe("Debian GNU/Linux 12 (bookworm)");
  expect(parseOsReleasePrettyName("PRETTY_NAME=Alpine\n")).toBe("Alpine");
  expect(await readOsInfo(at(tree({})))).toBe("Linux");
});

test("architecture and boot time", () => {
  expect(architectureFromMachine("x86_64")).toBe(Architecture.X86_64);
  expect(architectureFromMachine("aarch64")).toBe(Architecture.ARM64);
  expect(architectureFromMachine("arm64")).toBe(Architecture.ARM64);
  expect(architectureFromMachine("armv7l")).toBe(Architecture.ARM);
  expect(architectureFromMachine("riscv64")).toBe(Architecture.RISCV64);
  expect(architectureFromMachine("vax")).toBe(Architecture.UNKNOWN);
  expect(parseBootTime("cpu 1 2\nbtime 1700000000\nprocesses 3\n")).toBe(1700000000);
  expect(parseBootTime("cpu 1 2\n")).toBe(0);
});

test("bus from the device link target", () => {
  const b = (p: string) => {
    const r = busFromDevicePath(p);
    return r && [BusType[r.type], r.address];
  };
  expect(b("pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0")).toEqual(["NVME", "0000:3d:00.0"]);
  expect(b("pci0000:00/0000:00:17.0/ata3/host2/target2:0:0/2:0:0:0")).toEqual(["SATA", "2:0:0:0"]);
  expect(b("pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0")).toEqual(["USB", "2-1"]);
  expect(b("pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0")).toEqual(["USB", "1-3"]);
  expect(b("pci0000:00/0000:00:02.0/virtio1")).toEqual(["VIRTIO", "0000:00:02.0"]);
  expect(b("platform/10000000.virtio_mmio/virtio0")).toEqual(["VIRTIO", "virtio0"]);
  expect(b("pci0000:00/0000:00:05.0/virtio2/host0/target0:0:1/0:0:1:0")).toEqual(["SCSI", "0:0:1:0"]);
  expect(b("pci0000:00/0000:00:03.0/0000:02:00.0/host0/port-0:0/end_device-0:0/target0:0:0/0:0:0:0")).toEqual(["SAS", "0:0:0:0"]);
  expect(b("pci0000:00/0000:00:1f.6")).toEqual(["PCI", "0000:00:1f.6"]);
  expect(b("virtual/net/lo")).toBeUndefined();
  expect(b("platform/soc/fe300000.mmcnr")).toBeUndefined();
});

test("readBus resolves the link, reads numa_node and tells PCIe by current_link_speed", async () => {
  const root = tree({
    "sys/devices/pci0000:80/0000:80:03.0/0000:81:00.0/numa_node": "1\n",
    "sys/devices/pci0000:80/0000:80:03.0/0000:81:00.0/current_link_speed": "8.0 GT/s PCIe\n",
    "sys/devices/pci0000:00/0000:00:1f.6/numa_node": "-1\n",
    "sys/class/net/.keep": "",
  });
  fs.symlinkSync("../../devices/pci0000:80/0000:80:03.0/0000:81:00.0", `${root}/sys/class/net/eth0`);
  fs.symlinkSync("../../devices/pci0000:00/0000:00:1f.6", `${root}/sys/class/net/eth1`);
  expect(await readBus(`${root}/sys`, `${root}/sys/class/net/eth0`)).toEqual({
    type: BusType.PCIE,
    address: "0000:81:00.0",
    numaNode: 1,
    pcie: true,
  });
  expect(await readBus(`${root}/sys`, `${root}/sys/class/net/eth1`)).toEqual({ type: BusType.PCI, address: "0000:00:1f.6" });
  expect(await readBus(`${root}/sys`, `${root}/sys/class/net/missing`)).toBeUndefined();
});

test("readBus follows a native-multipath NVMe namespace to its first controller", async () => {
  const root = tree({
    "sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/numa_node": "0\n",
    "sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/current_link_speed": "16.0 GT/s PCIe\n",
    "sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/model": "X\n",
    "sys/devices/pci0000:00/0000:00:1c.0/0000:3e:00.0/nvme/nvme1/model": "X\n",
    "sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1/size": "1\n",
    "sys/block/.keep": "",
  });
  const sub = `${root}/sys/devices/virtual/nvme-subsystem/nvme-subsys0`;
  fs.symlinkSync("../../../pci0000:00/0000:00:1c.0/0000:3e:00.0/nvme/nvme1", `${sub}/nvme1`);
  fs.symlinkSync("../../../pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0", `${sub}/nvme0`);
  fs.symlinkSync("../../nvme-subsys0", `${sub}/nvme0n1/device`);
  fs.symlinkSync("../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1", `${root}/sys/block/nvme0n1`);
  expect(await readBus(`${root}/sys`, `${root}/sys/block/nvme0n1/device`)).toEqual({
    type: BusType.NVME,
    address: "0000:3d:00.0",
    numaNode: 0,
    pcie: true,
  });
});
