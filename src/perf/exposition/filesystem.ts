// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_filesystem_* from the filesystem collector (statfs of each mount), as node_exporter's filesystem collector.

import type { FilesystemStats } from "../collectors/filesystem.ts";
import { type FamilyGroup, n } from "./family.ts";

export const filesystemFamilies: FamilyGroup = {
  name: "filesystem",
  types: ["filesystem"],
  define(d, fam) {
    const fss = () => d.get("filesystem") ?? [];
    const fl = (f: FilesystemStats) => ({ device: f.device, fstype: f.fs_type, mountpoint: f.mount_point });
    const fsFam = (name: string, help: string, v: (f: FilesystemStats) => number) =>
      fam(name, "gauge", help, () => fss().map((f) => ({ labels: fl(f), value: v(f) })));
    fsFam("node_filesystem_size_bytes", "Filesystem size in bytes.", (f) => n(f.size_bytes));
    fsFam("node_filesystem_free_bytes", "Filesystem free space in bytes.", (f) => n(f.free_bytes));
    fsFam("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", (f) => n(f.avail_bytes));
    fsFam("node_filesystem_files", "Filesystem total file nodes.", (f) => n(f.files));
    fsFam("node_filesystem_files_free", "Filesystem total free file nodes.", (f) => n(f.files_free));
    fsFam("node_filesystem_readonly", "Filesystem read-only status.", (f) => (f.read_only ? 1 : 0));
    fsFam("node_filesystem_device_error", "Whether an error occurred while getting statistics for the given device.", (f) =>
      f.device_error ? 1 : 0,
    );
  },
};
