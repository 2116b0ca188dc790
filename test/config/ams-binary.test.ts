// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled binary with --config-loader ams against the test config service: a pushed config
// object starts a collector at its interval, an unknown collector is NACKed, /config shows both.

import { afterAll, expect, test } from "bun:test";
import { type AgentProcess, startAgent } from "../helpers/agent-process.ts";
import { makePki } from "../intake/harness.ts";
import { ConfigServer } from "./config-server.ts";
import { waitUntil } from "./helpers.ts";

const pki = makePki();
let server: ConfigServer | undefined;
let agent: AgentProcess | undefined;
afterAll(async () => {
  await agent?.stop("SIGKILL");
  await server?.kill();
  pki.cleanup();
});

test("run --config-loader ams: objects from the config service drive the collectors", async () => {
  server = await ConfigServer.start({ pki, apiKey: "ams-key" });
  agent = await startAgent(
    [
      "--intake-address",
      "",
      "--enable-kubernetes-controller=false",
      "--enable-hardware-discovery=false",
      "--data-directory",
      "",
      "--enable-performance-collectors",
      "--collectors",
      "load",
      "--config-loader",
      "ams",
      "--config-ams-addr",
      server.address,
      "--config-ams-ca-file",
      pki.ca,
    ],
    { ANTIMETAL_CONFIG_AMS_API_KEY: "ams-key" },
  );
  await waitUntil("INITIAL", async () => (await server!.state()).initials.length === 1, 10_000);
  await server.push([
    { name: "mem", collector: "memory", interval_seconds: 1, version: "v1" },
    { name: "gpu", collector: "gpu", interval_seconds: 1, version: "v1" },
  ]);
  await waitUntil("answer", async () => (await server!.state()).answers.length === 1);
  const state = await server.state();
  expect(state.violations).toEqual([]);
  expect(state.answers[0]!.type).toBe("NACK");
  expect(state.answers[0]!.errors.map((e) => e.name)).toEqual(["gpu"]);
  await agent.waitForLog(
    (l) => l.msg === "collectors reconfigured" && Array.isArray(l.started) && (l.started as string[]).includes("memory"),
  );
  const view = (await (await fetch(`http://127.0.0.1:${agent.ports.probes}/config`)).json()) as Record<string, any>;
  expect(view.collectors.memory).toEqual({ interval: "1s", source: "config object mem (version v1) from ams" });
  expect(view.configObjects.loader).toBe("ams");
  expect(view.configObjects.objects.map((o: { name: string; status: string }) => `${o.name}:${o.status}`)).toEqual([
    "mem:ok",
    "gpu:invalid",
  ]);
  expect(view.options["config-ams-api-key"]).toEqual({ value: "[redacted]", source: "env ANTIMETAL_CONFIG_AMS_API_KEY" });
  expect(JSON.stringify(view)).not.toContain("ams-key");
  expect(await agent.stop("SIGTERM")).toBe(0);
}, 60_000);
