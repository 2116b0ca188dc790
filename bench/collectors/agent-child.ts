// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Child process of cpu-5min.ts: the host collectors as `run` schedules them, exported on /metrics. */

import { silentLogger } from "../../src/log/logger.ts";
import { registry } from "../../src/metrics/registry.ts";
import { defaultRegistry } from "../../src/perf/collect-command.ts";
import { DEFAULT_HOST_PATHS } from "../../src/perf/collector.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { MetricsRouter } from "../../src/perf/router.ts";
import { CollectorScheduler } from "../../src/perf/scheduler.ts";

const intervalMs = Number(process.env.INTERVAL_MS ?? 10_000);
const smaps = process.env.SMAPS_MAX_AGE_MS;
// This development sandbox mounts its tooling under /mnt/sandboxing: keep statfs away from it.
const exclude = /^\/(dev|proc|sys|mnt\/sandboxing|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;
const reg = await defaultRegistry(DEFAULT_HOST_PATHS, {
  filesystemMountExclude: exclude,
  ...(smaps !== undefined ? { processSmapsMaxAgeMs: Number(smaps) } : {}),
});
const router = new MetricsRouter();
const expo = await PrometheusExposition.create(DEFAULT_HOST_PATHS);
router.subscribe(expo);
const s = new CollectorScheduler({ registry: reg, router, logger: silentLogger, nodeName: "bench", intervalMs });
await s.start();
// one scrape per interval, as a Prometheus server would do
setInterval(() => void Promise.all([registry.metrics(), expo.render()]), intervalMs);
process.stdout.write("ready\n");
