// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// antimetal_kernel_messages_total: kernel log records the kernel collector followed, by severity.

import type { FamilyGroup } from "./family.ts";

export const kernelFamilies: FamilyGroup = {
  name: "kernel",
  types: ["kernel"],
  define(d, fam) {
    fam(
      "antimetal_kernel_messages_total",
      "counter",
      "Kernel log (/dev/kmsg) records seen in follow mode, by severity (0 emerg .. 7 debug).",
      () => [...d.kmsgBySeverity].map(([s, v]) => ({ labels: { severity: String(s) }, value: v })),
    );
  },
};
