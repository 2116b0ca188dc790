// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * EKS credential sources of the AWS SDK's default chain, each against its own local fake endpoint,
 * with IMDS black-holed as for a pod behind an IMDSv2 hop limit of 1: environment keys, a
 * shared-credentials profile, IRSA (STS AssumeRoleWithWebIdentity), EKS Pod Identity (container
 * credentials endpoint with its token file). The IMDSv2 instance role is in providers.test.ts.
 * Each asserts the access key and session token the EC2 DescribeInstances request was signed with.
 */

import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { detectUncached, type ProviderOptions } from "../../src/kube/providers/index.ts";
import { blackhole, ec2, fake, inAnHour, opts, sigv4, stopFakeServers, stubClient, withAwsEnv } from "./cloud-fakes.ts";

const awsDir = fs.mkdtempSync(path.join(os.tmpdir(), "eks-creds-"));
afterAll(() => {
  stopFakeServers();
  fs.rmSync(awsDir, { recursive: true, force: true });
});

describe("EKS credential sources (AWS SDK default chain), IMDS out of reach as behind a hop limit of 1", () => {
  // the pod knows its instance from the node's providerID and its region from the node label
  const node = { providerID: "aws:///us-west-2a/i-0abc", labels: { "topology.kubernetes.io/region": "us-west-2" } };
  const tags: Array<[string, string]> = [["aws:eks:cluster-name", "pod-eks"]];
  const detect = (api: { url: string }, extra: Partial<ProviderOptions> = {}) =>
    detectUncached(
      opts({ client: stubClient(node), endpoints: { awsImds: blackhole(), ec2: api.url, ...extra.endpoints }, timeoutMs: 4000 }),
    );

  test("environment keys", async () => {
    const api = ec2(tags);
    const info = await withAwsEnv(
      {
        AWS_ACCESS_KEY_ID: "AKIDENV",
        AWS_SECRET_ACCESS_KEY: "s",
        AWS_SESSION_TOKEN: "env-token",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: blackhole(),
      },
      () => detect(api),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "pod-eks", region: "us-west-2", source: "ec2:DescribeInstances tags" });
    expect(sigv4(api.hits[0]!)).toEqual({
      accessKeyId: "AKIDENV",
      scope: "us-west-2/ec2/aws4_request",
      signsToken: true,
      securityToken: "env-token",
    });
  });

  test("shared credentials file profile (AWS_PROFILE)", async () => {
    const file = path.join(awsDir, "credentials");
    fs.writeFileSync(
      file,
      "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s\n\n[agent]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\naws_session_token = profile-token\n",
    );
    const api = ec2(tags);
    const info = await withAwsEnv(
      { AWS_PROFILE: "agent", AWS_SHARED_CREDENTIALS_FILE: file, AWS_EC2_METADATA_SERVICE_ENDPOINT: blackhole() },
      () => detect(api),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "pod-eks", source: "ec2:DescribeInstances tags" });
    expect(sigv4(api.hits[0]!)).toEqual({
      accessKeyId: "AKIDPROFILE",
      scope: "us-west-2/ec2/aws4_request",
      signsToken: true,
      securityToken: "profile-token",
    });
  });

  test("IRSA: the web identity token file is exchanged at STS (AssumeRoleWithWebIdentity)", async () => {
    const tokenFile = path.join(awsDir, "irsa-token");
    fs.writeFileSync(tokenFile, "projected-sa-jwt");
    const sts = fake((_req, hit) => {
      const form = new URLSearchParams(hit.body);
      if (
        form.get("Action") !== "AssumeRoleWithWebIdentity" ||
        form.get("WebIdentityToken") !== "projected-sa-jwt" ||
        form.get("RoleArn") !== "arn:aws:iam::123456789012:role/agent"
      ) {
        return new Response("<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>bad</Message></Error></ErrorResponse>", {
          status: 400,
        });
      }
      return new Response(
        `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>AKIDIRSA</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>irsa-token</SessionToken><Expiration>${inAnHour()}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/agent/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
        { headers: { "content-type": "text/xml" } },
      );
    });
    const api = ec2(tags);
    const info = await withAwsEnv(
      {
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/agent",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: blackhole(),
      },
      () => detect(api, { endpoints: { sts: sts.url } }),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "pod-eks", source: "ec2:DescribeInstances tags" });
    expect(sts.hits).toHaveLength(1);
    expect(sigv4(api.hits[0]!)).toEqual({
      accessKeyId: "AKIDIRSA",
      scope: "us-west-2/ec2/aws4_request",
      signsToken: true,
      securityToken: "irsa-token",
    });
  });

  test("EKS Pod Identity: the agent endpoint with the token file as Authorization", async () => {
    const tokenFile = path.join(awsDir, "pod-identity-token");
    fs.writeFileSync(tokenFile, "eks-pod-identity-jwt");
    const agent = fake((req) => {
      if (req.headers.get("authorization") !== "eks-pod-identity-jwt") return new Response("", { status: 403 });
      return Response.json({
        AccessKeyId: "AKIDPOD",
        SecretAccessKey: "s",
        Token: "pod-token",
        AccountId: "123456789012",
        Expiration: inAnHour(),
      });
    });
    const api = ec2(tags);
    const info = await withAwsEnv(
      {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${agent.url}/v1/credentials`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: blackhole(),
      },
      () => detect(api),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "pod-eks", source: "ec2:DescribeInstances tags" });
    expect(agent.hits.map((h) => h.path)).toEqual(["/v1/credentials"]);
    expect(sigv4(api.hits[0]!)).toEqual({
      accessKeyId: "AKIDPOD",
      scope: "us-west-2/ec2/aws4_request",
      signsToken: true,
      securityToken: "pod-token",
    });
  });

  test("no source answers: detection stays within its time box and falls back to generic naming", async () => {
    const api = ec2(tags);
    // Loading the AWS SDK is outside the time box (CPU work that ends on its own): load it first.
    await import("../../src/kube/providers/aws.ts");
    const t0 = performance.now();
    const info = await withAwsEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: blackhole() }, () =>
      detectUncached(
        opts({ client: stubClient(node), endpoints: { awsImds: blackhole(), ec2: api.url }, timeoutMs: 1500, probeTimeoutMs: 300 }),
      ),
    );
    expect(performance.now() - t0).toBeLessThan(3500);
    expect(info).toMatchObject({ provider: "eks", clusterName: "kubernetes", region: "us-west-2" });
    expect(api.hits).toHaveLength(0);
  });
});
