// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the mountinfo parser: optional fields, octal escapes, malformed lines, the live table.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseMountinfo } from "./mountinfo.ts";

test("mountinfo with optional fields, escapes and malformed lines", () => {
  const r = parseMountinfo(
    "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n" +
      "37 35 0:45 / /media/my\\040disk ro shared:7 master:2 - vfat /dev/sdb1 ro\n" +
      "38 35 0:46 / /x rw - tmpfs tmpfs rw\n" +
      "bad line\n",
  );
  expect(r.mounts.map((m) => [m.mountPoint, m.fsType, m.source, m.options[0]])).toEqual([
    ["/mnt2", "ext3", "/dev/root", "rw"],
    ["/media/my disk", "vfat", "/dev/sdb1", "ro"],
    ["/x", "tmpfs", "tmpfs", "rw"],
  ]);
  expect(r.malformed).toBe(1);
});

test("live mountinfo", () => {
  const r = parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
  expect(r.mounts.some((m) => m.mountPoint === "/")).toBe(true);
  expect(r.malformed).toBe(0);
});
