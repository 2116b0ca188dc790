// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Release artifacts, all in one directory:
//   antimetal-agent-<v>-linux-amd64, antimetal-agent-<v>-linux-arm64     the binaries
//   antimetal-agent-<v>-linux-{amd64,arm64}.oci.tar                      container images (OCI archives)
//   antimetal-agent-<v>-linux-multiarch.oci.tar                          both, under one image index
//   antimetal-agent-<v>-deploy.tar.gz                                    deploy/ (kustomize, Helm, systemd) + docs/install.md
//   antimetal-agent_<v>_{amd64,arm64}.deb, antimetal-agent-<v>-1.{x86_64,aarch64}.rpm  packages (scripts/packages.ts)
//   antimetal-agent-<v>.tgz                                              the Helm chart (deploy/helm/antimetal-agent)
//   antimetal-agent-<v>.spdx.json                                        SBOM (SPDX 2.3)
//   SHA256SUMS                                                           `sha256sum -c SHA256SUMS`
//
//   bun scripts/release.ts [--out DIR] [--skip-build] [--version V]
//
// The SBOM lists the agent, the Bun runtime compiled into it, every npm package the bundle can
// contain (the production dependency closure of package-lock.json, with versions, licenses and
// integrity hashes), the native libraries embedded for eBPF (libz, libelf, libbpf: the Debian
// package and version each staged file came from, matched by SHA-256), the eBPF objects, and
// the Debian packages of each image.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { type Arch, buildImage, combineArchives, defaultBinary, type ImageResult } from "./image/build.ts";
import { buildPackages, packageChart } from "./packages.ts";

const REPO = path.resolve(import.meta.dir, "..");
const ARCHES: Arch[] = ["amd64", "arm64"];
const EBPF_ARCH: Record<Arch, string> = { amd64: "x64", arm64: "arm64" };
const TRIPLET: Record<Arch, string> = { amd64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };
const EBPF_CACHE = "/var/cache/antimetal-dev/ebpf";
const EMBEDDED_LIBS = ["libz.so.1", "libelf.so.1", "libbpf.so.1"];

function sh(cmd: string[], cwd = REPO): string {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${p.exitCode}: ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

export function sha256(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

export interface NpmComponent {
  name: string;
  version: string;
  license: string;
  integrity?: string;
}

/** The production dependency closure recorded in package-lock.json (what a bundle can contain). */
export function npmProductionPackages(lockFile = path.join(REPO, "package-lock.json")): NpmComponent[] {
  const lock = JSON.parse(fs.readFileSync(lockFile, "utf8")) as {
    packages: Record<
      string,
      {
        version?: string;
        license?: string;
        integrity?: string;
        dev?: boolean;
        devOptional?: boolean;
        optional?: boolean;
        os?: string[];
        cpu?: string[];
      }
    >;
  };
  const out = new Map<string, NpmComponent>();
  for (const [key, meta] of Object.entries(lock.packages)) {
    if (key === "" || meta.dev || meta.devOptional || !meta.version) continue;
    const name = key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
    const id = `${name}@${meta.version}`;
    if (!out.has(id)) out.set(id, { name, version: meta.version, license: meta.license ?? "NOASSERTION", integrity: meta.integrity });
  }
  return [...out.values()].sort((a, b) => (a.name === b.name ? (a.version < b.version ? -1 : 1) : a.name < b.name ? -1 : 1));
}

export interface NativeLib {
  arch: Arch;
  file: string;
  sha256: string;
  debPackage: string;
  debVersion: string;
}

function findLib(root: string, triplet: string, soname: string): string | undefined {
  for (const d of [`${root}/lib/${triplet}`, `${root}/usr/lib/${triplet}`]) {
    if (fs.existsSync(`${d}/${soname}`)) return fs.realpathSync(`${d}/${soname}`);
  }
  return undefined;
}

/**
 * Which Debian package each library staged by scripts/build-ebpf.sh came from. x64 copies come
 * from the build host's installed packages, arm64 copies from the .debs in the eBPF cache; each
 * match is confirmed by content hash, so a stale or foreign file fails the release.
 */
export function embeddedNativeLibs(): NativeLib[] {
  const libs: NativeLib[] = [];
  for (const arch of ARCHES) {
    for (const soname of EMBEDDED_LIBS) {
      const staged = path.join(REPO, "ebpf/build/lib", EBPF_ARCH[arch], soname);
      if (!fs.existsSync(staged)) throw new Error(`${staged} missing: run bash scripts/build-ebpf.sh`);
      const hash = sha256(staged);
      let pkg = "";
      let version = "";
      if (arch === "amd64") {
        const real = findLib("", TRIPLET[arch], soname);
        if (!real || sha256(real) !== hash) throw new Error(`${staged} does not match the host's ${soname}`);
        const owner = [real, real.replace(/^\/usr\/lib\//, "/lib/")]
          .map((p) => Bun.spawnSync(["dpkg", "-S", p], { stdout: "pipe", stderr: "pipe" }))
          .find((r) => r.exitCode === 0);
        if (!owner) throw new Error(`dpkg -S ${real}: no package owns it`);
        pkg = owner.stdout.toString().split(":")[0]!.trim();
        // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
        version = sh(["dpkg-query", "-W", "-f=${Version}", `${pkg}:amd64`]).trim();
      } else {
        const root = path.join(EBPF_CACHE, "arm64-root");
        const real = findLib(root, TRIPLET[arch], soname);
        if (!real || sha256(real) !== hash) throw new Error(`${staged} does not match ${root}'s ${soname}`);
        const rel = `.${real.slice(root.length)}`;
        const debDir = path.join(EBPF_CACHE, "arm64-debs");
        for (const deb of fs.readdirSync(debDir).filter((f) => f.endsWith(".deb"))) {
          const list = sh(["dpkg-deb", "-c", path.join(debDir, deb)]);
          if (list.split("\n").some((l) => l.endsWith(` ${rel}`) || l.includes(` ${rel} -> `))) {
            pkg = sh(["dpkg-deb", "-f", path.join(debDir, deb), "Package"]).trim();
            version = sh(["dpkg-deb", "-f", path.join(debDir, deb), "Version"]).trim();
            break;
          }
        }
        if (!pkg) throw new Error(`no .deb in ${debDir} ships ${rel}`);
      }
      libs.push({ arch, file: soname, sha256: hash, debPackage: pkg, debVersion: version });
    }
  }
  return libs;
}

function spdxId(s: string): string {
  return `SPDXRef-${s.replace(/[^A-Za-z0-9.-]/g, "-")}`;
}

export interface SbomInput {
  version: string;
  revision: string;
  created: string;
  binaries: { arch: Arch; file: string; sha256: string }[];
  npm: NpmComponent[];
  native: NativeLib[];
  ebpfObjects: { arch: Arch; file: string; sha256: string }[];
  images: ImageResult[];
}

export function spdxSbom(i: SbomInput): object {
  const agentId = "SPDXRef-antimetal-agent";
  const packages: object[] = [];
  const relationships: object[] = [{ spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: agentId }];
  const contains = (id: string) => relationships.push({ spdxElementId: agentId, relationshipType: "CONTAINS", relatedSpdxElement: id });

  packages.push({
    SPDXID: agentId,
    name: "antimetal-agent",
    versionInfo: i.version,
    supplier: "Organization: Antimetal",
    downloadLocation: "NOASSERTION",
    licenseConcluded: "LicenseRef-PolyForm-Shield-1.0.0",
    licenseDeclared: "LicenseRef-PolyForm-Shield-1.0.0",
    copyrightText: "Copyright Antimetal, Inc.",
    comment: `revision ${i.revision}; binaries: ${i.binaries.map((b) => `${b.file} sha256:${b.sha256}`).join(", ")}`,
    filesAnalyzed: false,
  });
  const bunId = spdxId(`bun-${Bun.version}`);
  packages.push({
    SPDXID: bunId,
    name: "bun",
    versionInfo: Bun.version,
    downloadLocation: "NOASSERTION",
    externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: `pkg:npm/bun@${Bun.version}` }],
    licenseConcluded: "NOASSERTION",
    licenseDeclared: "MIT",
    copyrightText: "NOASSERTION",
    comment: "JavaScript runtime compiled into the executable (bun build --compile; arm64 from @oven/bun-linux-aarch64)",
    filesAnalyzed: false,
  });
  contains(bunId);
  for (const n of i.npm) {
    const id = spdxId(`npm-${n.name}-${n.version}`);
    const checksums = n.integrity?.startsWith("sha512-")
      ? [{ algorithm: "SHA512", checksumValue: Buffer.from(n.integrity.slice(7), "base64").toString("hex") }]
      : [];
    packages.push({
      SPDXID: id,
      name: n.name,
      versionInfo: n.version,
      downloadLocation: "NOASSERTION",
      externalRefs: [
        {
          referenceCategory: "PACKAGE-MANAGER",
          referenceType: "purl",
          referenceLocator: `pkg:npm/${n.name.replace("@", "%40")}@${n.version}`,
        },
      ],
      licenseConcluded: "NOASSERTION",
      licenseDeclared: /^[A-Za-z0-9.+-]+( OR [A-Za-z0-9.+-]+)*$/.test(n.license) ? n.license : "NOASSERTION",
      copyrightText: "NOASSERTION",
      checksums,
      filesAnalyzed: false,
    });
    contains(id);
  }
  for (const l of i.native) {
    const id = spdxId(`deb-${l.arch}-${l.debPackage}-${l.debVersion}`);
    packages.push({
      SPDXID: id,
      name: l.debPackage,
      versionInfo: l.debVersion,
      downloadLocation: "NOASSERTION",
      externalRefs: [
        {
          referenceCategory: "PACKAGE-MANAGER",
          referenceType: "purl",
          referenceLocator: `pkg:deb/debian/${l.debPackage}@${encodeURIComponent(l.debVersion)}?arch=${l.arch}&distro=debian-12`,
        },
      ],
      licenseConcluded: "NOASSERTION",
      licenseDeclared: "NOASSERTION",
      copyrightText: "NOASSERTION",
      checksums: [{ algorithm: "SHA256", checksumValue: l.sha256 }],
      comment: `${l.file} embedded in the ${l.arch} binary and loaded through memfd for eBPF`,
      filesAnalyzed: false,
    });
    contains(id);
  }
  for (const o of i.ebpfObjects) {
    const id = spdxId(`ebpf-${o.arch}-${o.file}`);
    packages.push({
      SPDXID: id,
      name: `ebpf/${o.file}`,
      versionInfo: i.version,
      downloadLocation: "NOASSERTION",
      licenseConcluded: "GPL-2.0-only",
      licenseDeclared: "GPL-2.0-only",
      copyrightText: "Copyright Antimetal, Inc.",
      checksums: [{ algorithm: "SHA256", checksumValue: o.sha256 }],
      comment: `CO-RE object embedded in the ${o.arch} binary`,
      filesAnalyzed: false,
    });
    contains(id);
  }
  for (const img of i.images) {
    const imgId = spdxId(`image-${img.arch}`);
    packages.push({
      SPDXID: imgId,
      name: `antimetal-agent image (linux/${img.arch})`,
      versionInfo: i.version,
      downloadLocation: "NOASSERTION",
      licenseConcluded: "NOASSERTION",
      licenseDeclared: "NOASSERTION",
      copyrightText: "NOASSERTION",
      checksums: [{ algorithm: "SHA256", checksumValue: img.manifestDigest.slice(7) }],
      comment: `OCI manifest ${img.manifestDigest}, layer ${img.layerDigest}`,
      filesAnalyzed: false,
    });
    relationships.push({ spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: imgId });
    relationships.push({ spdxElementId: imgId, relationshipType: "CONTAINS", relatedSpdxElement: agentId });
    for (const p of img.packages) {
      const id = spdxId(`image-${img.arch}-deb-${p.name}-${p.version}`);
      packages.push({
        SPDXID: id,
        name: p.name,
        versionInfo: p.version,
        downloadLocation: "NOASSERTION",
        externalRefs: [
          {
            referenceCategory: "PACKAGE-MANAGER",
            referenceType: "purl",
            referenceLocator: `pkg:deb/debian/${p.name}@${encodeURIComponent(p.version)}?arch=${p.arch}&distro=debian-12`,
          },
        ],
        licenseConcluded: "NOASSERTION",
        licenseDeclared: "NOASSERTION",
        copyrightText: "NOASSERTION",
        filesAnalyzed: false,
      });
      relationships.push({ spdxElementId: imgId, relationshipType: "CONTAINS", relatedSpdxElement: id });
    }
  }
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: `antimetal-agent-${i.version}`,
    documentNamespace: `https://antimetal.com/spdx/antimetal-agent-${i.version}-${i.revision}`,
    creationInfo: { created: i.created, creators: ["Tool: antimetal-agent scripts/release.ts", "Organization: Antimetal"] },
    hasExtractedLicensingInfos: [
      {
        licenseId: "LicenseRef-PolyForm-Shield-1.0.0",
        extractedText: "PolyForm Shield License 1.0.0",
        seeAlsos: ["https://polyformproject.org/licenses/shield/1.0.0"],
      },
    ],
    packages,
    relationships,
  };
}

export interface ReleaseResult {
  dir: string;
  files: string[];
}

export function release(opts: { out: string; version: string; build: boolean }): ReleaseResult {
  if (opts.build) sh([process.execPath, "scripts/build.ts"]);
  const out = path.resolve(opts.out);
  fs.mkdirSync(out, { recursive: true });
  const revision = sh(["git", "rev-parse", "--short=12", "HEAD"]).trim();
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? sh(["git", "log", "-1", "--format=%ct"]).trim());
  const created = new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const files: string[] = [];

  const binaries = ARCHES.map((arch) => {
    const src = defaultBinary(arch);
    if (!fs.existsSync(src)) throw new Error(`${src} missing: run bun scripts/build.ts`);
    const name = `antimetal-agent-${opts.version}-linux-${arch}`;
    fs.copyFileSync(src, path.join(out, name));
    fs.chmodSync(path.join(out, name), 0o755);
    files.push(name);
    return { arch, file: name, sha256: sha256(path.join(out, name)) };
  });

  const images = ARCHES.map((arch) => {
    const name = `antimetal-agent-${opts.version}-linux-${arch}.oci.tar`;
    const img = buildImage({ arch, binary: defaultBinary(arch), out: path.join(out, name), version: opts.version });
    files.push(name);
    return img;
  });

  // Both as one multi-arch image (an index of the two manifests), for `skopeo copy --all`.
  const multiName = `antimetal-agent-${opts.version}-linux-multiarch.oci.tar`;
  combineArchives(
    images.map((i) => i.archive),
    path.join(out, multiName),
    opts.version,
  );
  files.push(multiName);

  // deploy/ and the install guide, with the version's image reference in the kustomize base.
  const deployName = `antimetal-agent-${opts.version}-deploy.tar.gz`;
  sh([
    "tar",
    "--create",
    "--gzip",
    "--file",
    path.join(out, deployName),
    "--sort=name",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    `--mtime=@${epoch}`,
    `--transform=s,^,antimetal-agent-${opts.version}/,`,
    "deploy",
    "docs/install.md",
  ]);
  files.push(deployName);

  // deb and rpm per architecture, and the Helm chart at this version.
  files.push(
    ...buildPackages({ out, version: opts.version, binaries: { amd64: defaultBinary("amd64"), arm64: defaultBinary("arm64") }, epoch }),
  );
  files.push(packageChart({ out, version: opts.version }));

  const ebpfObjects = ARCHES.flatMap((arch) => {
    const dir = path.join(REPO, "ebpf/build", EBPF_ARCH[arch]);
    return fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((f) => f.endsWith(".bpf.o"))
          .sort()
          .map((f) => ({ arch, file: f, sha256: sha256(path.join(dir, f)) }))
      : [];
  });
  const sbomName = `antimetal-agent-${opts.version}.spdx.json`;
  const sbom = spdxSbom({
    version: opts.version,
    revision,
    created,
    binaries,
    npm: npmProductionPackages(),
    native: embeddedNativeLibs(),
    ebpfObjects,
    images,
  });
  fs.writeFileSync(path.join(out, sbomName), JSON.stringify(sbom, null, 2) + "\n");
  files.push(sbomName);

  fs.writeFileSync(path.join(out, "SHA256SUMS"), files.map((f) => `${sha256(path.join(out, f))}  ${f}\n`).join(""));
  files.push("SHA256SUMS");
  return { dir: out, files };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const get = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const version = get("--version") ?? (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).version as string);
  const out = get("--out") ?? path.join(REPO, "dist/release", version);
  const result = release({ out, version, build: !args.includes("--skip-build") });
  for (const f of result.files) console.log(path.join(result.dir, f));
}
