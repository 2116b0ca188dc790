// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Dependency choices, measured: (1) the wire code's protobuf library, protobuf-es (generated
// schemas) against protobufjs (runtime .proto parsing, what @grpc/proto-loader uses): minified
// bundle size, import time, encode and decode of a resource.v1.Resource with a 1 KiB spec, bytes
// checked identical; (2) the Kubernetes client, @kubernetes/client-node for list/watch (KubeConfig,
// CoreV1Api, informer) against what the agent bundles (its own list/watch plus client-node's
// KubeConfig only): bundle size and import time. Prints one JSON object.
// Usage: bun bench/deps/run.ts [--iterations 5000] [--imports 11]

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import protobuf from "protobufjs";
import { TypeDescriptorSchema } from "../../src/proto/gen/resource/v1/object_pb.ts";
import { ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";

const root = join(import.meta.dir, "../..");
const arg = (name: string, def: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
const iterations = arg("--iterations", 5_000);
const importRuns = arg("--imports", 11);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const tmp = mkdtempSync(join(tmpdir(), "bench-deps-"));

/** Minified size of what an entry pulls in, bundled the way the agent is (ESM, target bun, splitting off). */
async function bundleBytes(name: string, source: string): Promise<number> {
  const entry = join(root, `.bench-deps-${name}-${process.pid}.ts`);
  writeFileSync(entry, source);
  try {
    const r = await Bun.build({ entrypoints: [entry], target: "bun", format: "esm", minify: true, outdir: join(tmp, name) });
    if (!r.success) throw new Error(`bundle ${name} failed: ${r.logs.join("; ")}`);
    return r.outputs.reduce((a, o) => a + o.size, 0);
  } finally {
    rmSync(entry, { force: true });
  }
}

/** Median wall time of a dynamic import in a fresh bun process (not compiled; relative between entries). */
async function importMs(specifier: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < importRuns; i++) {
    const code = `const t0 = performance.now(); await import(${JSON.stringify(specifier)}); console.log(performance.now() - t0);`;
    const out = await Bun.$`${process.execPath} -e ${code}`.cwd(root).quiet();
    samples.push(Number(out.stdout.toString().trim()));
  }
  return Number(median(samples).toFixed(1));
}

/**
 * µs per call of each function: warmed up, then rounds of `iterations` calls alternating between the
 * functions, median round per function (a shared machine's load hits both alike).
 */
function timeInterleaved(fns: Record<string, () => void>, rounds = 9): Record<string, number> {
  const names = Object.keys(fns);
  for (const n of names) for (let i = 0; i < 2000; i++) fns[n]!();
  const samples = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      const fn = fns[n]!;
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) fn();
      samples.get(n)!.push(((performance.now() - t0) * 1000) / iterations);
    }
  }
  return Object.fromEntries(names.map((n) => [n, Number(median(samples.get(n)!).toFixed(2))]));
}

// --- protobuf: the same message through both libraries
const spec = new Uint8Array(1024).map((_, i) => (i * 31) & 0xff);
const tags = Array.from({ length: 8 }, (_, i) => ({ key: `app.kubernetes.io/label-${i}`, value: `value-${i}` }));
const esMessage = create(ResourceSchema, {
  type: create(TypeDescriptorSchema, { kind: "resource.v1.Resource", type: "k8s.io.api.core.v1.Pod" }),
  metadata: {
    id: new Uint8Array(16).fill(7),
    providerId: "4f0c1c7e-1b1e-4a55-9d5b-0d6f0b1e2a3c",
    service: "kubernetes",
    name: "web-7d9c8b6f5-x2x7q",
    tags,
    region: "us-west-2",
    zone: "us-west-2a",
    createdAt: { seconds: 1764900000n, nanos: 0 },
    namespace: { namespace: { case: "kube", value: { cluster: "prod", namespace: "web" } } },
  },
  spec: { typeUrl: "k8s.io.api.core.v1.Pod", value: spec },
});
const esBytes = toBinary(ResourceSchema, esMessage);

/** protobufjs needs the .proto files parsed at runtime (what @grpc/proto-loader does at startup). */
function loadProtobufjsRoot(): protobuf.Root {
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) =>
    target.startsWith("google/protobuf/") || target.startsWith("/") ? target : join(root, "proto", target);
  r.loadSync(join(root, "proto/resource/v1/resource.proto"), { keepCase: false });
  return r;
}
const schemaLoads: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  loadProtobufjsRoot().lookupType("resource.v1.Resource");
  schemaLoads.push(performance.now() - t0);
}
const pbRoot = loadProtobufjsRoot();
const PbResource = pbRoot.lookupType("resource.v1.Resource");
const pbMessage = PbResource.decode(esBytes);
const pbBytes = PbResource.encode(pbMessage).finish();
const identical = Buffer.compare(Buffer.from(esBytes), Buffer.from(pbBytes)) === 0;
const speed = timeInterleaved({
  es_encode: () => toBinary(ResourceSchema, esMessage),
  pbjs_encode: () => PbResource.encode(pbMessage).finish(),
  es_decode: () => fromBinary(ResourceSchema, esBytes),
  pbjs_decode: () => PbResource.decode(pbBytes),
});

const protobufFigures = {
  message_bytes: esBytes.length,
  encodings_identical: identical,
  protobuf_es: {
    bundle_bytes: await bundleBytes(
      "es",
      `import { toBinary, fromBinary } from "@bufbuild/protobuf";\nimport { ResourceSchema } from "./src/proto/gen/resource/v1/resource_pb.ts";\nconsole.log(toBinary, fromBinary, ResourceSchema);\n`,
    ),
    import_ms: await importMs("@bufbuild/protobuf"),
    encode_us: speed.es_encode!,
    decode_us: speed.es_decode!,
  },
  protobufjs: {
    bundle_bytes: await bundleBytes("pbjs", `import protobuf from "protobufjs";\nconsole.log(protobuf.Root);\n`),
    import_ms: await importMs("protobufjs"),
    schema_parse_ms_first: Number(schemaLoads[0]!.toFixed(1)),
    schema_parse_ms_median: Number(median(schemaLoads).toFixed(1)),
    encode_us: speed.pbjs_encode!,
    decode_us: speed.pbjs_decode!,
  },
};

// --- Kubernetes client: client-node as a list/watch client vs what the agent bundles
const kubeFigures = {
  client_node_list_watch: {
    bundle_bytes: await bundleBytes(
      "cn-full",
      `import { KubeConfig, CoreV1Api, makeInformer, Watch } from "@kubernetes/client-node";\nconsole.log(KubeConfig, CoreV1Api, makeInformer, Watch);\n`,
    ),
    import_ms: await importMs("@kubernetes/client-node"),
  },
  agent_kube_client: {
    bundle_bytes: await bundleBytes(
      "agent-kube",
      `import { KubeClient } from "./src/kube/client/client.ts";\nimport { loadKubeconfig } from "./src/kube/client/config.ts";\nimport { Reflector } from "./src/kube/reflector.ts";\nconsole.log(KubeClient, loadKubeconfig, Reflector);\n`,
    ),
    import_ms: await importMs("./src/kube/client/client.ts"),
  },
  client_node_kubeconfig_only: {
    bundle_bytes: await bundleBytes(
      "cn-config",
      `import { KubeConfig } from "@kubernetes/client-node/dist/config.js";\nconsole.log(KubeConfig);\n`,
    ),
    import_ms: await importMs("@kubernetes/client-node/dist/config.js"),
  },
};

rmSync(tmp, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      iterations,
      protobuf: protobufFigures,
      ratios: {
        protobufjs_vs_es_bundle: Number((protobufFigures.protobufjs.bundle_bytes / protobufFigures.protobuf_es.bundle_bytes).toFixed(2)),
        protobufjs_vs_es_encode: Number((protobufFigures.protobufjs.encode_us / protobufFigures.protobuf_es.encode_us).toFixed(2)),
        protobufjs_vs_es_decode: Number((protobufFigures.protobufjs.decode_us / protobufFigures.protobuf_es.decode_us).toFixed(2)),
        client_node_list_watch_vs_agent_bundle: Number(
          (kubeFigures.client_node_list_watch.bundle_bytes / kubeFigures.agent_kube_client.bundle_bytes).toFixed(2),
        ),
      },
      kubernetes_client: kubeFigures,
    },
    null,
    2,
  ),
);
