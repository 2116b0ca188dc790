// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Which cluster is this: provider (eks, gke, aks, kind, generic), cluster name and region.
 * --kubernetes-provider picks the provider; otherwise it is auto-detected, cheapest evidence first:
 * the node's spec.providerID and labels (one GET), then the cloud metadata services probed in
 * parallel with short timeouts. The whole detection is time-boxed (default 5 s; loading the AWS SDK and
 * its first request without network, CPU work that ends on its own, is not counted: on a loaded host
 * it alone could fill the box) and never fails:
 * whatever is unknown falls back to the generic provider (cluster name from --cluster-name /
 * CLUSTER_NAME, kube-public/cluster-info, else "kubernetes"; region from node labels).
 */

import { parse as parseYaml } from "yaml";
import type { Logger } from "../../log/logger.ts";
import { errorMessage } from "../../util/errors.ts";
import type { KubeClient } from "../client/client.ts";
import { LABEL_REGION } from "../graph/convert.ts";
import { AwsImds, AzureImds, aksClusterFromResourceGroup, eksClusterFromTags, GceMetadata, instanceIdFromProviderID } from "./metadata.ts";

export type ProviderName = "eks" | "gke" | "aks" | "kind" | "generic";
export const PROVIDERS: ReadonlyArray<ProviderName> = ["eks", "gke", "aks", "kind", "generic"];

export interface ClusterInfo {
  provider: ProviderName;
  clusterName: string;
  region: string;
  /** How the name was found, for the log. */
  source: string;
}

export interface ProviderOptions {
  client: KubeClient;
  logger: Logger;
  /** --kubernetes-provider; "auto", empty or undefined = auto-detect. */
  provider?: string;
  nodeName?: string;
  /** --cluster-name / CLUSTER_NAME: overrides every provider's discovery. */
  clusterName?: string;
  eks?: { accountId?: string; region?: string; clusterName?: string; autodiscover?: boolean };
  /** Total time box for detection. */
  timeoutMs?: number;
  /** Per metadata request. */
  probeTimeoutMs?: number;
  /**
   * Base URL overrides (tests). awsImds is where identity and tags are read; the AWS SDK's
   * credential chain takes its IMDS endpoint from AWS_EC2_METADATA_SERVICE_ENDPOINT as usual.
   */
  endpoints?: { awsImds?: string; gceMetadata?: string; azureImds?: string; ec2?: string; sts?: string };
  env?: NodeJS.ProcessEnv;
}

interface NodeFacts {
  providerID: string;
  labels: Record<string, string>;
}

async function nodeFacts(o: ProviderOptions): Promise<NodeFacts | undefined> {
  type NodeJson = { spec?: { providerID?: string }; metadata?: { labels?: Record<string, string> } };
  try {
    let node: NodeJson | undefined;
    if (o.nodeName) node = await o.client.getJSON<NodeJson>(`/api/v1/nodes/${encodeURIComponent(o.nodeName)}`);
    else node = (await o.client.getJSON<{ items: NodeJson[] }>("/api/v1/nodes?limit=1")).items[0];
    if (!node) return undefined;
    return { providerID: node.spec?.providerID ?? "", labels: node.metadata?.labels ?? {} };
  } catch (err) {
    o.logger.debug({ err: errorMessage(err) }, "node lookup for provider detection failed");
    return undefined;
  }
}

export function providerFromNode(n: NodeFacts): ProviderName | undefined {
  const id = n.providerID;
  const has = (prefix: string) => Object.keys(n.labels).some((k) => k.startsWith(prefix));
  if (id.startsWith("kind://")) return "kind";
  if (id.startsWith("aws://")) return "eks";
  if (id.startsWith("gce://")) return "gke";
  if (id.startsWith("azure://")) return "aks";
  if (has("eks.amazonaws.com/")) return "eks";
  if (has("cloud.google.com/gke-")) return "gke";
  if (has("kubernetes.azure.com/")) return "aks";
  return undefined;
}

/** kube-public/cluster-info: the single cluster's name, or its server hostname (kind, kubeadm). */
export async function clusterInfoName(client: KubeClient): Promise<string | undefined> {
  const cm = await client.getJSON<{ data?: Record<string, string> }>("/api/v1/namespaces/kube-public/configmaps/cluster-info");
  const kc = cm.data?.kubeconfig;
  if (!kc) throw new Error("cluster-info has no kubeconfig");
  const doc = parseYaml(kc) as { clusters?: Array<{ name?: string; cluster?: { server?: string } }> };
  const clusters = doc.clusters ?? [];
  if (clusters.length === 0) throw new Error("no clusters found");
  if (clusters.length > 1) throw new Error("multiple clusters");
  const c = clusters[0]!;
  if (c.name) return c.name;
  const server = c.cluster?.server;
  return server ? new URL(server).hostname : undefined;
}

async function firstOf<T>(probes: Array<Promise<T>>): Promise<T | undefined> {
  return await new Promise((resolve) => {
    let pending = probes.length;
    if (pending === 0) resolve(undefined);
    for (const p of probes) {
      p.then(resolve, () => {
        if (--pending === 0) resolve(undefined);
      });
    }
  });
}

const cache = new Map<string, Promise<ClusterInfo>>();

/** Detection result, cached per (server, provider, node) for the life of the process. */
export function detectCluster(o: ProviderOptions): Promise<ClusterInfo> {
  const key = `${o.client.source}|${o.provider ?? ""}|${o.nodeName ?? ""}|${o.clusterName ?? ""}`;
  let p = cache.get(key);
  if (!p) {
    p = detectUncached(o);
    cache.set(key, p);
  }
  return p;
}

export async function detectUncached(o: ProviderOptions): Promise<ClusterInfo> {
  const env = o.env ?? process.env;
  const probeMs = o.probeTimeoutMs ?? 1000;
  const imds = new AwsImds(o.endpoints?.awsImds, probeMs);
  const gce = new GceMetadata(o.endpoints?.gceMetadata, probeMs);
  const azure = new AzureImds(o.endpoints?.azureImds, probeMs);
  const override = o.clusterName || env.CLUSTER_NAME || undefined;
  const explicit = o.provider && o.provider !== "auto" ? (o.provider as ProviderName) : undefined;
  if (explicit && !PROVIDERS.includes(explicit)) throw new Error(`unrecognized provider ${o.provider}`);

  let facts: NodeFacts | undefined;
  const partial: Partial<ClusterInfo> = {};
  const box = new TimeBox(o.timeoutMs ?? 5000);
  const work = (async (): Promise<ClusterInfo> => {
    facts = await nodeFacts(o);
    const nodeRegion = facts?.labels[LABEL_REGION] ?? "";
    let provider: ProviderName | undefined = explicit ?? (facts ? providerFromNode(facts) : undefined);
    if (!provider) {
      provider = await firstOf<ProviderName>([
        imds.get("/latest/meta-data/instance-id").then(() => "eks" as const),
        gce.get("instance/id").then(() => "gke" as const),
        azure.instance().then(() => "aks" as const),
      ]);
    }
    provider ??= "generic";
    partial.provider = provider;
    partial.region = nodeRegion;
    switch (provider) {
      case "eks": {
        const e = o.eks ?? {};
        const autodiscover = e.autodiscover ?? true;
        let region = e.region || nodeRegion;
        let ident: { region: string; accountId: string; instanceId: string } | undefined;
        if (!region && autodiscover) {
          ident = await imds.identity();
          region = ident.region;
        }
        partial.region = region;
        let name = e.clusterName || override || facts?.labels["alpha.eksctl.io/cluster-name"];
        let source = e.clusterName ? "flag" : override ? "override" : name ? "node label alpha.eksctl.io/cluster-name" : "";
        if (!name && autodiscover) {
          name = await firstOf([imds.instanceTag("aws:eks:cluster-name"), imds.instanceTag("eks:cluster-name")]).then(
            (v) => v || undefined,
          );
          if (name) source = "IMDS instance tags";
          else {
            // a pod behind an IMDS hop limit of 1 still knows its instance (providerID) and region (node label)
            const instanceId = instanceIdFromProviderID(facts?.providerID ?? "") ?? (ident ??= await imds.identity()).instanceId;
            if (!region) region = (ident ??= await imds.identity()).region;
            const { describeInstanceTags } = await box.excluding(async () => {
              const aws = await import("./aws.ts");
              await aws.warmUp().catch((err) => o.logger.debug({ err: errorMessage(err) }, "AWS SDK warm-up failed; the request loads it"));
              return aws;
            });
            const tags = await describeInstanceTags({
              region,
              instanceId,
              timeoutMs: probeMs * 3,
              endpoints: { ec2: o.endpoints?.ec2, sts: o.endpoints?.sts },
              signal: box.signal,
            });
            name = eksClusterFromTags(tags);
            if (name) source = "ec2:DescribeInstances tags";
          }
        }
        if (!name) throw new Error("EKS cluster name not found (set --kubernetes-provider-eks-cluster-name)");
        return { provider, clusterName: name, region, source };
      }
      case "gke": {
        const name = override ?? (await gce.get("instance/attributes/cluster-name"));
        let region = nodeRegion;
        if (!region) {
          const loc = await gce.get("instance/attributes/cluster-location").catch(() => "");
          region = /-[a-z]$/.test(loc) ? loc.slice(0, -2) : loc;
        }
        return { provider, clusterName: name, region, source: override ? "override" : "GCE metadata" };
      }
      case "aks": {
        let name = override;
        let region = nodeRegion;
        let source = "override";
        if (!name || !region) {
          const inst = await azure.instance();
          region ||= inst.location;
          if (!name) {
            name =
              inst.tags.find(([k]) => k === "aks-managed-cluster-name")?.[1] ??
              aksClusterFromResourceGroup(inst.resourceGroupName, inst.location);
            source = "Azure IMDS";
          }
        }
        if (!name) throw new Error("AKS cluster name not found");
        return { provider, clusterName: name, region, source };
      }
      case "kind": {
        const name = override ?? (await clusterInfoName(o.client));
        if (!name) throw new Error("kind: cluster-info has no name or server");
        return { provider, clusterName: name, region: nodeRegion, source: override ? "override" : "kube-public/cluster-info" };
      }
      default:
        return await generic(o, override, nodeRegion);
    }
  })();

  try {
    const r = await Promise.race([work, box.expired]);
    if (r !== "timeout") return r;
    o.logger.warn({ timeoutMs: box.ms, provider: partial.provider }, "cluster detection timed out; using the generic provider");
  } catch (err) {
    o.logger.warn({ err: errorMessage(err), provider: partial.provider }, "cluster detection failed; using the generic provider");
  } finally {
    box.clear();
  }
  const g = await Promise.race([generic(o, override, partial.region ?? ""), Bun.sleep(1000).then(() => undefined)]);
  if (g) return { ...g, provider: partial.provider ?? "generic" };
  return {
    provider: (partial.provider as ProviderName) ?? "generic",
    clusterName: override ?? "kubernetes",
    region: partial.region ?? "",
    source: "default",
  };
}

/**
 * A time box whose clock stops while `excluding` runs: waiting on endpoints is bounded, loading code
 * is not (it ends on its own, and a loaded host can take seconds for it).
 */
class TimeBox {
  readonly expired: Promise<"timeout">;
  private readonly abort = new AbortController();
  /** Aborted when the box expires: what was still waiting is cancelled, not left running. */
  readonly signal = this.abort.signal;
  private readonly fire: () => void;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private left: number;
  private since = 0;
  private paused = 0;

  constructor(readonly ms: number) {
    this.left = ms;
    let fire!: () => void;
    this.expired = new Promise(
      (r) =>
        (fire = () => {
          r("timeout");
          this.abort.abort(new Error(`time box of ${ms} ms expired`));
        }),
    );
    this.fire = fire;
    this.arm();
  }

  private arm(): void {
    this.since = performance.now();
    this.timer = setTimeout(this.fire, Math.max(0, this.left));
  }

  async excluding<T>(fn: () => Promise<T>): Promise<T> {
    if (this.paused++ === 0) {
      clearTimeout(this.timer);
      this.left -= performance.now() - this.since;
    }
    try {
      return await fn();
    } finally {
      if (--this.paused === 0 && this.timer !== undefined) this.arm();
    }
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

async function generic(o: ProviderOptions, override: string | undefined, region: string): Promise<ClusterInfo> {
  if (override) return { provider: "generic", clusterName: override, region, source: "override" };
  try {
    const name = await clusterInfoName(o.client);
    if (name) return { provider: "generic", clusterName: name, region, source: "kube-public/cluster-info" };
  } catch (err) {
    o.logger.debug({ err: errorMessage(err) }, "no readable kube-public/cluster-info (not kubeadm-based); cluster name defaults");
  }
  return { provider: "generic", clusterName: "kubernetes", region, source: "default" };
}
