// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The Kubernetes path of docs/install.md, steps 2 and 3, run verbatim with kubectl (built from
// k8s.io/kubectl by scripts/setup.d/60-deploy.sh; its embedded kustomize is a second, newer
// kustomize) against a real kube-apiserver: the overlay is written next to deploy/, the namespace
// and secret are created, `kubectl apply -k .` creates everything, and a second apply changes
// nothing. `rollout status` is left out: the test apiserver has no nodes or controllers.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { DEPLOY, type Obj, REPO } from "./manifests.ts";

const KUBECTL = "/var/cache/antimetal-dev/kubectl/kubectl";
const VERSION = "9.9.9";

/** The ```sh blocks of the guide's Kubernetes section, de-indented. */
function guideBlocks(): string[] {
  const guide = fs.readFileSync(path.join(REPO, "docs/install.md"), "utf8");
  const section = guide.slice(guide.indexOf("## In a Kubernetes cluster"), guide.indexOf("## Plain binary"));
  return [...section.matchAll(/^( *)```sh\n([\s\S]*?)^ *```/gm)].map((m) =>
    m[2]!
      .split("\n")
      .map((l) => l.slice(m[1]!.length))
      .join("\n"),
  );
}

describe("docs/install.md Kubernetes steps with kubectl", () => {
  let env: KubeTestEnv;
  let work: string;
  const sh = (script: string, cwd: string) =>
    spawnSync("bash", ["-ex", "-c", script], {
      cwd,
      encoding: "utf8",
      timeout: 60000,
      env: { ...process.env, KUBECONFIG: env.kubeconfigPath, PATH: `${path.dirname(KUBECTL)}:${process.env.PATH}` },
    });

  beforeAll(async () => {
    expect(fs.existsSync(KUBECTL)).toBe(true);
    env = await startKubeTestEnv();
    // The extracted deploy bundle's layout: antimetal-agent-<version>/deploy/...
    work = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-guide-kubectl-"));
    fs.mkdirSync(path.join(work, `antimetal-agent-${VERSION}/deploy`), { recursive: true });
    fs.symlinkSync(DEPLOY, path.join(work, `antimetal-agent-${VERSION}/deploy/kubernetes`));
  }, 120000);
  afterAll(async () => {
    await env?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test("step 2 writes the overlay, step 3 creates the namespace, the secret and every object", async () => {
    const blocks = guideBlocks();
    const step2 = blocks.find((b) => b.includes("cat > kustomization.yaml"))!;
    const step3 = blocks.find((b) => b.includes("kubectl apply -k ."))!;
    expect(step2).toBeDefined();
    expect(step3).toBeDefined();
    const script = [step2, step3.replace(/^kubectl .* rollout status .*$/m, "")]
      .join("\n")
      .replaceAll("<version>", VERSION)
      .replaceAll("<your key>", "test-key");
    const r = sh(script, work);
    expect({ status: r.status, stderr: r.status === 0 ? "" : r.stderr }).toEqual({ status: 0, stderr: "" });
    for (const kind of [
      "namespace/antimetal-system",
      "serviceaccount/antimetal-agent",
      "daemonset.apps/antimetal-agent",
      "service/antimetal-agent-metrics",
      "clusterrole.rbac.authorization.k8s.io/antimetal-agent",
    ]) {
      expect(r.stdout).toContain(kind);
    }

    const ds = (await (await env.request("GET", "/apis/apps/v1/namespaces/antimetal-system/daemonsets/antimetal-agent")).json()) as Obj;
    const c = ds.spec.template.spec.containers[0];
    expect(c.image).toBe(`registry.example.com/antimetal/agent:${VERSION}`);
    expect(c.securityContext.capabilities.add).toEqual(["BPF", "PERFMON", "SYSLOG"]);
    const secret = (await (await env.request("GET", "/api/v1/namespaces/antimetal-system/secrets/antimetal-intake")).json()) as Obj;
    expect(Buffer.from(secret.data["api-key"], "base64").toString()).toBe("test-key");
    expect(c.env.find((e: Obj) => e.name === "ANTIMETAL_INTAKE_API_KEY").valueFrom.secretKeyRef).toEqual({
      name: "antimetal-intake",
      key: "api-key",
      optional: true,
    });
    const ns = (await (await env.request("GET", "/api/v1/namespaces/antimetal-system")).json()) as Obj;
    expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("privileged");

    // Applying again is a no-op, and kubectl diff sees no difference.
    const again = sh("kubectl apply -k .", path.join(work, `antimetal-agent-${VERSION}/my-antimetal`));
    expect(again.status).toBe(0);
    expect(again.stdout.split("\n").filter((l) => l && !l.endsWith(" unchanged"))).toEqual([]);
    const diff = sh("kubectl diff -k .", path.join(work, `antimetal-agent-${VERSION}/my-antimetal`));
    expect({ status: diff.status, out: diff.stdout }).toEqual({ status: 0, out: "" });
  }, 90000);
});
