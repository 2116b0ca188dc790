// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// scripts/release.ts: both binaries, both image archives, the deploy bundle, deb and rpm packages
// per architecture, the Helm chart package, an SPDX SBOM naming
// every bundled npm package and embedded native library with its version, and SHA-256 sums that
// `sha256sum -c` accepts.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { npmProductionPackages, release, sha256 } from "../../scripts/release.ts";
import { binary, type Obj, REPO } from "./manifests.ts";

const VERSION = "0.0.0-test";

describe("release", () => {
  let out: string;
  let files: string[];
  let sbom: Obj;

  beforeAll(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-release-"));
    ({ files } = release({ out, version: VERSION, build: false }));
    sbom = JSON.parse(fs.readFileSync(path.join(out, `antimetal-agent-${VERSION}.spdx.json`), "utf8")) as Obj;
  }, 600000);
  afterAll(() => {
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  test("artifacts: both binaries (identical to dist), both images, deploy bundle, SBOM, checksums", () => {
    expect(files.sort()).toEqual(
      [
        "SHA256SUMS",
        `antimetal-agent-${VERSION.replace("-", "~")}-1.aarch64.rpm`,
        `antimetal-agent-${VERSION.replace("-", "~")}-1.x86_64.rpm`,
        `antimetal-agent-${VERSION}-deploy.tar.gz`,
        `antimetal-agent-${VERSION}-linux-amd64`,
        `antimetal-agent-${VERSION}-linux-amd64.oci.tar`,
        `antimetal-agent-${VERSION}-linux-arm64`,
        `antimetal-agent-${VERSION}-linux-arm64.oci.tar`,
        `antimetal-agent-${VERSION}-linux-multiarch.oci.tar`,
        `antimetal-agent-${VERSION}.spdx.json`,
        `antimetal-agent-${VERSION}.tgz`,
        `antimetal-agent_${VERSION.replace("-", "~")}_amd64.deb`,
        `antimetal-agent_${VERSION.replace("-", "~")}_arm64.deb`,
      ].sort(),
    );
    expect(sha256(path.join(out, `antimetal-agent-${VERSION}-linux-amd64`))).toBe(sha256(binary("amd64")));
    expect(sha256(path.join(out, `antimetal-agent-${VERSION}-linux-arm64`))).toBe(sha256(binary("arm64")));
    const file = spawnSync("file", ["-b", path.join(out, `antimetal-agent-${VERSION}-linux-arm64`)], { encoding: "utf8" });
    if (file.status === 0) expect(file.stdout).toContain("ARM aarch64");
    const deploy = spawnSync("tar", ["-tzf", path.join(out, `antimetal-agent-${VERSION}-deploy.tar.gz`)], { encoding: "utf8" }).stdout;
    for (const f of [
      "deploy/kubernetes/base/kustomization.yaml",
      "deploy/helm/antimetal-agent/Chart.yaml",
      "deploy/systemd/antimetal-agent.service",
      "docs/install.md",
    ]) {
      expect(deploy).toContain(`antimetal-agent-${VERSION}/${f}`);
    }
  });

  test("packages carry each architecture's binary; the chart package is the chart at this version", () => {
    for (const [arch, rpmArch] of [
      ["amd64", "x86_64"],
      ["arm64", "aarch64"],
    ] as const) {
      const v = VERSION.replace("-", "~");
      const deb = path.join(out, `antimetal-agent_${v}_${arch}.deb`);
      expect(spawnSync("dpkg-deb", ["-f", deb, "Architecture", "Version"], { encoding: "utf8" }).stdout).toBe(
        `Architecture: ${arch}\nVersion: ${v}-1\n`,
      );
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-release-deb-"));
      try {
        expect(spawnSync("dpkg-deb", ["-x", deb, root]).status).toBe(0);
        expect(sha256(path.join(root, "usr/bin/antimetal-agent"))).toBe(sha256(binary(arch)));
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
      const rpm = spawnSync(
        "rpm",
        ["-qp", "--qf", "%{VERSION}-%{RELEASE} %{ARCH}", path.join(out, `antimetal-agent-${v}-1.${rpmArch}.rpm`)],
        { encoding: "utf8" },
      );
      expect(rpm.stdout).toBe(`${v}-1 ${rpmArch}`);
    }
    const chart = spawnSync("tar", ["-xOzf", path.join(out, `antimetal-agent-${VERSION}.tgz`), "antimetal-agent/Chart.yaml"], {
      encoding: "utf8",
    }).stdout;
    expect(chart).toMatch(new RegExp(`^version: "?${VERSION}"?$`, "m"));
    expect(chart).toMatch(new RegExp(`^appVersion: "?${VERSION}"?$`, "m"));
    const list = spawnSync("tar", ["-tzf", path.join(out, `antimetal-agent-${VERSION}.tgz`)], { encoding: "utf8" }).stdout;
    for (const f of ["values.schema.json", "files/alerts.yaml", "files/dashboard.json", "templates/daemonset.yaml"])
      expect(list).toContain(`antimetal-agent/${f}`);
  });

  test("the multi-arch archive is one image index over both platforms (skopeo --all copies both)", () => {
    const archive = `oci-archive:${path.join(out, `antimetal-agent-${VERSION}-linux-multiarch.oci.tar`)}`;
    const raw = spawnSync("skopeo", ["inspect", "--raw", archive], { encoding: "utf8" });
    expect(raw.stderr).toBe("");
    const index = JSON.parse(raw.stdout) as Obj;
    expect(index.manifests.map((m: Obj) => m.platform.architecture).sort()).toEqual(["amd64", "arm64"]);
    for (const arch of ["amd64", "arm64"]) {
      const single = JSON.parse(
        spawnSync("skopeo", ["inspect", "--raw", `oci-archive:${path.join(out, `antimetal-agent-${VERSION}-linux-${arch}.oci.tar`)}`], {
          encoding: "utf8",
        }).stdout,
      ) as Obj;
      const digest = `sha256:${new Bun.CryptoHasher("sha256").update(JSON.stringify(single)).digest("hex")}`;
      expect(index.manifests.find((m: Obj) => m.platform.architecture === arch).digest).toBe(digest);
    }
    const dest = path.join(out, "copied");
    const copy = spawnSync("skopeo", ["copy", "-q", "--all", archive, `oci:${dest}:${VERSION}`], { encoding: "utf8" });
    expect({ status: copy.status, stderr: copy.stderr }).toEqual({ status: 0, stderr: "" });
    fs.rmSync(dest, { recursive: true, force: true });
  }, 60000);

  test("SHA256SUMS verifies with sha256sum -c and covers every other artifact", () => {
    const r = spawnSync("sha256sum", ["-c", "SHA256SUMS"], { cwd: out, encoding: "utf8" });
    expect(r.status).toBe(0);
    const listed = fs
      .readFileSync(path.join(out, "SHA256SUMS"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("  ")[1]);
    expect(listed.sort()).toEqual(files.filter((f) => f !== "SHA256SUMS").sort());
  });

  test("SBOM is valid SPDX 2.3 (spdx-tools validator)", () => {
    const validator = "/var/cache/antimetal-dev/spdx-venv/bin/pyspdxtools";
    expect(fs.existsSync(validator)).toBe(true);
    const r = spawnSync(validator, ["-i", path.join(out, `antimetal-agent-${VERSION}.spdx.json`)], { encoding: "utf8" });
    expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 0, stderr: "" });
  });

  test("SBOM lists every bundled npm package with the locked version", () => {
    expect(sbom.spdxVersion).toBe("SPDX-2.3");
    const npm = new Set<string>(
      sbom.packages.filter((p: Obj) => p.SPDXID.startsWith("SPDXRef-npm-")).map((p: Obj) => `${p.name}@${p.versionInfo}`),
    );
    const lock = npmProductionPackages();
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    for (const [name, version] of Object.entries(pkg.dependencies)) expect(npm.has(`${name}@${version}`)).toBe(true);
    expect(npm.size).toBe(lock.length);
    // Dev-only tools are not in the product.
    for (const dev of ["typescript", "fast-check", "@bufbuild/buf"]) expect([...npm].some((n) => n.startsWith(`${dev}@`))).toBe(false);
    expect(sbom.packages.find((p: Obj) => p.name === "bun").versionInfo).toBe(Bun.version);
  });

  test("SBOM lists the embedded libz, libelf, libbpf per arch with Debian versions, and each image's packages", () => {
    for (const arch of ["amd64", "arm64"]) {
      for (const deb of ["zlib1g", "libelf1", "libbpf1"]) {
        const p = sbom.packages.find((x: Obj) => x.name === deb && x.SPDXID.includes(`deb-${arch}-`));
        expect(p?.versionInfo).toMatch(/\d/);
        expect(p.checksums[0].algorithm).toBe("SHA256");
      }
      const img = sbom.packages.find((x: Obj) => x.SPDXID === `SPDXRef-image-${arch}`);
      expect(img).toBeDefined();
      const contained = sbom.relationships.filter((r: Obj) => r.spdxElementId === img.SPDXID).map((r: Obj) => r.relatedSpdxElement);
      const libc = sbom.packages.find((x: Obj) => x.name === "libc6" && contained.includes(x.SPDXID));
      expect(libc.versionInfo).toMatch(/^2\.36/);
    }
    // Every relationship points at a package in the document.
    const ids = new Set([...sbom.packages.map((p: Obj) => p.SPDXID), "SPDXRef-DOCUMENT"]);
    for (const r of sbom.relationships) {
      expect(ids.has(r.spdxElementId)).toBe(true);
      expect(ids.has(r.relatedSpdxElement)).toBe(true);
    }
  });
});
