// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Child for crash.test.ts: writes batches to a file store forever, printing "committed <i>" after
// each commit, until the parent SIGKILLs it. Batch i (continuing from the state found on open):
//   - creates cluster pods b<i>-<j> (j < PER) and instance cores c<i>-<j>, 1 KiB each
//   - sets region=<i> on the shared pods shared-<j> and relationships b<i>-<j> -> shared-<j>
//   - deletes the pods and cores of batch i-KEEP (cascading their relationships)
// and every 3rd batch confirms up to 200 entries of the "instance" channel (by (key, seq) or by range).

import { silentLogger } from "../../src/log/logger.ts";
import { openStore } from "../../src/store/index.ts";
import { CORE, contains, kubeRef, POD, resource } from "./fixtures.ts";

export const PER = 40;
export const KEEP = 5;

const dir = process.argv[2]!;
const store = openStore({ dataDirectory: dir, logger: silentLogger });
let start = 0;
try {
  start = Number(store.getResource(kubeRef(POD, "shared-0")).metadata!.region) + 1;
} catch {
  start = 0;
}
for (let i = start; ; i++) {
  store.batch(() => {
    for (let j = 0; j < PER; j++) {
      store.addResource(resource(POD, `b${i}-${j}`, "", 1024));
      store.addResource(resource(CORE, `c${i}-${j}`, "", 1024));
      store.updateResource(resource(POD, `shared-${j}`, String(i), 1024));
      store.addRelationships(contains(kubeRef(POD, `b${i}-${j}`), kubeRef(POD, `shared-${j}`)));
      if (i >= KEEP) {
        store.deleteResource(kubeRef(POD, `b${i - KEEP}-${j}`));
        store.deleteResource(kubeRef(CORE, `c${i - KEEP}-${j}`));
      }
    }
  });
  if (i % 3 === 0) {
    // the first 200 pending entries: alternately confirmed by (key, seq) and as the range (0, last]
    // (the confirmed-up-to seq moves; done rows stay)
    const entries = store.outbox.read("instance", 0, 200);
    store.outbox.confirm("instance", entries, i % 2 === 0 ? 0 : undefined);
  }
  // synchronous write so the parent sees exactly what committed before the kill
  require("node:fs").writeSync(1, `committed ${i}\n`);
}
