// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Helpers for the deployment tests: render kustomizations with the pinned kustomize, locate the
// compiled binaries, and apply objects to a kube-apiserver with server-side dry-run.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";

export const REPO = path.resolve(import.meta.dir, "../..");
export const KUSTOMIZE = process.env.KUSTOMIZE ?? "/var/cache/antimetal-dev/bin/kustomize";
export const DEPLOY = process.env.ANTIMETAL_DEPLOY_DIR ?? path.join(REPO, "deploy/kubernetes");

// deno-lint-ignore no-explicit-any
export type Obj = Record<string, any>;

export function kustomizeBuild(dir: string): Obj[] {
  if (!fs.existsSync(KUSTOMIZE)) throw new Error(`${KUSTOMIZE} missing: run bash scripts/setup.sh (scripts/setup.d/60-deploy.sh)`);
  const r = spawnSync(KUSTOMIZE, ["build", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kustomize build ${dir}: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJSON() as Obj)
    .filter((o) => o);
}

/** A throwaway kustomization that combines a base/overlay with components. */
export function composed(resource: string, components: string[]): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-kustomize-"));
  const rel = (p: string) => path.relative(dir, p);
  fs.writeFileSync(
    path.join(dir, "kustomization.yaml"),
    [
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      "resources:",
      `  - ${rel(resource)}`,
      "components:",
      ...components.map((c) => `  - ${rel(c)}`),
      "",
    ].join("\n"),
  );
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function find(objs: Obj[], kind: string, name?: string): Obj {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata?.name === name));
  if (!o) throw new Error(`no ${kind}${name ? ` ${name}` : ""} in [${objs.map((x) => `${x.kind}/${x.metadata?.name}`).join(", ")}]`);
  return o;
}

export function binary(arch: "amd64" | "arm64"): string {
  const p = path.join(REPO, "dist", arch === "amd64" ? "antimetal-agent" : "antimetal-agent-arm64");
  if (!fs.existsSync(p)) throw new Error(`${p} missing: run bun scripts/build.ts (bash scripts/setup.sh does)`);
  return p;
}

interface ApiResource {
  name: string;
  namespaced: boolean;
  kind: string;
}

/** Discovery: kind → resource name and scope for one group/version. */
export async function discover(
  request: (method: string, p: string) => Promise<Response>,
  apiVersion: string,
): Promise<Map<string, ApiResource>> {
  const p = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const res = await request("GET", p);
  if (!res.ok) throw new Error(`discovery ${p}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { resources: ApiResource[] };
  return new Map(body.resources.filter((r) => !r.name.includes("/")).map((r) => [r.kind, r]));
}

/** Server-side apply of one object, optionally as dry-run. Returns the HTTP status and body. */
export async function serverSideApply(
  request: (method: string, p: string, body?: unknown, contentType?: string) => Promise<Response>,
  obj: Obj,
  opts: { dryRun: boolean },
): Promise<{ status: number; body: Obj }> {
  const resources = await discover(request, obj.apiVersion);
  const r = resources.get(obj.kind);
  if (!r) throw new Error(`the apiserver does not serve ${obj.apiVersion} ${obj.kind}`);
  const base = obj.apiVersion.includes("/") ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  const ns = r.namespaced ? `/namespaces/${obj.metadata.namespace ?? "default"}` : "";
  const q = new URLSearchParams({ fieldManager: "antimetal-deploy-test", force: "true", fieldValidation: "Strict" });
  if (opts.dryRun) q.set("dryRun", "All");
  const res = await request(
    "PATCH",
    `${base}${ns}/${r.name}/${obj.metadata.name}?${q}`,
    JSON.stringify(obj),
    "application/apply-patch+yaml",
  );
  const text = await res.text();
  let body: Obj;
  try {
    body = JSON.parse(text) as Obj;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body };
}
