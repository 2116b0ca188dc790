// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// deploy/kubernetes: every kustomization renders with the pinned kustomize, says what the README
// promises (probes, env, mounts, capabilities, RBAC wiring), and applies cleanly (server-side
// apply, dryRun=All, strict field validation, PodSecurity admission) on a real kube-apiserver.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { composed, DEPLOY, find, kustomizeBuild, type Obj, REPO, serverSideApply } from "./manifests.ts";

const BASE = path.join(DEPLOY, "base");
const OVERLAY = path.join(DEPLOY, "overlays/kernel-collectors");
const SERVICEMONITOR = path.join(DEPLOY, "components/servicemonitor");
const LEGACY = path.join(DEPLOY, "components/legacy-kernels");
const SECURE = path.join(DEPLOY, "components/secure-metrics");

function agentContainer(objs: Obj[]): Obj {
  const ds = find(objs, "DaemonSet", "antimetal-agent");
  return ds.spec.template.spec.containers.find((c: Obj) => c.name === "agent");
}

/** The overlay docs/install.md tells a newcomer to write, next to deploy/, rendered. */
function renderInstallGuideOverlay(): Obj[] {
  const guide = fs.readFileSync(path.join(REPO, "docs/install.md"), "utf8");
  const m = /cat > kustomization\.yaml <<'EOF'\n([\s\S]*?)\n\s*EOF\n/.exec(guide);
  if (!m) throw new Error("docs/install.md: no kustomization.yaml heredoc");
  const indent = /^(\s*)/.exec(m[1]!)![1]!.length;
  const text = m[1]!
    .split("\n")
    .map((l) => l.slice(indent))
    .join("\n")
    .replaceAll("<version>", "9.9.9");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-guide-"));
  try {
    fs.mkdirSync(path.join(dir, "deploy"));
    fs.symlinkSync(DEPLOY, path.join(dir, "deploy/kubernetes"));
    fs.mkdirSync(path.join(dir, "my-antimetal"));
    fs.writeFileSync(path.join(dir, "my-antimetal/kustomization.yaml"), text);
    return kustomizeBuild(path.join(dir, "my-antimetal"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function renderAll(): Record<string, Obj[]> {
  const all = composed(OVERLAY, [SERVICEMONITOR, LEGACY]);
  const secure = composed(BASE, [SERVICEMONITOR, SECURE]);
  try {
    return {
      secure: kustomizeBuild(secure.dir),
      base: kustomizeBuild(BASE),
      overlay: kustomizeBuild(OVERLAY),
      full: kustomizeBuild(all.dir),
      guide: renderInstallGuideOverlay(),
    };
  } finally {
    all.cleanup();
    secure.cleanup();
  }
}

describe("kustomize render", () => {
  const r = renderAll();

  test("base has the namespace, RBAC, DaemonSet and metrics Service, all namespaced in antimetal-system", () => {
    const kinds = new Set(r.base!.map((o) => o.kind));
    for (const k of ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "DaemonSet", "Service"]) {
      expect(kinds.has(k)).toBe(true);
    }
    expect(find(r.base!, "Namespace").metadata.name).toBe("antimetal-system");
    for (const o of r.base!) {
      if (["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(o.kind)) continue;
      expect(`${o.kind}/${o.metadata.name}:${o.metadata.namespace}`).toBe(`${o.kind}/${o.metadata.name}:antimetal-system`);
    }
  });

  test("every binding refers to a rendered role and to the DaemonSet's ServiceAccount", () => {
    for (const objs of Object.values(r)) {
      const ds = find(objs, "DaemonSet", "antimetal-agent");
      const sa = ds.spec.template.spec.serviceAccountName;
      expect(find(objs, "ServiceAccount", sa).metadata.namespace).toBe("antimetal-system");
      const bindings = objs.filter((o) => o.kind === "ClusterRoleBinding" || o.kind === "RoleBinding");
      expect(bindings.length).toBeGreaterThanOrEqual(2);
      for (const b of bindings) {
        const role = find(objs, b.roleRef.kind, b.roleRef.name);
        expect(role.kind).toBe(b.roleRef.kind);
        expect(b.subjects).toContainEqual({ kind: "ServiceAccount", name: sa, namespace: "antimetal-system" });
      }
      // Read-only cluster role: no write verbs anywhere in a ClusterRole. The one create allowed is of
      // token and access reviews (secure-metrics), which store nothing.
      for (const cr of objs.filter((o) => o.kind === "ClusterRole")) {
        for (const rule of cr.rules ?? []) {
          const reviews = ["tokenreviews", "subjectaccessreviews"];
          const allowed =
            (rule.resources ?? []).every((r: string) => reviews.includes(r)) && rule.resources?.length
              ? ["create"]
              : ["get", "list", "watch"];
          for (const verb of rule.verbs)
            expect(`${cr.metadata.name} ${verb} ${allowed.includes(verb)}`).toBe(`${cr.metadata.name} ${verb} true`);
        }
      }
      // The leader-election Role can manage leases (coordination.k8s.io).
      const roles = objs.filter((o) => o.kind === "Role");
      expect(
        roles.some((ro) =>
          (ro.rules ?? []).some(
            (ru: Obj) => ru.apiGroups.includes("coordination.k8s.io") && ru.resources.includes("leases") && ru.verbs.includes("update"),
          ),
        ),
      ).toBe(true);
      // update (renew, take over, release) reaches only the agent's own Lease; only create is unnamed.
      for (const ro of roles) {
        for (const ru of (ro.rules ?? []) as Obj[]) {
          if (!ru.resources.includes("leases")) continue;
          if (ru.verbs.includes("update") || ru.verbs.includes("get")) expect(ru.resourceNames).toEqual(["4927b366.antimetal.com"]);
          else expect(ru.verbs).toEqual(["create"]);
        }
      }
    }
  });

  test("DaemonSet: probes, ports, env and host mounts match the agent's flags", () => {
    const c = agentContainer(r.base!);
    expect(c.args[0]).toBe("run");
    expect(c.args).toContain("--health-probe-bind-address=:8081");
    expect(c.args).toContain("--metrics-bind-address=:8080");
    expect(c.args).toContain("--leader-elect");
    const ports = Object.fromEntries(c.ports.map((p: Obj) => [p.name, p.containerPort]));
    expect(ports).toEqual({ metrics: 8080, health: 8081 });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/livez", port: "health" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "health" });
    expect(c.startupProbe.httpGet.path).toBe("/livez");

    const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value ?? e.valueFrom]));
    expect(env.NODE_NAME).toEqual({ fieldRef: { fieldPath: "spec.nodeName" } });
    expect(env.HOST_PROC).toBe("/host/proc");
    expect(env.HOST_SYS).toBe("/host/sys");
    expect(env.HOST_DEV).toBe("/host/dev");
    expect(env.HOST_ETC).toBe("/host/etc");
    expect(env.HOST_ROOT).toBe("/host/root");
    expect(env.ANTIMETAL_INTAKE_API_KEY.secretKeyRef.optional).toBe(true);

    const spec = find(r.base!, "DaemonSet").spec.template.spec;
    const vol = Object.fromEntries(spec.volumes.map((v: Obj) => [v.name, v]));
    const mounts = Object.fromEntries(c.volumeMounts.map((m: Obj) => [m.mountPath, m]));
    for (const [mountPath, hostPath] of [
      ["/host/proc", "/proc"],
      ["/host/sys", "/sys"],
      ["/host/dev", "/dev"],
      ["/host/etc/machine-id", "/etc/machine-id"],
      ["/host/root", "/"],
    ]) {
      const m = mounts[mountPath!];
      expect(m?.readOnly).toBe(true);
      expect(vol[m.name].hostPath.path).toBe(hostPath);
    }
    // The node's view, as node_exporter's chart: its network namespace, and its / for the mounts'
    // statfs (with the submounts the node makes later).
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dnsPolicy).toBe("ClusterFirstWithHostNet");
    expect(mounts["/host/root"].mountPropagation).toBe("HostToContainer");
    expect(vol[mounts["/var/lib/antimetal"].name].emptyDir).toBeDefined();
    expect(vol[mounts["/tmp"].name].emptyDir.medium).toBe("Memory");
    expect(c.args).toContain("--data-directory=/var/lib/antimetal");
    expect(c.resources.requests.memory).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();
  });

  test("base: non-root, no capabilities at all, read-only root filesystem", () => {
    const spec = find(r.base!, "DaemonSet").spec.template.spec;
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(spec.securityContext.runAsUser).toBe(65532);
    const sc = agentContainer(r.base!).securityContext;
    expect(sc.capabilities).toEqual({ drop: ["ALL"] });
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(spec.hostPID ?? false).toBe(false);
    expect(sc.privileged ?? false).toBe(false);
  });

  test("kernel-collectors overlay adds exactly BPF, PERFMON, SYSLOG and the host tracefs", () => {
    const c = agentContainer(r.overlay!);
    expect(c.securityContext.capabilities).toEqual({ drop: ["ALL"], add: ["BPF", "PERFMON", "SYSLOG"] });
    expect(c.securityContext.privileged ?? false).toBe(false);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    const m = c.volumeMounts.find((v: Obj) => v.mountPath === "/sys/kernel/tracing");
    expect(m.readOnly).toBe(true);
    const spec = find(r.overlay!, "DaemonSet").spec.template.spec;
    expect(spec.volumes.find((v: Obj) => v.name === m.name).hostPath.path).toBe("/sys/kernel/tracing");
    // execsnoop is requested by name, on top of every available collector.
    const collectors = c.env.find((e: Obj) => e.name === "ANTIMETAL_COLLECTORS");
    expect(collectors.value).toBe("all,execsnoop");
    // Everything else is the base, unchanged.
    expect(c.args).toEqual(agentContainer(r.base!).args);
    expect(c.env.filter((e: Obj) => e.name !== "ANTIMETAL_COLLECTORS")).toEqual(agentContainer(r.base!).env);
  });

  test("the install guide's overlay uses the user's image and the kernel-collectors variant", () => {
    const c = agentContainer(r.guide!);
    expect(c.image).toBe("registry.example.com/antimetal/agent:9.9.9");
    expect(c.securityContext.capabilities.add).toEqual(["BPF", "PERFMON", "SYSLOG"]);
    expect(agentContainer(r.base!).image).toBe("antimetal/agent:v0.1.0");
  });

  test("components: ServiceMonitor selects the metrics Service's port; legacy-kernels adds SYS_RESOURCE only", () => {
    const sm = find(r.full!, "ServiceMonitor", "antimetal-agent");
    const svc = find(r.full!, "Service", "antimetal-agent-metrics");
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels[k]).toBe(v);
    expect(svc.spec.ports.map((p: Obj) => p.name)).toContain(sm.spec.endpoints[0].port);
    expect(sm.metadata.namespace).toBe("antimetal-system");
    // The Service selects the DaemonSet's pods and targets a named container port.
    const ds = find(r.full!, "DaemonSet");
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(ds.spec.template.metadata.labels[k]).toBe(v);
    expect(agentContainer(r.full!).ports.map((p: Obj) => p.name)).toContain(svc.spec.ports[0].targetPort);
    expect(agentContainer(r.full!).securityContext.capabilities.add).toEqual(["BPF", "PERFMON", "SYSLOG", "SYS_RESOURCE"]);
  });
});

describe("secure-metrics component", () => {
  const r = renderAll();
  test("HTTPS on 8443 with --metrics-secure, review and reader roles, the Service and ServiceMonitor over https", () => {
    const objs = r.secure!;
    const c = agentContainer(objs);
    expect(c.args.filter((a: string) => a.startsWith("--metrics-bind-address"))).toEqual(["--metrics-bind-address=:8443"]);
    expect(c.args.at(-1)).toBe("--metrics-secure");
    expect(c.ports.find((p: Obj) => p.name === "metrics").containerPort).toBe(8443);
    expect(find(objs, "ClusterRole", "antimetal-agent-metrics-auth").rules.map((x: Obj) => `${x.resources}:${x.verbs}`)).toEqual([
      "tokenreviews:create",
      "subjectaccessreviews:create",
    ]);
    const binding = find(objs, "ClusterRoleBinding", "antimetal-agent-metrics-auth");
    expect(binding.roleRef.name).toBe("antimetal-agent-metrics-auth");
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "antimetal-agent", namespace: "antimetal-system" }]);
    expect(find(objs, "ClusterRole", "antimetal-agent-metrics-reader").rules).toEqual([{ nonResourceURLs: ["/metrics"], verbs: ["get"] }]);
    const svc = find(objs, "Service", "antimetal-agent-metrics");
    expect(svc.spec.ports[0]).toMatchObject({ name: "metrics", port: 8443, targetPort: "metrics" });
    expect(svc.metadata.annotations).toMatchObject({ "prometheus.io/port": "8443", "prometheus.io/scheme": "https" });
    expect(find(objs, "ServiceMonitor", "antimetal-agent").spec.endpoints[0]).toMatchObject({
      port: "metrics",
      scheme: "https",
      bearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
      tlsConfig: { insecureSkipVerify: true },
    });
  });
});

describe("server-side dry-run apply on a real kube-apiserver", () => {
  let env: KubeTestEnv;
  beforeAll(async () => {
    env = await startKubeTestEnv();
    // Namespaced dry-runs need the namespace to exist, and the ServiceMonitor needs its CRD
    // (a structural schema that keeps unknown fields, as a cluster without the operator's full CRD).
    const ns = await env.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "antimetal-system" },
    });
    expect(ns.status).toBe(201);
    const crd = await env.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "servicemonitors.monitoring.coreos.com" },
      spec: {
        group: "monitoring.coreos.com",
        scope: "Namespaced",
        names: { plural: "servicemonitors", singular: "servicemonitor", kind: "ServiceMonitor", listKind: "ServiceMonitorList" },
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: { type: "object", properties: { spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } },
            },
          },
        ],
      },
    });
    expect(crd.status).toBe(201);
    const deadline = Date.now() + 30000;
    for (;;) {
      const res = await env.request("GET", "/apis/monitoring.coreos.com/v1");
      if (res.ok) break;
      if (Date.now() > deadline) throw new Error("ServiceMonitor CRD not served after 30 s");
      await Bun.sleep(200);
    }
  }, 120000);
  afterAll(async () => {
    await env?.stop();
  });

  for (const [name, build] of [
    ["base", () => kustomizeBuild(BASE)],
    ["kernel-collectors overlay", () => kustomizeBuild(OVERLAY)],
    ["install guide overlay", () => renderInstallGuideOverlay()],
    [
      "base + servicemonitor + secure-metrics",
      () => {
        const c = composed(BASE, [SERVICEMONITOR, SECURE]);
        try {
          return kustomizeBuild(c.dir);
        } finally {
          c.cleanup();
        }
      },
    ],
    [
      "overlay + servicemonitor + legacy-kernels",
      () => {
        const c = composed(OVERLAY, [SERVICEMONITOR, LEGACY]);
        try {
          return kustomizeBuild(c.dir);
        } finally {
          c.cleanup();
        }
      },
    ],
  ] as const) {
    test(`${name}: every object is accepted (dryRun=All, fieldValidation=Strict)`, async () => {
      const objs = build();
      for (const o of objs) {
        const { status, body } = await serverSideApply(env.request, o, { dryRun: true });
        expect({ obj: `${o.kind}/${o.metadata.name}`, status, message: status < 300 ? "" : body.message }).toEqual({
          obj: `${o.kind}/${o.metadata.name}`,
          status: status < 300 ? status : 200,
          message: "",
        });
        expect(body.kind).toBe(o.kind);
      }
      // Dry-run persisted nothing.
      const ds = await env.request("GET", "/apis/apps/v1/namespaces/antimetal-system/daemonsets/antimetal-agent");
      expect(ds.status).toBe(404);
    }, 60000);
  }

  test("a real apply of the overlay creates the DaemonSet with the granted capabilities", async () => {
    for (const o of kustomizeBuild(OVERLAY)) {
      const { status, body } = await serverSideApply(env.request, o, { dryRun: false });
      expect(`${o.kind}/${o.metadata.name} ${status} ${status < 300 ? "" : body.message}`).toBe(
        `${o.kind}/${o.metadata.name} ${status < 300 ? status : 200} `,
      );
    }
    const res = await env.request("GET", "/apis/apps/v1/namespaces/antimetal-system/daemonsets/antimetal-agent");
    expect(res.status).toBe(200);
    const ds = (await res.json()) as Obj;
    expect(ds.spec.template.spec.containers[0].securityContext.capabilities.add).toEqual(["BPF", "PERFMON", "SYSLOG"]);
  }, 60000);
});
