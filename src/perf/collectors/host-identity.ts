// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// uname and os_release collectors: what uname(2) answers (from /proc/sys/kernel and the machine
// architecture) and the host's os-release(5), the sources of node_uname_info, node_os_info and node_os_version.

import * as os from "node:os";
import * as path from "node:path";
import type { HostPaths, PointCollector } from "../collector.ts";
import { errCode } from "../io.ts";
import { OS_RELEASE_LABELS, type OSRelease, osVersionNumber, parseOSRelease } from "../parsers/os-release.ts";
import { parseSelinuxConfigMode, parseSelinuxEnforce } from "../parsers/selinux.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

/** JSON of the uname metric type: the fields of struct utsname, named as node_uname_info labels them. */
export interface UnameInfo {
  sysname: string;
  release: string;
  version: string;
  machine: string;
  nodename: string;
  domainname: string;
}

/** A /proc/sys/kernel string file's value: the text without its trailing newline (version keeps its spaces). */
export function sysctlString(text: string): string {
  return text.replace(/\n$/, "");
}

/** uname(2) of the kernel: sysname/release/version/nodename/domainname from /proc/sys/kernel, machine from the running process. */
export class UnameCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("uname", "Uname Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
  }
  async collect(signal: AbortSignal): Promise<UnameInfo> {
    const k = `${this.paths.proc}/sys/kernel`;
    const [sysname, release, version, nodename, domainname] = await Promise.all(
      ["ostype", "osrelease", "version", "hostname", "domainname"].map(async (f) =>
        sysctlString(await this.readCritical(`${k}/${f}`, signal)),
      ),
    );
    return { sysname: sysname!, release: release!, version: version!, machine: os.machine(), nodename: nodename!, domainname: domainname! };
  }
}

/** JSON of the os_release metric type: the node_os_info labels ("" when the file lacks the key) and node_os_version's value. */
export type OSReleaseInfo = Record<(typeof OS_RELEASE_LABELS)[number][0], string> & {
  /** Leading major.minor of VERSION_ID; null when it has none (node_os_version is then not served). */
  version_number: number | null;
  /** The file that was read. */
  file: string;
};

/** node_os_info's labels from a parsed os-release. */
export function osReleaseInfo(release: OSRelease, file: string): OSReleaseInfo {
  const info = { file, version_number: osVersionNumber(release.VERSION_ID) ?? null } as OSReleaseInfo;
  for (const [label, key] of OS_RELEASE_LABELS) info[label] = release[key] ?? "";
  return info;
}

/**
 * The host's os-release: <etc>/os-release (HOST_ETC), else usr/lib/os-release beside that etc directory
 * (node_exporter reads /etc/os-release then /usr/lib/os-release under its rootfs). Neither there: null,
 * and no os families are served.
 */
export class OSReleaseCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("os_release", "OS Release Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, []);
  }
  async collect(signal: AbortSignal): Promise<OSReleaseInfo | null> {
    const etc = this.paths.etc || "/etc";
    for (const file of [`${etc}/os-release`, path.join(path.dirname(etc), "usr/lib/os-release")]) {
      let text: string;
      try {
        text = await this.io.read(file, signal);
      } catch (e) {
        if (errCode(e) === "ENOENT" || errCode(e) === "ENOTDIR") continue;
        throw new Error(`failed to read ${file}: ${e instanceof Error ? e.message : String(e)}`);
      }
      return osReleaseInfo(parseOSRelease(text, file), file);
    }
    return null;
  }
}

/** JSON of the selinux metric type: modes are -1 disabled, 0 permissive, 1 enforcing (null: not known). */
export interface SelinuxInfo {
  enabled: boolean;
  config_mode: number | null;
  current_mode: number | null;
}

/**
 * SELinux as node_exporter's selinux collector sees it: enabled when selinuxfs is mounted
 * (<sys>/fs/selinux/enforce exists), then the current mode from that file and the configured one
 * from <etc>/selinux/config.
 */
export class SelinuxCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("selinux", "SELinux Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, []);
  }
  async collect(signal: AbortSignal): Promise<SelinuxInfo> {
    let enforce: string;
    try {
      enforce = await this.io.read(`${this.paths.sys}/fs/selinux/enforce`, signal);
    } catch (e) {
      // no selinuxfs: SELinux is not enabled on this kernel
      if (errCode(e) === "ENOENT") return { enabled: false, config_mode: null, current_mode: null };
      throw e;
    }
    let config_mode: number | null = null;
    try {
      config_mode = parseSelinuxConfigMode(await this.io.read(`${this.paths.etc || "/etc"}/selinux/config`, signal));
    } catch (e) {
      // no config file: the configured mode is unknown (node_selinux_config_mode left out)
      if (errCode(e) !== "ENOENT") throw e;
    }
    return { enabled: true, config_mode, current_mode: parseSelinuxEnforce(enforce) };
  }
}
