// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A second agent process for the data-directory lock test: opens the store in argv[2], prints
// "opened" and exits 0, or prints the error and exits 1.

import { silentLogger } from "../../src/log/logger.ts";
import { openStore } from "../../src/store/index.ts";
import { errorMessage } from "../../src/util/errors.ts";

try {
  openStore({ dataDirectory: process.argv[2]!, logger: silentLogger }).close();
  console.log("opened");
} catch (e) {
  console.error(`${(e as Error).name}: ${errorMessage(e)}`);
  process.exit(1);
}
