// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// deploy/helm/antimetal-agent with helm built from helm.sh/helm/v3 (scripts/setup.d/65-packaging.sh):
// `helm lint --strict` and `helm template` for the defaults and every documented values file
// (ci/*-values.yaml, listed in the chart's README and docs/install.md), the schema rejecting bad
// values, the same objects as kustomize renders for the equivalent kustomization, and every
// rendering accepted by a real kube-apiserver (server-side apply, dryRun=All, strict field
// validation), including Pod Security admission of the pod the DaemonSet would create.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { CHART, HELM } from "../../scripts/packages.ts";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { composed, DEPLOY, find, kustomizeBuild, type Obj, REPO, serverSideApply } from "./manifests.ts";

const NS = "antimetal-system";
const CI = path.join(CHART, "ci");
const COMBINATIONS = fs
  .readdirSync(CI)
  .filter((f) => f.endsWith("-values.yaml"))
  .sort();

function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  if (!fs.existsSync(HELM)) throw new Error(`${HELM} missing: run bash scripts/setup.d/65-packaging.sh`);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-helm-home-"));
  try {
    const r = spawnSync(HELM, args, {
      encoding: "utf8",
      env: {
        ...process.env,
        HELM_CACHE_HOME: path.join(home, "cache"),
        HELM_CONFIG_HOME: path.join(home, "config"),
        HELM_DATA_HOME: path.join(home, "data"),
      },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** `helm template` with values files and extra flags; the parsed objects. */
function template(opts: { files?: string[]; values?: Obj; namespace?: string; flags?: string[] } = {}): Obj[] {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-values-"));
  try {
    // Render for the test apiserver's Kubernetes 1.37 (helm built by `go install` assumes v1.20).
    const args = ["template", "antimetal-agent", CHART, "--namespace", opts.namespace ?? NS, "--kube-version", "1.37.0"];
    for (const f of opts.files ?? []) args.push("-f", f);
    if (opts.values) {
      fs.writeFileSync(path.join(tmp, "values.json"), JSON.stringify(opts.values));
      args.push("-f", path.join(tmp, "values.json"));
    }
    args.push(...(opts.flags ?? []));
    const r = helm(args);
    if (r.status !== 0) throw new Error(`helm ${args.join(" ")}: ${r.stderr}`);
    return parseAllDocuments(r.stdout)
      .map((d) => d.toJSON() as Obj)
      .filter((o) => o);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const ciFile = (name: string) => path.join(CI, name);

/** Objects without the bookkeeping labels each tool adds (managed-by, helm.sh/chart, part-of), sorted. */
function normalized(objs: Obj[]): Obj[] {
  return objs
    .map((o) => {
      const c = structuredClone(o);
      for (const l of ["app.kubernetes.io/managed-by", "helm.sh/chart", "app.kubernetes.io/part-of"]) delete c.metadata?.labels?.[l];
      return c;
    })
    .sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
}

function agent(objs: Obj[]): Obj {
  return find(objs, "DaemonSet", "antimetal-agent").spec.template.spec.containers.find((c: Obj) => c.name === "agent");
}

describe("helm lint and template", () => {
  test("the chart documents every values file under ci/ and every top-level value", () => {
    const readme = fs.readFileSync(path.join(CHART, "README.md"), "utf8");
    const guide = fs.readFileSync(path.join(REPO, "docs/install.md"), "utf8");
    expect(COMBINATIONS.length).toBeGreaterThanOrEqual(6);
    for (const f of COMBINATIONS) {
      expect(`${f} in README.md: ${readme.includes(`ci/${f}`)}`).toBe(`${f} in README.md: true`);
    }
    expect(guide).toContain("helm install");
    const values = parseYaml(fs.readFileSync(path.join(CHART, "values.yaml"), "utf8")) as Obj;
    const schema = JSON.parse(fs.readFileSync(path.join(CHART, "values.schema.json"), "utf8")) as Obj;
    for (const k of Object.keys(values)) {
      expect(`${k}: ${readme.includes(`\`${k}`)} ${k in schema.properties}`).toBe(`${k}: true true`);
    }
  });

  for (const f of COMBINATIONS) {
    test(`helm lint --strict with ${f}`, () => {
      const r = helm(["lint", "--strict", CHART, "--namespace", NS, "-f", ciFile(f)]);
      expect({ status: r.status, out: r.status === 0 ? "" : r.stdout + r.stderr }).toEqual({ status: 0, out: "" });
      expect(r.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
    });
  }

  test("the schema rejects unknown keys and wrong types, naming the value", () => {
    for (const [values, message] of [
      [{ kernelCollector: { enabled: true } }, "kernelCollector"],
      [{ kernelCollectors: { enabled: "yes" } }, "kernelCollectors"],
      [{ image: { pullPolicy: "Sometimes" } }, "pullPolicy"],
      [{ serviceMonitor: { labels: { release: 1 } } }, "release"],
      [{ resources: { requests: { memory: "lots" } } }, "memory"],
      [{ extraArgs: ["debug"] }, "extraArgs"],
    ] as const) {
      expect(() => template({ values: values as Obj })).toThrow(message);
    }
  });

  test("defaults: base DaemonSet, no monitoring objects, image v<appVersion>", () => {
    const objs = template();
    expect(objs.map((o) => o.kind).sort()).toEqual([
      "ClusterRole",
      "ClusterRoleBinding",
      "DaemonSet",
      "Role",
      "RoleBinding",
      "Service",
      "ServiceAccount",
    ]);
    const chart = parseYaml(fs.readFileSync(path.join(CHART, "Chart.yaml"), "utf8")) as Obj;
    expect(agent(objs).image).toBe(`antimetal/agent:v${chart.appVersion}`);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as Obj;
    expect(chart.appVersion).toBe(pkg.version);
    for (const o of objs) if (!["ClusterRole", "ClusterRoleBinding"].includes(o.kind)) expect(o.metadata.namespace).toBe(NS);
  });

  test("production values: image, Secret-backed key, cluster name, scheduling, resources, extra flags", () => {
    const objs = template({ files: [ciFile("production-values.yaml")] });
    const ds = find(objs, "DaemonSet");
    const spec = ds.spec.template.spec;
    const c = agent(objs);
    expect(c.image).toBe("registry.example.com/antimetal/agent:0.1.0");
    expect(c.imagePullPolicy).toBe("Always");
    expect(spec.imagePullSecrets).toEqual([{ name: "regcred" }]);
    expect(spec.priorityClassName).toBe("system-node-critical");
    expect(spec.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key).toBe(
      "node.example.com/spot",
    );
    expect(spec.tolerations).toEqual([{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }]);
    expect(c.resources).toEqual({ requests: { cpu: "100m", memory: "192Mi" }, limits: { memory: "768Mi" } });
    expect(ds.spec.updateStrategy.rollingUpdate.maxUnavailable).toBe(1);
    expect(ds.spec.template.metadata.annotations["example.com/team"]).toBe("platform");
    expect(ds.spec.template.metadata.labels["example.com/cost-center"]).toBe("infra");
    expect(ds.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "antimetal-agent" });
    expect(find(objs, "ServiceAccount").metadata.annotations).toEqual({ "example.com/role": "antimetal-agent" });
    // The key: a Secret the chart made, read through the same secretKeyRef as without it.
    const secret = find(objs, "Secret", "antimetal-intake");
    expect(Buffer.from(secret.data["api-key"], "base64").toString()).toBe("example-key");
    const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value ?? e.valueFrom]));
    expect(env.ANTIMETAL_INTAKE_API_KEY).toEqual({ secretKeyRef: { name: "antimetal-intake", key: "api-key", optional: true } });
    expect(env.CLUSTER_NAME).toBe("prod-eu-1");
    expect(env.ANTIMETAL_MAX_STREAM_AGE).toBe("5m");
    expect(c.args).toContain("--intake-address=intake.antimetal.com:443");
    expect(c.args).toContain("--log-level=debug");
    expect(c.args.at(-1)).toBe("--collector-intervals=tcp=30s");
  });

  test("secure-metrics values: --metrics-secure with the Secret's certificate, review and reader roles, https ServiceMonitor", () => {
    const objs = template({ files: [ciFile("secure-metrics-values.yaml")] });
    const c = agent(objs);
    expect(c.args).toContain("--metrics-secure");
    expect(c.args).toContain("--metrics-bind-address=:8443");
    expect(c.args).toContain("--metrics-cert-dir=/etc/antimetal/metrics-certs");
    expect(c.volumeMounts).toContainEqual({ name: "metrics-certs", mountPath: "/etc/antimetal/metrics-certs", readOnly: true });
    expect(find(objs, "DaemonSet").spec.template.spec.volumes).toContainEqual({
      name: "metrics-certs",
      secret: { secretName: "antimetal-metrics-tls" },
    });
    expect(find(objs, "ClusterRole", "antimetal-agent-metrics-auth").rules).toEqual([
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
      { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] },
    ]);
    expect(find(objs, "ClusterRoleBinding", "antimetal-agent-metrics-auth").subjects).toEqual([
      { kind: "ServiceAccount", name: "antimetal-agent", namespace: NS },
    ]);
    expect(find(objs, "ClusterRole", "antimetal-agent-metrics-reader").rules).toEqual([{ nonResourceURLs: ["/metrics"], verbs: ["get"] }]);
    expect(find(objs, "ClusterRoleBinding", "antimetal-agent-metrics-reader").subjects).toEqual([
      { kind: "ServiceAccount", name: "prometheus-k8s", namespace: "monitoring" },
    ]);
    expect(find(objs, "ServiceMonitor", "antimetal-agent").spec.endpoints[0]).toMatchObject({
      port: "metrics",
      scheme: "https",
      bearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
      tlsConfig: { insecureSkipVerify: true },
    });
    const svc = find(objs, "Service", "antimetal-agent-metrics");
    expect(svc.metadata.annotations["prometheus.io/scheme"]).toBe("https");
    expect(svc.spec.ports[0].port).toBe(8443);
    // A PodMonitor cannot carry the scraper's own token: refused with the reason.
    expect(() => template({ files: [ciFile("secure-metrics-values.yaml")], values: { podMonitor: { enabled: true } } })).toThrow(
      "podMonitor cannot send the scraper's own ServiceAccount token",
    );
  });

  test("monitoring values: ServiceMonitor and PodMonitor with the given labels, the alerts, the dashboard", () => {
    const objs = template({ files: [ciFile("monitoring-values.yaml")] });
    const sm = find(objs, "ServiceMonitor", "antimetal-agent");
    const pm = find(objs, "PodMonitor", "antimetal-agent");
    const rule = find(objs, "PrometheusRule", "antimetal-agent");
    for (const o of [sm, pm, rule]) expect(o.metadata.labels.release).toBe("kube-prometheus-stack");
    const svc = find(objs, "Service", "antimetal-agent-metrics");
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels[k]).toBe(v);
    const podLabels = find(objs, "DaemonSet").spec.template.metadata.labels;
    for (const [k, v] of Object.entries(pm.spec.selector.matchLabels)) expect(podLabels[k]).toBe(v);
    expect(pm.spec.podMetricsEndpoints[0]).toMatchObject({ port: "metrics", path: "/metrics", interval: "15s" });
    expect(agent(objs).ports.map((p: Obj) => p.name)).toContain(pm.spec.podMetricsEndpoints[0].port);
    // The PrometheusRule is the checked rule file, unchanged.
    const rules = parseYaml(fs.readFileSync(path.join(CHART, "files/alerts.yaml"), "utf8")) as Obj;
    expect(rule.spec).toEqual(rules);
    const alerts = rule.spec.groups.flatMap((g: Obj) => g.rules.map((r: Obj) => r.alert));
    expect(alerts).toEqual([
      "AntimetalAgentDown",
      "AntimetalIntakeBacklogGrowing",
      "AntimetalOutboxDrops",
      "AntimetalCollectorFailing",
      "AntimetalEbpfEventLoss",
      "AntimetalLeaderMissing",
    ]);
    const dash = find(objs, "ConfigMap", "antimetal-agent-dashboard");
    expect(dash.metadata.labels.grafana_dashboard).toBe("1");
    expect(JSON.parse(dash.data["antimetal-agent.json"])).toEqual(
      JSON.parse(fs.readFileSync(path.join(CHART, "files/dashboard.json"), "utf8")),
    );
  });

  test("restricted values: no hostPath, no host collectors, namespace labelled restricted", () => {
    const objs = template({ files: [ciFile("restricted-values.yaml")], namespace: "antimetal-restricted" });
    const ns = find(objs, "Namespace", "antimetal-restricted");
    expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const spec = find(objs, "DaemonSet").spec.template.spec;
    expect(spec.volumes.filter((v: Obj) => v.hostPath)).toEqual([]);
    expect(agent(objs).args).not.toContain("--enable-performance-collectors");
    expect(agent(objs).env.map((e: Obj) => e.name)).not.toContain("HOST_PROC");
  });
});

describe("same objects as kustomize for the equivalent settings", () => {
  const overlay = path.join(DEPLOY, "overlays/kernel-collectors");
  const withComponents = (resource: string, components: string[]) => {
    const c = composed(
      resource,
      components.map((x) => path.join(DEPLOY, "components", x)),
    );
    try {
      return kustomizeBuild(c.dir);
    } finally {
      c.cleanup();
    }
  };
  const cases: [string, () => Obj[], Obj][] = [
    ["base = defaults with namespace.create", () => kustomizeBuild(path.join(DEPLOY, "base")), { namespace: { create: true } }],
    [
      "overlays/kernel-collectors = kernelCollectors.enabled",
      () => kustomizeBuild(overlay),
      { namespace: { create: true }, kernelCollectors: { enabled: true } },
    ],
    [
      "overlay + servicemonitor + legacy-kernels = kernelCollectors.legacyKernels + serviceMonitor.enabled",
      () => withComponents(overlay, ["servicemonitor", "legacy-kernels"]),
      { namespace: { create: true }, kernelCollectors: { enabled: true, legacyKernels: true }, serviceMonitor: { enabled: true } },
    ],
    [
      "overlay + servicemonitor + legacy-kernels + prometheusrule = the same + prometheusRule.enabled",
      () => withComponents(overlay, ["servicemonitor", "legacy-kernels", "prometheusrule"]),
      {
        namespace: { create: true },
        kernelCollectors: { enabled: true, legacyKernels: true },
        serviceMonitor: { enabled: true },
        prometheusRule: { enabled: true },
      },
    ],
    [
      "base + servicemonitor + secure-metrics = the same + secureMetrics.enabled, ports.metrics 8443",
      () => withComponents(path.join(DEPLOY, "base"), ["servicemonitor", "secure-metrics"]),
      {
        namespace: { create: true },
        serviceMonitor: { enabled: true },
        secureMetrics: { enabled: true },
        ports: { metrics: 8443, health: 8081 },
      },
    ],
    [
      "base + images: = image.repository/tag",
      () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-images-"));
        try {
          fs.writeFileSync(
            path.join(dir, "kustomization.yaml"),
            [
              "resources:",
              `  - ${path.relative(dir, path.join(DEPLOY, "base"))}`,
              "images:",
              "  - name: antimetal/agent",
              "    newName: registry.example.com/antimetal/agent",
              '    newTag: "9.9.9"',
              "",
            ].join("\n"),
          );
          return kustomizeBuild(dir);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      },
      { namespace: { create: true }, image: { repository: "registry.example.com/antimetal/agent", tag: "9.9.9" } },
    ],
  ];
  for (const [name, kustomize, values] of cases) {
    test(name, () => {
      expect(normalized(template({ values }))).toEqual(normalized(kustomize()));
    });
  }
});

describe("server-side dry-run apply on a real kube-apiserver", () => {
  let env: KubeTestEnv;
  const apply = async (objs: Obj[], dryRun = true) => {
    for (const o of objs) {
      const { status, body } = await serverSideApply(env.request, o, { dryRun });
      expect(`${o.kind}/${o.metadata.name} ${status < 300 ? "ok" : status} ${status < 300 ? "" : body.message}`).toBe(
        `${o.kind}/${o.metadata.name} ok `,
      );
    }
  };
  /** Dry-run create of the Pod the DaemonSet would make, so Pod Security admission judges it. */
  const podFrom = async (objs: Obj[], namespace: string) => {
    const ds = find(objs, "DaemonSet");
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "antimetal-agent-probe", namespace, labels: ds.spec.template.metadata.labels },
      spec: { ...ds.spec.template.spec, nodeName: "node-1" },
    };
    const res = await env.request("POST", `/api/v1/namespaces/${namespace}/pods?dryRun=All&fieldValidation=Strict`, pod);
    return { status: res.status, body: (await res.json()) as Obj };
  };

  beforeAll(async () => {
    env = await startKubeTestEnv();
    const ns = await env.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: NS, labels: { "pod-security.kubernetes.io/enforce": "privileged" } },
    });
    expect(ns.status).toBe(201);
    // The prometheus-operator kinds, as structural CRDs that keep unknown fields.
    for (const [plural, kind] of [
      ["servicemonitors", "ServiceMonitor"],
      ["podmonitors", "PodMonitor"],
      ["prometheusrules", "PrometheusRule"],
    ] as const) {
      const crd = await env.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `${plural}.monitoring.coreos.com` },
        spec: {
          group: "monitoring.coreos.com",
          scope: "Namespaced",
          names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
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
    }
    const deadline = Date.now() + 30000;
    for (;;) {
      const res = await env.request("GET", "/apis/monitoring.coreos.com/v1");
      const body = res.ok ? ((await res.json()) as Obj) : { resources: [] };
      if (body.resources.length >= 3) break;
      if (Date.now() > deadline) throw new Error("monitoring.coreos.com CRDs not served after 30 s");
      await Bun.sleep(200);
    }
  }, 120000);
  afterAll(async () => {
    await env?.stop();
  });

  for (const f of COMBINATIONS.filter((c) => c !== "restricted-values.yaml")) {
    test(`${f}: every object is accepted (dryRun=All, fieldValidation=Strict), and its pod by Pod Security`, async () => {
      const objs = template({ files: [ciFile(f)] });
      await apply(objs);
      const pod = await podFrom(objs, NS);
      expect({ status: pod.status, message: pod.body.message }).toEqual({ status: 201, message: undefined });
      const ds = await env.request("GET", `/apis/apps/v1/namespaces/${NS}/daemonsets/antimetal-agent`);
      expect(ds.status).toBe(404);
    }, 60000);
  }

  test("restricted-values.yaml: the chart's namespace is restricted and admits the pod; the default pod is refused there", async () => {
    const ns = "antimetal-restricted";
    const objs = template({ files: [ciFile("restricted-values.yaml")], namespace: ns });
    await apply([find(objs, "Namespace")], false);
    await apply(objs.filter((o) => o.kind !== "Namespace"));
    const pod = await podFrom(objs, ns);
    expect({ status: pod.status, message: pod.body.message }).toEqual({ status: 201, message: undefined });
    const privileged = await podFrom(template({ namespace: ns }), ns);
    expect(privileged.status).toBe(403);
    expect(privileged.body.message).toContain('violates PodSecurity "restricted:latest"');
    expect(privileged.body.message).toContain('use restricted volume type "hostPath"');
  }, 60000);

  test("helm install, upgrade --reuse-values and uninstall against the apiserver", async () => {
    const ns = "antimetal-helm";
    const kube = ["--kubeconfig", env.kubeconfigPath, "--namespace", ns];
    const get = async (p: string) => (await env.request("GET", p)).status;
    const install = helm(["install", "antimetal-agent", CHART, ...kube, "--create-namespace", "--set", "clusterName=c1", "--wait=false"]);
    expect({ status: install.status, err: install.status === 0 ? "" : install.stderr }).toEqual({ status: 0, err: "" });
    expect(install.stdout).toContain("STATUS: deployed");
    const ds = (await (await env.request("GET", `/apis/apps/v1/namespaces/${ns}/daemonsets/antimetal-agent`)).json()) as Obj;
    expect(ds.spec.template.spec.containers[0].env.find((e: Obj) => e.name === "CLUSTER_NAME").value).toBe("c1");
    expect(ds.metadata.labels["app.kubernetes.io/managed-by"]).toBe("Helm");

    const upgrade = helm(["upgrade", "antimetal-agent", CHART, ...kube, "--reuse-values", "--set", "kernelCollectors.enabled=true"]);
    expect({ status: upgrade.status, err: upgrade.status === 0 ? "" : upgrade.stderr }).toEqual({ status: 0, err: "" });
    const after = (await (await env.request("GET", `/apis/apps/v1/namespaces/${ns}/daemonsets/antimetal-agent`)).json()) as Obj;
    const c = after.spec.template.spec.containers[0];
    expect(c.securityContext.capabilities.add).toEqual(["BPF", "PERFMON", "SYSLOG"]);
    expect(c.env.find((e: Obj) => e.name === "CLUSTER_NAME").value).toBe("c1");

    const uninstall = helm(["uninstall", "antimetal-agent", ...kube]);
    expect({ status: uninstall.status, err: uninstall.status === 0 ? "" : uninstall.stderr }).toEqual({ status: 0, err: "" });
    expect(await get(`/apis/apps/v1/namespaces/${ns}/daemonsets/antimetal-agent`)).toBe(404);
    expect(await get("/apis/rbac.authorization.k8s.io/v1/clusterroles/antimetal-agent")).toBe(404);
  }, 120000);

  test("the install guide's helm command renders objects the apiserver accepts", async () => {
    const guide = fs.readFileSync(path.join(REPO, "docs/install.md"), "utf8");
    const m = /helm install antimetal-agent (\S+)((?: \\\n\s+--\S+(?: \S+)?)+)/.exec(guide);
    if (!m) throw new Error("docs/install.md: no `helm install antimetal-agent <chart> \\ --flags` command");
    const flags = m[2]!.split(/\s+/).filter((x) => x && x !== "\\");
    expect(m[1]).toBe("antimetal-agent-<version>.tgz");
    // install -> template; the chart archive -> this checkout's chart; placeholders -> values.
    const args = flags
      .filter((x) => x !== "--create-namespace" && x !== "--wait")
      .map((x) => x.replaceAll("<version>", "9.9.9").replaceAll("<cluster-name>", "c1"));
    const nsIdx = args.indexOf("--namespace");
    const namespace = args[nsIdx + 1]!;
    args.splice(nsIdx, 2);
    expect(namespace).toBe(NS);
    const objs = template({ flags: args });
    expect(agent(objs).image).toBe("registry.example.com/antimetal/agent:9.9.9");
    await apply(objs);
  }, 60000);
});
