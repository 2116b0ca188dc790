// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Unit tests: pod UID from /proc/<pid>/cgroup text (kubelet's cgroupfs and systemd layouts), external address blocks. */

import { expect, test } from "bun:test";
import { externalBlock } from "./graph.ts";
import { podUidFromCgroupText } from "./workload.ts";

const UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

test("pod UID from the systemd driver's slice names (unified line)", () => {
  const text = `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replaceAll("-", "_")}.slice/cri-containerd-abc.scope\n`;
  expect(podUidFromCgroupText(text)).toBe(UID);
});

test("pod UID from the cgroupfs driver's paths, v1 lines when the unified one has none", () => {
  const text = `12:memory:/kubepods/besteffort/pod${UID}/4f2c\n0::/\n`;
  expect(podUidFromCgroupText(text)).toBe(UID);
});

test("no pod: a host process", () => {
  expect(podUidFromCgroupText("0::/system.slice/sshd.service\n")).toBeUndefined();
  expect(podUidFromCgroupText("")).toBeUndefined();
});

test("external peers aggregate by IPv4 /24 and IPv6 /64", () => {
  expect(externalBlock("203.0.113.77", 4)).toBe("203.0.113.0/24");
  expect(externalBlock("2001:db8:1:2:3:4:5:6", 6)).toBe("2001:db8:1:2::/64");
  expect(externalBlock("2001:db8::1", 6)).toBe("2001:db8::/64");
  expect(externalBlock("fd00:241:aa::2", 6)).toBe("fd00:241:aa::/64");
  expect(externalBlock("::1", 6)).toBe("::/64");
});
