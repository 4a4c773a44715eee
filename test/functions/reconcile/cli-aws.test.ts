// `payments-dr reconcile`'s AWS paths, mocked at the SDK (aws-sdk-client-mock) over two real
// PostgreSQL servers: the ledger row holding the fork, the point-of-failure snapshot in the old
// region, the live endpoints of both regions, and the report (writer's bucket, the finance files,
// the asynchronous invoke). Every call's exact parameters and region are asserted, and so are the
// failures an operator meets at 3 a.m.: no credentials, a region that does not answer, the
// snapshot missing or not yet preserved.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import {
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
} from "@aws-sdk/client-lambda";
import { DescribeDBClusterSnapshotsCommand, RDSClient } from "@aws-sdk/client-rds";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { awsError, byRegion, callsOf, mocks, resetMocks, run, terminal } from "../../cli/support";
import type { Side } from "./support/fork";
import { dropFork, forkWithOneLost, NEW_REGION, OLD_REGION } from "./support/fork";

const T = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
const at = (s: number) => new Date(T.getTime() + s * 1000);
const RUN = "failover-2026-03-10T02-58-00Z";
const OLD_CLUSTER = "payments-db-use1-prod";
const SYSTEM_SNAPSHOT = `rds:unplanned-global-failover-${OLD_CLUSTER}-2026-03-10-02-58`;
const KEPT_COPY = "payments-lost-prod-8f14e45f-ceea-467f-a0e6-6b6c3d7f2d1a";
const BUCKET = "payments-prod-dr-reports-usw2-20260101";
const WRITER = "payments-report-writer-prod";
// The CLI's run id and report keys derive from the fake terminal's clock (test/cli/support, T0).
const REPORT_BASE = "reports/reconcile/2026-03/reconcile-2026-03-10T03-04-05-000Z";

const rds = mockClient(RDSClient);
const lambda = mockClient(LambdaClient);
const s3 = mockClient(S3Client);
const eventBridge = mockClient(EventBridgeClient);

let old: Side;
let fresh: Side;
let dir: string;
let lostId: string;
let outs = 0;

beforeAll(async () => {
  ({ old, fresh, lostId } = await forkWithOneLost(at));
  await old.setHeartbeat(at(15));
  dir = mkdtempSync(join(tmpdir(), "reconcile-aws-"));
}, 60_000);

afterAll(async () => {
  await dropFork(old, fresh);
  rmSync(dir, { recursive: true, force: true });
});

const FORK = () => ({
  oldRegion: OLD_REGION,
  oldCluster: OLD_CLUSTER,
  lastReplicatedAt: at(10).toISOString(),
  failoverAt: at(30).toISOString(),
  snapshotPrefix: `rds:unplanned-global-failover-${OLD_CLUSTER}-`,
});

/** A deployment that answers: the ledger row, both snapshots (on two pages), other endpoints. */
function healthy() {
  resetMocks();
  for (const m of [rds, lambda, s3, eventBridge]) m.reset();
  mocks.dynamo
    .on(GetCommand)
    .resolves({ Item: { id: `failover/${NEW_REGION}/${RUN}`, fork: FORK() } });
  rds
    .on(DescribeDBClusterSnapshotsCommand)
    .resolvesOnce({
      DBClusterSnapshots: [
        // The daily automated snapshot is not the point of failure.
        {
          DBClusterSnapshotIdentifier: `rds:${OLD_CLUSTER}-2026-03-09-05-00`,
          SnapshotCreateTime: at(-86_400),
        },
        {
          DBClusterSnapshotIdentifier: SYSTEM_SNAPSHOT,
          SnapshotCreateTime: at(90),
        },
      ],
      Marker: "page-2",
    })
    .resolves({
      DBClusterSnapshots: [
        {
          DBClusterSnapshotIdentifier: KEPT_COPY,
          SnapshotCreateTime: at(300),
        },
      ],
    });
  mocks.ssm.on(GetParameterCommand).callsFake(
    byRegion((region, input: { Name: string }) => ({
      Parameter: {
        Name: input.Name,
        Value: `${input.Name.split("/").pop()}.${region}.rds.example`,
      },
    })),
  );
  lambda.on(GetFunctionConfigurationCommand).resolves({
    FunctionName: WRITER,
    Environment: { Variables: { REPORT_BUCKET: BUCKET } },
  });
  s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
  // An asynchronous invoke is queued with 202 (Lambda API reference, Invoke).
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
}

function args(...extra: string[]) {
  const out = join(dir, `out-${++outs}`);
  return {
    out,
    argv: [
      "reconcile",
      "--old-url",
      old.url,
      "--new-url",
      fresh.url,
      "--run",
      RUN,
      "--region",
      NEW_REGION,
      "--out",
      out,
      "--json",
      ...extra,
    ],
  };
}

const ENDPOINTS = ["db/writer-endpoint", "db/reader-endpoint", "db/cluster-endpoint"];
const ssmCalls = (regions: string[]) =>
  regions.flatMap((region) =>
    ENDPOINTS.map((k) => ({
      command: "GetParameterCommand",
      region,
      input: { Name: `/payments/prod/${k}` },
    })),
  );

describe("payments-dr reconcile against AWS (mocked SDK)", () => {
  it("reads the fork, finds the preserved snapshot, checks the live endpoints and stores the report with exact calls", async () => {
    healthy();
    const { out, argv } = args();
    const result = await run(argv, terminal());
    expect(result.err).toBe("");
    expect(result.code).toBe(0);

    // The ledger row of the run, in the new primary's region.
    expect(await callsOf(mocks.dynamo)).toEqual([
      {
        command: "GetCommand",
        region: NEW_REGION,
        input: {
          TableName: "payments-dr-ledger-prod",
          Key: { id: `failover/${NEW_REGION}/${RUN}` },
        },
      },
    ]);
    // The old cluster's snapshots in the old region, every page.
    expect(await callsOf(rds)).toEqual([
      {
        command: "DescribeDBClusterSnapshotsCommand",
        region: OLD_REGION,
        input: { DBClusterIdentifier: OLD_CLUSTER },
      },
      {
        command: "DescribeDBClusterSnapshotsCommand",
        region: OLD_REGION,
        input: { DBClusterIdentifier: OLD_CLUSTER, Marker: "page-2" },
      },
    ]);
    // The three endpoints of both regions, never db/password.
    expect(await callsOf(mocks.ssm)).toEqual(ssmCalls([OLD_REGION, NEW_REGION]));

    // The report: the writer's bucket, the finance files beside the run reports, then the
    // asynchronous invoke of the writer, all in the new primary's region.
    const lambdaCalls = await callsOf(lambda);
    expect(lambdaCalls.map((c) => [c.command, c.region])).toEqual([
      ["GetFunctionConfigurationCommand", NEW_REGION],
      ["InvokeCommand", NEW_REGION],
    ]);
    expect(lambdaCalls[0]!.input).toEqual({ FunctionName: WRITER });
    const invoke = lambdaCalls[1]!.input as {
      FunctionName: string;
      InvocationType: string;
      Payload: Uint8Array;
    };
    expect({ ...invoke, Payload: undefined }).toEqual({
      FunctionName: WRITER,
      InvocationType: "Event",
      Payload: undefined,
    });
    const payload = JSON.parse(new TextDecoder().decode(invoke.Payload));
    expect(payload).toMatchObject({
      action: "write",
      report: {
        kind: "reconcile",
        region: NEW_REGION,
        config: { oldCluster: OLD_CLUSTER, failoverRunId: RUN, snapshot: KEPT_COPY },
      },
    });
    const puts = await callsOf(s3);
    expect(puts.map((c) => ({ ...c, input: { ...c.input, Body: typeof c.input.Body } }))).toEqual([
      {
        command: "PutObjectCommand",
        region: NEW_REGION,
        input: {
          Bucket: BUCKET,
          Key: `${REPORT_BASE}.lost.csv`,
          Body: "string",
          ContentType: "text/csv; charset=utf-8",
        },
      },
      {
        command: "PutObjectCommand",
        region: NEW_REGION,
        input: {
          Bucket: BUCKET,
          Key: `${REPORT_BASE}.lost.json`,
          Body: "string",
          ContentType: "application/json",
        },
      },
    ]);
    // What was stored is what finance gets locally.
    expect(puts[0]!.input.Body).toBe(readFileSync(join(out, "lost.csv"), "utf8"));
    expect(String(puts[0]!.input.Body)).toContain(`${lostId},merchant-1,4200,42.00,USD,authorized`);
    expect(JSON.parse(result.out)).toMatchObject({
      summary: { lost: 1 },
      snapshot: { status: "preserved", snapshot: KEPT_COPY },
      report: `s3://${BUCKET}/${REPORT_BASE}.html`,
    });
    // A dry run publishes nothing.
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it("warns when only AWS's system snapshot exists: it expires with the old cluster's retention", async () => {
    healthy();
    rds.reset();
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({
      DBClusterSnapshots: [
        {
          DBClusterSnapshotIdentifier: SYSTEM_SNAPSHOT,
          SnapshotCreateTime: at(90),
        },
      ],
    });
    const { argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(0);
    expect(result.err).toContain(
      `warning: the point-of-failure snapshot ${SYSTEM_SNAPSHOT} is not preserved`,
    );
    expect(result.err).toContain("run the reconcile runbook");
    expect(JSON.parse(result.out).snapshot).toEqual({
      status: "unpreserved",
      snapshot: SYSTEM_SNAPSHOT,
    });
  });

  it("fails when the point-of-failure snapshot is missing, after writing the report of the copy it read", async () => {
    healthy();
    rds.reset();
    // Only daily automated snapshots: AWS's attempt did not succeed, or retention removed it.
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({
      DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: `rds:${OLD_CLUSTER}-2026-03-09-05-00` }],
    });
    const { out, argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      new RegExp(
        `point-of-failure snapshot of ${OLD_CLUSTER} in ${OLD_REGION} is missing .*unknown losses`,
      ),
    );
    expect(JSON.parse(result.out).snapshot).toEqual({ status: "missing" });
    expect(existsSync(join(out, "lost.csv"))).toBe(true);
    const payload = JSON.parse(
      new TextDecoder().decode(
        lambda.commandCalls(InvokeCommand)[0]!.args[0].input.Payload as Uint8Array,
      ),
    );
    expect(payload.report.config.snapshot).toBeNull();
  });

  it("finds a point-of-failure snapshot dated before the failover, within the fork's window", async () => {
    // AWS does not document which moment SnapshotCreateTime carries for it: one dated at the
    // point of failure (after the last replicated commit, before the failover was requested)
    // is this incident's.
    healthy();
    rds.reset();
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({
      DBClusterSnapshots: [
        { DBClusterSnapshotIdentifier: SYSTEM_SNAPSHOT, SnapshotCreateTime: at(20) },
      ],
    });
    const { argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out).snapshot).toEqual({
      status: "unpreserved",
      snapshot: SYSTEM_SNAPSHOT,
    });
  });

  it("does not count an earlier incident's snapshot or copy of the same cluster", async () => {
    healthy();
    rds.reset();
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({
      DBClusterSnapshots: [
        {
          DBClusterSnapshotIdentifier: `rds:unplanned-global-failover-${OLD_CLUSTER}-2026-01-02-03-04`,
          SnapshotCreateTime: at(-30 * 86_400),
        },
        {
          DBClusterSnapshotIdentifier: "payments-lost-prod-0f0f",
          SnapshotCreateTime: at(-29 * 86_400),
        },
      ],
    });
    const { argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out).snapshot).toEqual({ status: "missing" });
  });

  it("fails without credentials at the first call, naming the fix, and touches nothing else", async () => {
    healthy();
    mocks.dynamo.reset();
    mocks.dynamo
      .on(GetCommand)
      .rejects(
        awsError("CredentialsProviderError", "Could not load credentials from any providers"),
      );
    const { out, argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      `no AWS credentials found to read the ledger row failover/${NEW_REGION}/${RUN} of payments-dr-ledger-prod in ${NEW_REGION}`,
    );
    expect(result.err).toMatch(/fix: pass --profile <name>.*aws sso login/);
    expect(rds.calls()).toHaveLength(0);
    expect(mocks.ssm.calls()).toHaveLength(0);
    expect(lambda.calls()).toHaveLength(0);
    expect(existsSync(out)).toBe(false);
  });

  it("fails without credentials for the live endpoints instead of comparing the copy with nothing", async () => {
    healthy();
    mocks.ssm.reset();
    mocks.ssm
      .on(GetParameterCommand)
      .rejects(
        awsError("CredentialsProviderError", "Could not load credentials from any providers"),
      );
    const { out, argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      `no AWS credentials found to read the live endpoint /payments/prod/db/writer-endpoint in ${OLD_REGION}`,
    );
    expect(existsSync(out)).toBe(false);
    expect(lambda.calls()).toHaveLength(0);
  });

  it("goes on without the old region when it does not answer, and says what it could not check", async () => {
    healthy();
    rds.reset();
    rds.on(DescribeDBClusterSnapshotsCommand).rejects(awsError("TimeoutError", "socket timed out"));
    mocks.ssm.reset();
    mocks.ssm.on(GetParameterCommand).callsFake(
      byRegion((region, input: { Name: string }) => {
        if (region === OLD_REGION) throw awsError("TimeoutError", "socket timed out");
        return { Parameter: { Name: input.Name, Value: `other.${region}.rds.example` } };
      }),
    );
    const { argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(0);
    expect(result.err).toContain(
      `warning: the point-of-failure snapshot of ${OLD_CLUSTER} in ${OLD_REGION} was not checked: ${OLD_REGION} did not answer (TimeoutError)`,
    );
    expect(result.err).toContain(
      `warning: ${OLD_REGION} did not answer for /payments/prod/db/writer-endpoint`,
    );
    // One unanswered call per region, not three: a dead region costs its timeout once.
    expect(await callsOf(mocks.ssm)).toEqual([
      {
        command: "GetParameterCommand",
        region: OLD_REGION,
        input: { Name: "/payments/prod/db/writer-endpoint" },
      },
      ...ssmCalls([NEW_REGION]),
    ]);
    expect(JSON.parse(result.out)).toMatchObject({
      summary: { lost: 1 },
      snapshot: { status: "unchecked" },
    });
  });

  it("reports without the snapshot check for a role not allowed it, and says which call was refused", async () => {
    healthy();
    rds.reset();
    rds
      .on(DescribeDBClusterSnapshotsCommand)
      .rejects(
        awsError(
          "AccessDenied",
          "User is not authorized to perform rds:DescribeDBClusterSnapshots",
          { $metadata: { httpStatusCode: 403 } },
        ),
      );
    const { argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(0);
    expect(result.err).toContain(
      `was not checked: not allowed to call rds:DescribeDBClusterSnapshots (AccessDenied): use the on-call operator role`,
    );
    expect(JSON.parse(result.out)).toMatchObject({
      summary: { lost: 1 },
      snapshot: { status: "unchecked" },
    });
  });

  it("fails to store the report under a role that may not write it, and names the reconciler role", async () => {
    healthy();
    s3.reset();
    s3.on(PutObjectCommand).rejects(
      awsError(
        "AccessDenied",
        "User: arn:aws:sts::123456789012:assumed-role/payments-dr-operator-prod/oncall is not authorized to perform: s3:PutObject",
        { $metadata: { httpStatusCode: 403 } },
      ),
    );
    const { argv, out } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      `; it is in ${out}; run reconcile as the reconciler role payments-dr-reconciler-prod, which may store it`,
    );
    expect(existsSync(join(out, "lost.csv"))).toBe(true);
  });

  it("fails when the new primary's region does not answer for the ledger row", async () => {
    healthy();
    mocks.dynamo.reset();
    mocks.dynamo.on(GetCommand).rejects(
      awsError("ServiceUnavailable", "Service Unavailable", {
        $metadata: { httpStatusCode: 503 },
      }),
    );
    const { out, argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      `${NEW_REGION} did not answer while trying to read the ledger row`,
    );
    expect(existsSync(out)).toBe(false);
  });

  it("refuses a copy whose host is a live endpoint the deployment's parameters name", async () => {
    healthy();
    mocks.ssm.reset();
    const host = new URL(old.url).hostname;
    mocks.ssm.on(GetParameterCommand).callsFake(
      byRegion((region, input: { Name: string }) => ({
        Parameter: {
          Name: input.Name,
          Value:
            region === NEW_REGION && input.Name.endsWith("writer-endpoint")
              ? host
              : "other.example",
        },
      })),
    );
    const { out, argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      `LiveClusterError: the old copy's host ${host} is a live cluster endpoint`,
    );
    expect(existsSync(join(out, "lost.csv"))).toBe(false);
    expect(s3.calls()).toHaveLength(0);
  });

  it("fails when the ledger has no such run, and names the --fork way out", async () => {
    healthy();
    mocks.dynamo.reset();
    mocks.dynamo.on(GetCommand).resolves({});
    const { argv } = args();
    const result = await run(argv, terminal());
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      `the ledger has no fork for failover run ${RUN} in ${NEW_REGION} (no such run)`,
    );
    expect(result.err).toContain("--fork fork.json");
    expect(rds.calls()).toHaveLength(0);
  });
});
