// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// SELinux config and enforce parsing, with the modes node_exporter reports.

import { expect, test } from "bun:test";
import { parseSelinuxConfigMode, parseSelinuxEnforce } from "./selinux.ts";

test("SELINUX= in /etc/selinux/config: enforcing 1, permissive 0, disabled -1, absent or unknown null", () => {
  expect(parseSelinuxConfigMode("# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n")).toBe(1);
  expect(parseSelinuxConfigMode("SELINUX=permissive\n")).toBe(0);
  expect(parseSelinuxConfigMode('SELINUX="disabled"\n')).toBe(-1);
  expect(parseSelinuxConfigMode("SELINUXTYPE=targeted\n")).toBeNull();
  expect(parseSelinuxConfigMode("SELINUX=sometimes\n")).toBeNull();
});

test("selinuxfs enforce: 1 enforcing, 0 permissive, anything else an error naming the value", () => {
  expect(parseSelinuxEnforce("1\n")).toBe(1);
  expect(parseSelinuxEnforce("0")).toBe(0);
  expect(() => parseSelinuxEnforce("x")).toThrow('selinux enforce: unexpected value "x"');
});
