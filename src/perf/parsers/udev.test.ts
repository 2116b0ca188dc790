// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the udev database parser and node_disk_info's labels: an NVMe and a SCSI disk entry,
// the SCSI serial fallback, values containing "=", and an empty or missing entry.

import { describe, expect, test } from "bun:test";
import { diskInfoLabels, parseUdevData } from "./udev.ts";

const NVME = `S:disk/by-id/nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0N123456
W:1
I:7063420
E:ID_SERIAL_SHORT=S4EWNX0N123456
E:ID_WWN=eui.0025385391b12345
E:ID_MODEL=Samsung SSD 970 EVO Plus 1TB
E:ID_REVISION=2B2QEXM7
E:ID_PATH=pci-0000:01:00.0-nvme-1
E:ID_FS_LABEL=a=b
G:systemd
`;

describe("udev data", () => {
  test("E: lines become properties; other record types are ignored", () => {
    const m = parseUdevData(NVME);
    expect(m.get("ID_MODEL")).toBe("Samsung SSD 970 EVO Plus 1TB");
    expect(m.get("ID_FS_LABEL")).toBe("a=b");
    expect(m.has("S")).toBe(false);
    expect(m.size).toBe(6);
  });
  test("node_disk_info labels", () => {
    expect(diskInfoLabels(parseUdevData(NVME))).toEqual({
      path: "pci-0000:01:00.0-nvme-1",
      wwn: "eui.0025385391b12345",
      model: "Samsung SSD 970 EVO Plus 1TB",
      serial: "S4EWNX0N123456",
      revision: "2B2QEXM7",
    });
  });
  test("SCSI serial fallback; no entry gives empty labels", () => {
    expect(diskInfoLabels(parseUdevData("E:SCSI_IDENT_SERIAL=ZA1B2C3D\nE:ID_MODEL=ST4000\n")).serial).toBe("ZA1B2C3D");
    expect(diskInfoLabels(undefined)).toEqual({ path: "", wwn: "", model: "", serial: "", revision: "" });
    expect(parseUdevData("E:BROKEN\n\n").size).toBe(0);
  });
});
