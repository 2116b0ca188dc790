// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// deb and rpm packages (nfpm) and the Helm chart package (helm), for scripts/release.ts.
//
// A package holds the binary (/usr/bin/antimetal-agent), the hardened unit of deploy/systemd with
// its ExecStart pointed there (/usr/lib/systemd/system/antimetal-agent.service), the commented
// default configuration /etc/antimetal/agent.yaml (deploy/systemd/agent.yaml) and the environment
// file /etc/antimetal/agent.env (deploy/systemd/agent.env plus ANTIMETAL_CONFIG naming agent.yaml),
// both conffiles / %config(noreplace), and the maintainer scripts of deploy/packaging.
// helm and nfpm are built from their Go modules by scripts/setup.d/65-packaging.sh.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const REPO = path.resolve(import.meta.dir, "..");
const TOOLS = "/var/cache/antimetal-dev/bin";
export const HELM = process.env.HELM ?? path.join(TOOLS, "helm");
export const NFPM = process.env.NFPM ?? path.join(TOOLS, "nfpm");
export const CHART = path.join(REPO, "deploy/helm/antimetal-agent");

export type PkgArch = "amd64" | "arm64";
const RPM_ARCH: Record<PkgArch, string> = { amd64: "x86_64", arm64: "aarch64" };
const UNIT_BINARY = "/usr/local/bin/antimetal-agent";
export const PACKAGED_BINARY = "/usr/bin/antimetal-agent";

function run(cmd: string, args: string[], cwd = REPO, env: Record<string, string> = {}): string {
  if (!fs.existsSync(cmd)) throw new Error(`${cmd} missing: run bash scripts/setup.sh (scripts/setup.d/65-packaging.sh)`);
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(" ")} exited ${r.status}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Package file names of a version: deb version "0.1.0" / "0.1.0~rc1", rpm release 1. */
export function packageNames(version: string, arch: PkgArch): { deb: string; rpm: string } {
  const v = version.replace(/^v/, "");
  return {
    deb: `antimetal-agent_${v.replace("-", "~")}_${arch}.deb`,
    rpm: `antimetal-agent-${v.replace("-", "~")}-1.${RPM_ARCH[arch]}.rpm`,
  };
}

/** The unit as packaged: the same hardening, the binary at /usr/bin. */
export function packagedUnit(): string {
  const unit = fs.readFileSync(path.join(REPO, "deploy/systemd/antimetal-agent.service"), "utf8");
  if (!unit.includes(`ExecStart=${UNIT_BINARY} `))
    throw new Error(`deploy/systemd/antimetal-agent.service: ExecStart no longer starts ${UNIT_BINARY}`);
  return unit
    .replaceAll(UNIT_BINARY, PACKAGED_BINARY)
    .replace(
      /^# antimetal-agent as a hardened systemd service\. Install: .*$/m,
      "# antimetal-agent as a hardened systemd service, installed by the antimetal-agent package.",
    );
}

/** The environment file as packaged: deploy/systemd/agent.env, plus the configuration file. */
export function packagedEnv(): string {
  return `${fs.readFileSync(path.join(REPO, "deploy/systemd/agent.env"), "utf8").trimEnd()}
#
# The configuration file (keys are flag names; flags and these variables take precedence).
ANTIMETAL_CONFIG=/etc/antimetal/agent.yaml
`;
}

/** deb and rpm for each architecture into `out`; returns the file names. */
export function buildPackages(opts: {
  out: string;
  version: string;
  binaries: Partial<Record<PkgArch, string>>;
  epoch: number;
  packagers?: ("deb" | "rpm")[];
}): string[] {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-nfpm-"));
  const files: string[] = [];
  try {
    fs.writeFileSync(path.join(stage, "antimetal-agent.service"), packagedUnit());
    fs.writeFileSync(path.join(stage, "agent.env"), packagedEnv());
    for (const arch of Object.keys(opts.binaries) as PkgArch[]) {
      const config = {
        name: "antimetal-agent",
        arch,
        platform: "linux",
        version: opts.version.replace(/^v/, ""),
        version_schema: "semver",
        release: "1",
        section: "admin",
        priority: "optional",
        maintainer: "Antimetal <support@antimetal.com>",
        vendor: "Antimetal",
        homepage: "https://antimetal.com",
        license: "PolyForm-Shield-1.0.0",
        description:
          "Antimetal infrastructure agent\nHost performance collectors, kernel log and eBPF exec events, the host hardware graph and an\nembedded store, uploaded to the Antimetal intake; runs as a hardened systemd service.",
        mtime: new Date(opts.epoch * 1000).toISOString(),
        contents: [
          { src: path.resolve(opts.binaries[arch]!), dst: PACKAGED_BINARY, file_info: { mode: 0o755 } },
          {
            src: path.join(stage, "antimetal-agent.service"),
            dst: "/usr/lib/systemd/system/antimetal-agent.service",
            file_info: { mode: 0o644 },
          },
          // The transient user reads agent.yaml itself; systemd (root) reads agent.env.
          { dst: "/etc/antimetal", type: "dir", file_info: { mode: 0o755 } },
          {
            src: path.join(REPO, "deploy/systemd/agent.yaml"),
            dst: "/etc/antimetal/agent.yaml",
            type: "config|noreplace",
            file_info: { mode: 0o644 },
          },
          { src: path.join(stage, "agent.env"), dst: "/etc/antimetal/agent.env", type: "config|noreplace", file_info: { mode: 0o600 } },
          { src: path.join(REPO, "LICENSE"), dst: "/usr/share/doc/antimetal-agent/LICENSE", file_info: { mode: 0o644 } },
        ],
        scripts: {
          postinstall: path.join(REPO, "deploy/packaging/postinstall.sh"),
          preremove: path.join(REPO, "deploy/packaging/preremove.sh"),
          postremove: path.join(REPO, "deploy/packaging/postremove.sh"),
        },
        overrides: {
          deb: { depends: ["libc6 (>= 2.17)"], recommends: ["systemd (>= 247)"] },
          rpm: { depends: ["glibc >= 2.17"], recommends: ["systemd >= 247"] },
        },
      };
      const cfg = path.join(stage, `nfpm-${arch}.json`);
      fs.writeFileSync(cfg, JSON.stringify(config, null, 2));
      const names = packageNames(opts.version, arch);
      for (const packager of opts.packagers ?? ["deb", "rpm"]) {
        const name = names[packager];
        run(NFPM, ["package", "--config", cfg, "--packager", packager, "--target", path.join(opts.out, name)], stage, {
          SOURCE_DATE_EPOCH: String(opts.epoch),
        });
        files.push(name);
      }
    }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  return files;
}

/** `helm package` of deploy/helm/antimetal-agent at the release's version; returns the file name. */
export function packageChart(opts: { out: string; version: string }): string {
  const v = opts.version.replace(/^v/, "");
  run(HELM, ["package", CHART, "--version", v, "--app-version", v, "--destination", opts.out]);
  return `antimetal-agent-${v}.tgz`;
}
