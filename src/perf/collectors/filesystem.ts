// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// filesystem collector (not in the original agent): size, free and inode counts of data filesystems via
// statfs, from the host's mountinfo, with a timeout per mount so hung network mounts cannot stall it.

import type { HostPaths, PointCollector } from "../collector.ts";
import { detectMountView, type MountView } from "../host-view.ts";
import { type MountInfo, parseMountinfo } from "../parsers/mountinfo.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

export interface FilesystemStats {
  device: string;
  mount_point: string;
  fs_type: string;
  read_only: boolean;
  size_bytes: bigint;
  free_bytes: bigint;
  avail_bytes: bigint;
  files: bigint;
  files_free: bigint;
  /** statfs failed or timed out (a hung network mount); sizes are 0. */
  device_error: boolean;
}

/**
 * Filesystems that hold data. An allowlist rather than node_exporter's denylist: pseudo and unknown
 * filesystems are never statfs'd (overlay is left out as in node_exporter: container layers).
 */
export const FS_TYPES = new Set([
  "ext2",
  "ext3",
  "ext4",
  "xfs",
  "btrfs",
  "zfs",
  "vfat",
  "msdos",
  "exfat",
  "ntfs",
  "ntfs3",
  "fuseblk",
  "f2fs",
  "jfs",
  "reiserfs",
  "hfs",
  "hfsplus",
  "tmpfs",
  "ramfs",
  "nfs",
  "nfs4",
  "cifs",
  "smb3",
  "ceph",
  "glusterfs",
  "lustre",
  "9p",
  "virtiofs",
]);
/** node_exporter's default mount point exclusion. */
export const MOUNT_EXCLUDE = /^\/(dev|proc|run\/credentials\/.+|sys|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;
/** Budget of one statfs: a hung NFS/CIFS server answers nothing, and the other mounts must still report. */
const STATFS_TIMEOUT_MS = 1000;

/**
 * Not in the original agent; what node_exporter's filesystem collector and the OTel filesystem scraper
 * report. Mounts are the host PID 1's, statfs'd through <proc>/1/root or HOST_ROOT, when the agent can
 * reach them, else the agent's own (src/perf/host-view.ts#detectMountView).
 */
export class FilesystemCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("filesystem", "Filesystem Usage Collector", true, true, "2.6.0");
  private view: MountView | undefined;
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
  }

  private async pickView(signal: AbortSignal) {
    this.view ??= await detectMountView(this.io, this.paths, signal);
    return this.view;
  }

  async collect(signal: AbortSignal): Promise<FilesystemStats[]> {
    const view = await this.pickView(signal);
    const text = await this.readCritical(view.mountinfo, signal);
    const parsed = parseMountinfo(text);
    this.malformed(parsed.malformed);
    const byPoint = new Map<string, MountInfo>();
    const exclude = this.opts.filesystemMountExclude ?? MOUNT_EXCLUDE;
    for (const m of parsed.mounts) if (FS_TYPES.has(m.fsType) && !exclude.test(m.mountPoint)) byPoint.set(m.mountPoint, m);
    const mounts = [...byPoint.values()].sort((a, b) => a.mountPoint.localeCompare(b.mountPoint));
    return Promise.all(
      mounts.map(async (m): Promise<FilesystemStats> => {
        const out: FilesystemStats = {
          device: m.source,
          mount_point: m.mountPoint,
          fs_type: m.fsType,
          read_only: m.options.includes("ro"),
          size_bytes: 0n,
          free_bytes: 0n,
          avail_bytes: 0n,
          files: 0n,
          files_free: 0n,
          device_error: false,
        };
        const t = AbortSignal.any([signal, AbortSignal.timeout(STATFS_TIMEOUT_MS)]);
        try {
          const s = await this.io.statfs(view.prefix + m.mountPoint, t);
          out.size_bytes = s.blocks * s.bsize;
          out.free_bytes = s.bfree * s.bsize;
          out.avail_bytes = s.bavail * s.bsize;
          out.files = s.files;
          out.files_free = s.ffree;
        } catch (e) {
          if (signal.aborted) throw e;
          out.device_error = true;
        }
        return out;
      }),
    );
  }
}
