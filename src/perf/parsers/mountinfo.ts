// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for /proc/<pid>/mountinfo: mount ids, device, root, mount point, options and fs type, with
// the kernel's octal path escapes undone.

import { lines } from "./num.ts";

export interface MountInfo {
  mountId: number;
  parentId: number;
  /** major:minor of the device. */
  devNum: string;
  root: string;
  mountPoint: string;
  options: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

/** Undoes the kernel's octal escapes in mountinfo paths ("\\040" is a space). */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Parses /proc/<pid>/mountinfo: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
 * Optional fields end at the "-" separator. Lines without it or with too few fields are counted as malformed.
 */
export function parseMountinfo(text: string): { mounts: MountInfo[]; malformed: number } {
  const mounts: MountInfo[] = [];
  let malformed = 0;
  for (const line of lines(text)) {
    if (line.trim() === "") continue;
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (f.length < 10 || sep < 0 || sep + 3 > f.length) {
      malformed++;
      continue;
    }
    mounts.push({
      mountId: Number(f[0]),
      parentId: Number(f[1]),
      devNum: f[2]!,
      root: unescapeMountPath(f[3]!),
      mountPoint: unescapeMountPath(f[4]!),
      options: f[5]!.split(","),
      fsType: f[sep + 1]!,
      source: unescapeMountPath(f[sep + 2]!),
      superOptions: (f[sep + 3] ?? "").split(","),
    });
  }
  return { mounts, malformed };
}
