// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Builds the distroless-style container image as an OCI image-layout archive, without a Docker
// daemon: a root filesystem from Debian packages (glibc, libgcc-s1, ca-certificates, tzdata,
// netbase; no shell), the compiled agent at /usr/bin/antimetal-agent, uid/gid 65532.
// Over 400 lines: the OCI layout (layers, config, manifest, index) is written here step by step.
//
//   bun scripts/image/build.ts --arch amd64|arm64 [--binary PATH] [--out FILE] [--version V]
//
// Prints one JSON object describing the result (archive, digests, packages with versions).
// Reproducible: file times are SOURCE_DATE_EPOCH (default: the last commit's time), owners are
// numeric, entries are sorted, gzip carries no name or time.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export type Arch = "amd64" | "arm64";

export interface ImagePackage {
  name: string;
  version: string;
  arch: string;
}

export interface ImageResult {
  arch: Arch;
  archive: string;
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
  diffId: string;
  packages: ImagePackage[];
}

/**
 * Debian packages that make up the root filesystem. libgcc-s1 is libc6's only dependency and
 * gcc-12-base carries libgcc-s1's copyright file; nothing else is installed.
 */
export const IMAGE_PACKAGES = ["libc6", "libgcc-s1", "gcc-12-base", "ca-certificates", "tzdata", "netbase"];
export const IMAGE_UID = 65532;
export const BINARY_PATH_IN_IMAGE = "/usr/bin/antimetal-agent";
export const DEB_CACHE = process.env.ANTIMETAL_IMAGE_DEB_CACHE ?? "/var/cache/antimetal-dev/image-debs";

const REPO = path.resolve(import.meta.dir, "../..");
const MULTIARCH: Record<Arch, string> = { amd64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };

function run(cmd: string[], opts: { cwd?: string; stdout?: "pipe" | "inherit" } = {}): string {
  const p = Bun.spawnSync(cmd, { cwd: opts.cwd, stdout: opts.stdout ?? "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) {
    throw new Error(`${cmd.join(" ")} exited ${p.exitCode}: ${p.stderr.toString().trim()}`);
  }
  return p.stdout ? p.stdout.toString() : "";
}

function sha256File(file: string): string {
  const h = createHash("sha256");
  const fd = fs.openSync(file, "r");
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}

function sourceDateEpoch(): number {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(run(["git", "-C", REPO, "log", "-1", "--format=%ct"]).trim());
  } catch {
    return 0;
  }
}

/** Downloads (once, into the cache) the .deb of each image package for `arch`. */
export function fetchDebs(arch: Arch, cacheDir = DEB_CACHE): string[] {
  const dir = path.join(cacheDir, arch);
  fs.mkdirSync(dir, { recursive: true });
  const debs: string[] = [];
  for (const pkg of IMAGE_PACKAGES) {
    const find = () => fs.readdirSync(dir).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
    let found = find();
    if (found.length === 0) {
      // ca-certificates, tzdata and netbase are "Architecture: all": apt knows them without a
      // :arch suffix only. The others need `dpkg --add-architecture arm64` for arm64.
      const all = run(["apt-cache", "show", "--no-all-versions", pkg]).includes("\nArchitecture: all");
      run(["apt-get", "download", all ? pkg : `${pkg}:${arch}`], { cwd: dir });
      found = find();
    }
    if (found.length === 0) throw new Error(`apt-get download ${pkg}:${arch} produced no .deb`);
    // Newest cached version if several.
    found.sort();
    debs.push(path.join(dir, found[found.length - 1]!));
  }
  return debs;
}

function debField(deb: string, field: string): string {
  return run(["dpkg-deb", "-f", deb, field]).trim();
}

function rmrf(p: string) {
  fs.rmSync(p, { recursive: true, force: true });
}

/** Lays out the root filesystem in `root` (an empty directory). Returns the packages used. */
export function buildRootfs(root: string, arch: Arch, binary: string, debs: string[]): ImagePackage[] {
  // Merged /usr, as in Debian 12 installations: the packages' /lib files land in /usr/lib.
  for (const d of ["usr/bin", "usr/sbin", "usr/lib", "usr/lib64"]) fs.mkdirSync(path.join(root, d), { recursive: true });
  for (const l of ["bin", "sbin", "lib", "lib64"]) fs.symlinkSync(`usr/${l}`, path.join(root, l));

  const packages: ImagePackage[] = [];
  for (const deb of debs) {
    packages.push({ name: debField(deb, "Package"), version: debField(deb, "Version"), arch: debField(deb, "Architecture") });
    const extract = Bun.spawnSync(["sh", "-c", 'dpkg-deb --fsys-tarfile "$1" | tar -x --keep-directory-symlink -C "$2"', "sh", deb, root], {
      stderr: "pipe",
    });
    if (extract.exitCode !== 0) throw new Error(`extracting ${deb}: ${extract.stderr.toString()}`);
  }

  // No shell, no tools: drop every program the packages shipped (ldd, iconv, update-ca-certificates...).
  for (const d of ["usr/bin", "usr/sbin"]) {
    for (const f of fs.readdirSync(path.join(root, d))) rmrf(path.join(root, d, f));
  }
  // Documentation except the copyright files; locale data and gconv modules the agent never loads.
  const docDir = path.join(root, "usr/share/doc");
  if (fs.existsSync(docDir)) {
    for (const pkg of fs.readdirSync(docDir)) {
      if (fs.lstatSync(path.join(docDir, pkg)).isSymbolicLink()) continue;
      for (const f of fs.readdirSync(path.join(docDir, pkg))) {
        if (f !== "copyright") rmrf(path.join(docDir, pkg, f));
      }
    }
  }
  for (const d of [
    "usr/share/man",
    "usr/share/info",
    "usr/share/lintian",
    "usr/share/locale",
    `usr/lib/${MULTIARCH[arch]}/gconv`,
    "usr/libexec",
    "var/lib/dpkg",
    "etc/default",
    "etc/init.d",
  ]) {
    rmrf(path.join(root, d));
  }

  // The CA bundle update-ca-certificates would have generated (no shell or openssl here to run it).
  const caDir = path.join(root, "usr/share/ca-certificates");
  const certs: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".crt")) certs.push(fs.readFileSync(p, "utf8").trimEnd() + "\n");
    }
  };
  walk(caDir);
  if (certs.length < 50) throw new Error(`only ${certs.length} CA certificates found in ca-certificates`);
  fs.mkdirSync(path.join(root, "etc/ssl/certs"), { recursive: true });
  fs.writeFileSync(path.join(root, "etc/ssl/certs/ca-certificates.crt"), certs.join(""));

  // Users, name service, time zone, OS identity.
  fs.writeFileSync(
    path.join(root, "etc/passwd"),
    [
      "root:x:0:0:root:/root:/sbin/nologin",
      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin",
      `nonroot:x:${IMAGE_UID}:${IMAGE_UID}:nonroot:/home/nonroot:/sbin/nologin`,
      "",
    ].join("\n"),
  );
  fs.writeFileSync(path.join(root, "etc/group"), ["root:x:0:", "nogroup:x:65534:", `nonroot:x:${IMAGE_UID}:`, ""].join("\n"));
  fs.writeFileSync(
    path.join(root, "etc/nsswitch.conf"),
    "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n",
  );
  fs.writeFileSync(
    path.join(root, "etc/os-release"),
    [
      'PRETTY_NAME="antimetal-agent (Debian GNU/Linux 12 packages, distroless-style)"',
      'NAME="Debian GNU/Linux"',
      'VERSION_ID="12"',
      "ID=debian",
      "",
    ].join("\n"),
  );
  rmrf(path.join(root, "etc/localtime"));
  fs.symlinkSync("/usr/share/zoneinfo/Etc/UTC", path.join(root, "etc/localtime"));
  fs.writeFileSync(path.join(root, "etc/timezone"), "Etc/UTC\n");

  // Mount points and writable places.
  for (const d of ["proc", "sys", "dev", "host", "root", "etc/antimetal"]) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.mkdirSync(path.join(root, "tmp"), { recursive: true });
  fs.chmodSync(path.join(root, "tmp"), 0o1777);
  fs.chmodSync(path.join(root, "root"), 0o700);
  for (const d of ["home/nonroot", "var/lib/antimetal"]) {
    fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.chmodSync(path.join(root, d), 0o700);
  }

  fs.copyFileSync(binary, path.join(root, BINARY_PATH_IN_IMAGE.slice(1)));
  fs.chmodSync(path.join(root, BINARY_PATH_IN_IMAGE.slice(1)), 0o755);

  // Ownership: root everywhere except the non-root user's home and the store directory.
  run(["chown", "-hR", "0:0", root]);
  run(["chown", "-h", `${IMAGE_UID}:${IMAGE_UID}`, path.join(root, "home/nonroot"), path.join(root, "var/lib/antimetal")]);
  return packages;
}

function reproducibleTar(srcDir: string, outTar: string, epoch: number, entries = ["."]) {
  run([
    "tar",
    "--create",
    "--file",
    outTar,
    "--directory",
    srcDir,
    "--sort=name",
    "--numeric-owner",
    `--mtime=@${epoch}`,
    "--clamp-mtime",
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
    ...entries,
  ]);
}

function writeBlob(layoutDir: string, data: string | Buffer): { digest: string; size: number } {
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  const hex = createHash("sha256").update(buf).digest("hex");
  fs.writeFileSync(path.join(layoutDir, "blobs/sha256", hex), buf);
  return { digest: `sha256:${hex}`, size: buf.length };
}

export interface BuildOptions {
  arch: Arch;
  binary: string;
  out: string;
  version: string;
  debs?: string[];
  /** Image config User; default 65532:65532 (tests also build a uid-0 variant). */
  user?: string;
  /** File times and `created`, in seconds; default SOURCE_DATE_EPOCH or the last commit's time. */
  epoch?: number;
}

export function buildImage(opts: BuildOptions): ImageResult {
  const epoch = opts.epoch ?? sourceDateEpoch();
  const created = new Date(epoch * 1000).toISOString();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `antimetal-image-${opts.arch}-`));
  try {
    const root = path.join(work, "rootfs");
    fs.mkdirSync(root);
    const debs = opts.debs ?? fetchDebs(opts.arch);
    const packages = buildRootfs(root, opts.arch, opts.binary, debs);

    // The single layer.
    const layerTar = path.join(work, "layer.tar");
    reproducibleTar(root, layerTar, epoch);
    const diffId = `sha256:${sha256File(layerTar)}`;
    run(["gzip", "-n", "-6", layerTar]);
    const layerGz = `${layerTar}.gz`;

    const layout = path.join(work, "layout");
    fs.mkdirSync(path.join(layout, "blobs/sha256"), { recursive: true });
    const layerHex = sha256File(layerGz);
    const layerSize = fs.statSync(layerGz).size;
    fs.renameSync(layerGz, path.join(layout, "blobs/sha256", layerHex));

    const labels = {
      "org.opencontainers.image.title": "antimetal-agent",
      "org.opencontainers.image.version": opts.version,
      "org.opencontainers.image.vendor": "Antimetal",
      "org.opencontainers.image.licenses": "PolyForm-Shield-1.0.0",
      "org.opencontainers.image.base.name": `debian:12 packages (${packages.map((p) => `${p.name}=${p.version}`).join(", ")})`,
    };
    const config = {
      created,
      architecture: opts.arch,
      ...(opts.arch === "arm64" ? { variant: "v8" } : {}),
      os: "linux",
      config: {
        User: opts.user ?? `${IMAGE_UID}:${IMAGE_UID}`,
        Entrypoint: [BINARY_PATH_IN_IMAGE],
        Cmd: ["run"],
        Env: ["PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "TMPDIR=/tmp"],
        WorkingDir: "/",
        ExposedPorts: { "8080/tcp": {}, "8081/tcp": {} },
        Labels: labels,
      },
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [
        { created, created_by: "scripts/image/build.ts", comment: `Debian packages: ${IMAGE_PACKAGES.join(" ")}; ${BINARY_PATH_IN_IMAGE}` },
      ],
    };
    const configBlob = writeBlob(layout, JSON.stringify(config));
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configBlob },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${layerHex}`, size: layerSize }],
      annotations: { "org.opencontainers.image.created": created, "org.opencontainers.image.version": opts.version },
    };
    const manifestBlob = writeBlob(layout, JSON.stringify(manifest));
    const index = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifestBlob,
          platform: { architecture: opts.arch, os: "linux", ...(opts.arch === "arm64" ? { variant: "v8" } : {}) },
          annotations: { "org.opencontainers.image.ref.name": opts.version },
        },
      ],
    };
    fs.writeFileSync(path.join(layout, "index.json"), JSON.stringify(index));
    fs.writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    run(["chown", "-R", "0:0", layout]);

    fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
    reproducibleTar(layout, path.resolve(opts.out), epoch, ["oci-layout", "index.json", "blobs"]);
    return {
      arch: opts.arch,
      archive: path.resolve(opts.out),
      manifestDigest: manifestBlob.digest,
      configDigest: configBlob.digest,
      layerDigest: `sha256:${layerHex}`,
      diffId,
      packages,
    };
  } finally {
    rmrf(work);
  }
}

/**
 * One OCI archive holding several single-arch images under one index (a multi-arch image):
 * `skopeo copy --all oci-archive:FILE docker://REGISTRY/antimetal/agent:V` pushes a manifest list.
 * Returns the digest of the combined index.
 */
export function combineArchives(archives: string[], out: string, version: string): string {
  const epoch = sourceDateEpoch();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-image-index-"));
  try {
    const layout = path.join(work, "layout");
    fs.mkdirSync(path.join(layout, "blobs/sha256"), { recursive: true });
    const manifests: object[] = [];
    for (const [i, archive] of archives.entries()) {
      const dir = path.join(work, `in${i}`);
      fs.mkdirSync(dir);
      run(["tar", "-xf", archive, "-C", dir]);
      for (const b of fs.readdirSync(path.join(dir, "blobs/sha256"))) {
        const dst = path.join(layout, "blobs/sha256", b);
        if (!fs.existsSync(dst)) fs.renameSync(path.join(dir, "blobs/sha256", b), dst);
      }
      const index = JSON.parse(fs.readFileSync(path.join(dir, "index.json"), "utf8")) as { manifests: object[] };
      manifests.push(...index.manifests);
    }
    // The per-arch manifests go into an image index blob; index.json names that one index, so
    // tools see one (multi-arch) image tagged `version`.
    const inner = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: manifests.map((m) => {
        const { annotations: _drop, ...rest } = m as { annotations?: unknown };
        return rest;
      }),
    });
    const innerBlob = writeBlob(layout, inner);
    fs.writeFileSync(
      path.join(layout, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          {
            mediaType: "application/vnd.oci.image.index.v1+json",
            ...innerBlob,
            annotations: { "org.opencontainers.image.ref.name": version },
          },
        ],
      }),
    );
    fs.writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    run(["chown", "-R", "0:0", layout]);
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    reproducibleTar(layout, path.resolve(out), epoch, ["oci-layout", "index.json", "blobs"]);
    return innerBlob.digest;
  } finally {
    rmrf(work);
  }
}

export function packageVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).version as string;
}

export function defaultBinary(arch: Arch): string {
  return path.join(REPO, "dist", arch === "amd64" ? "antimetal-agent" : "antimetal-agent-arm64");
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const get = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const arch = (get("--arch") ?? "amd64") as Arch;
  if (arch !== "amd64" && arch !== "arm64") {
    console.error(`--arch: expected amd64 or arm64, got ${arch}`);
    process.exit(2);
  }
  const version = get("--version") ?? packageVersion();
  const binary = get("--binary") ?? defaultBinary(arch);
  if (!fs.existsSync(binary)) {
    console.error(`--binary: ${binary} does not exist (run: bun scripts/build.ts)`);
    process.exit(2);
  }
  const out = get("--out") ?? path.join(REPO, "dist/image", `antimetal-agent-${version}-linux-${arch}.oci.tar`);
  const result = buildImage({ arch, binary, out, version });
  console.log(JSON.stringify(result, null, 2));
}
