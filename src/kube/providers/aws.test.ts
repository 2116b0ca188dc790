// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// warmUp(): one DescribeInstances through the whole SDK (serialize, sign, parse) with no network.

import { expect, test } from "bun:test";
import { warmUp } from "./aws.ts";

test("warmUp runs a request through the SDK (serialize, sign, parse) and resolves", async () => {
  await expect(warmUp()).resolves.toBeUndefined();
});
