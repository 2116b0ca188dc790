// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * An EC2 instance's tags through the AWS SDK for JavaScript v3: its default credential chain
 * (environment keys, profile, IRSA web identity token file via STS, EKS Pod Identity / container
 * credentials endpoint, then IMDSv2 instance role, which pods behind a hop limit of 1 cannot reach)
 * and its EC2 client (SigV4, retries off: discovery is time-boxed by the caller). Imported
 * dynamically by the EKS provider only when it needs ec2:DescribeInstances.
 */

import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { errorMessage } from "../../util/errors.ts";

export interface InstanceTagsRequest {
  region: string;
  instanceId: string;
  /** Bounds each HTTP request of the credential chain and of the EC2 call. */
  timeoutMs: number;
  /** Endpoint overrides (tests, private endpoints): EC2 and STS (web identity). */
  endpoints?: { ec2?: string; sts?: string };
  /**
   * Aborts the call, credential resolution included (the caller's time box). Not a timer of its own:
   * the SDK loads its credential providers on first use, CPU time a fixed budget here would count.
   */
  signal?: AbortSignal;
}

/**
 * Runs one DescribeInstances through the SDK with static keys and an in-memory answer, no network:
 * the SDK loads much of itself on its first request (serializer, signer, XML parser), seconds of CPU
 * on a loaded host, so the caller can do this outside its time box and bound only the real call.
 */
export async function warmUp(): Promise<void> {
  const answer = new TextEncoder().encode("<DescribeInstancesResponse><reservationSet/></DescribeInstancesResponse>");
  const client = new EC2Client({
    region: "us-east-1",
    credentials: { accessKeyId: "warm-up", secretAccessKey: "warm-up" },
    maxAttempts: 1,
    endpoint: "http://127.0.0.1",
    requestHandler: {
      handle: async () => ({ response: { statusCode: 200, headers: { "content-type": "text/xml" }, body: answer } }),
      updateHttpClientConfig: () => undefined,
      httpHandlerConfigs: () => ({}),
    },
  });
  try {
    await client.send(new DescribeInstancesCommand({ InstanceIds: ["i-0"] }));
  } finally {
    client.destroy();
  }
}

/** ec2:DescribeInstances for one instance; its tags in document order. */
export async function describeInstanceTags(req: InstanceTagsRequest): Promise<Array<[string, string]>> {
  const sts = req.endpoints?.sts;
  const credentials = defaultProvider({
    timeout: req.timeoutMs,
    maxRetries: 0,
    clientConfig: { region: req.region, ...(sts ? { endpoint: sts } : {}) },
  });
  const client = new EC2Client({
    region: req.region,
    credentials,
    maxAttempts: 1,
    ...(req.endpoints?.ec2 ? { endpoint: req.endpoints.ec2 } : {}),
    requestHandler: { connectionTimeout: req.timeoutMs, requestTimeout: req.timeoutMs },
  });
  try {
    const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [req.instanceId] }), {
      abortSignal: req.signal,
    });
    const tags = out.Reservations?.[0]?.Instances?.[0]?.Tags ?? [];
    return tags.map((t): [string, string] => [t.Key ?? "", t.Value ?? ""]);
  } catch (e) {
    throw new Error(`ec2:DescribeInstances ${req.instanceId} in ${req.region}: ${errorMessage(e)}`);
  } finally {
    client.destroy();
  }
}
