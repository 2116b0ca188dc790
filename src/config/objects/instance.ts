// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The antimetal.agent.v1.Instance this agent presents to the config service: a UUIDv7 made once
// per process, the build, the Linux runtime (kernel version, cgroup version and driver) and the
// collectors a config object may name.

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import type { BuildInfo } from "../../build-info.ts";
import { BuildSchema, type Instance, InstanceSchema, SemanticVersionSchema } from "../../proto/gen/antimetal/agent/v1/instance_pb.ts";
import { CgroupDriver, CgroupInfoSchema, CgroupVersion, type Linux, LinuxSchema } from "../../proto/gen/antimetal/runtime/v1/linux_pb.ts";

/** Collectors a config object cannot run: hardware inventory (the host graph owns it) and eBPF (its own component). */
const NOT_CONFIGURABLE = new Set(["cpu_info", "memory_info", "disk_info", "network_info", "execsnoop"]);

/** RFC 9562 UUIDv7: 48-bit Unix ms, version 7, 74 random bits, variant 10. */
export function uuidv7(now = Date.now()): Uint8Array {
  const b = randomBytes(16);
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return new Uint8Array(b);
}

/** "1.2.3-dev" -> {1, 2, 3}; a part that is not a number is 0, as the original. */
export function semanticVersion(version: string): { major: number; minor: number; patch: number } {
  const [major, minor, patch] = version
    .replace(/^v/, "")
    .split(/[.+-]/)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : 0));
  return { major: major ?? 0, minor: minor ?? 0, patch: patch ?? 0 };
}

/** Kernel version (third field of <proc>/version) and cgroup version and driver; undefined if either is unknown. */
export function linuxRuntime(paths: { proc: string; sys: string }): Linux | undefined {
  let kernel: string | undefined;
  try {
    kernel = readFileSync(`${paths.proc}/version`, "utf8").split(/\s+/)[2];
  } catch (e) {
    if (e instanceof Error) return undefined; // no /proc/version: the runtime is left out, as the original does
    throw e;
  }
  if (!kernel) return undefined;
  const root = `${paths.sys}/fs/cgroup`;
  let version: CgroupVersion;
  if (existsSync(`${root}/cgroup.controllers`)) version = CgroupVersion.V2;
  else if (existsSync(`${root}/unified/cgroup.controllers`)) version = CgroupVersion.HYBRID;
  else if (existsSync(`${root}/cpu`) || existsSync(`${root}/memory`)) version = CgroupVersion.V1;
  else return undefined;
  const systemd = existsSync(`${root}/system.slice`) || existsSync(`${root}/systemd`) || existsSync(`${root}/unified/system.slice`);
  return create(LinuxSchema, {
    kernelVersion: kernel,
    cgroupInfo: create(CgroupInfoSchema, { version, driver: systemd ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS }),
  });
}

export function buildInstance(opts: {
  id: Uint8Array;
  build: BuildInfo;
  paths: { proc: string; sys: string };
  collectors: string[];
}): Instance {
  const linux = linuxRuntime(opts.paths);
  return create(InstanceSchema, {
    id: opts.id,
    build: create(BuildSchema, {
      version: create(SemanticVersionSchema, semanticVersion(opts.build.version)),
      revision: opts.build.revision.slice(0, 12),
    }),
    ...(linux ? { linuxRuntime: linux } : {}),
    supportedCollectors: opts.collectors.filter((c) => !NOT_CONFIGURABLE.has(c)),
  });
}
