// `payments-dr readiness`: both regions' evaluations with each check's fix, --now to evaluate on
// demand, --json, exit 1 on fail, and a clear word when a region does not answer. The SDK is
// mocked per region (aws-sdk-client-mock); every call is asserted with its exact input.
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { InvokeCommand } from "@aws-sdk/client-lambda";
import type { ReadinessRecord } from "../../functions/common/contract";
import {
  awsError,
  byRegion,
  callsOf,
  EAST,
  mocks,
  resetMocks,
  run,
  T0,
  terminal,
  WEST,
} from "./support";

const minutesBefore = (m: number) => new Date(T0.getTime() - m * 60_000).toISOString();

function record(region: string, overall: string, at = minutesBefore(12)): ReadinessRecord {
  return {
    region,
    at,
    overall,
    activeRegion: EAST,
    checks: [
      { id: "kms-keys", status: "ok", reason: "4 keys enabled", fix: "" },
      overall === "fail"
        ? {
            id: "backup-copies",
            status: "fail",
            reason: "no completed copy in us-west-2 newer than 36 h for payments-db-use1-prod",
            fix: "look at the copy jobs of the backup plan in us-east-1 (AWS Backup console, Jobs)",
          }
        : { id: "backup-copies", status: "ok", reason: "3 resources copied", fix: "" },
    ],
  };
}

/** The control table of each region: a global table, so each holds both regions' items. */
function storedEvaluations(
  items: Record<string, ReadinessRecord | undefined>,
  down: string[] = [],
) {
  mocks.dynamo.on(GetCommand).callsFake(
    byRegion((region, input: { Key: { pk: string } }) => {
      if (down.includes(region)) throw awsError("TimeoutError", "connect ETIMEDOUT");
      const of = input.Key.pk.replace("readiness#", "");
      const evaluation = items[of];
      return evaluation ? { Item: { pk: input.Key.pk, evaluation } } : {};
    }),
  );
}

beforeEach(() => resetMocks());

describe("payments-dr readiness", () => {
  it("shows both regions' last evaluations, each check, and exits 0 when none fails", async () => {
    storedEvaluations({ [EAST]: record(EAST, "ok"), [WEST]: record(WEST, "ok") });
    const io = terminal();
    const { code, out } = await run(["readiness"], io);
    expect(code).toBe(0);
    expect(out).toContain(
      `${EAST}: OK (last scheduled evaluation, ${minutesBefore(12)}, 12 min ago; writer in ${EAST})`,
    );
    expect(out).toContain(`${WEST}: OK`);
    expect(out).toContain("ok      kms-keys: 4 keys enabled");
    // Exactly one read per region, of its own item, in its own region.
    expect(await callsOf(mocks.dynamo)).toEqual(
      expect.arrayContaining([
        {
          command: "GetCommand",
          region: EAST,
          input: expect.objectContaining({
            TableName: "payments-control-prod",
            Key: { pk: `readiness#${EAST}` },
          }),
        },
        {
          command: "GetCommand",
          region: WEST,
          input: expect.objectContaining({
            TableName: "payments-control-prod",
            Key: { pk: `readiness#${WEST}` },
          }),
        },
      ]),
    );
    expect(await callsOf(mocks.dynamo)).toHaveLength(2);
    expect(mocks.lambda.calls()).toHaveLength(0);
  });

  it("fails with exit 1 and prints every failing check with its fix", async () => {
    storedEvaluations({ [EAST]: record(EAST, "ok"), [WEST]: record(WEST, "fail") });
    const io = terminal();
    const { code, out, err } = await run(["readiness"], io);
    expect(code).toBe(1);
    expect(out).toContain(
      "fail    backup-copies: no completed copy in us-west-2 newer than 36 h for payments-db-use1-prod",
    );
    expect(out).toContain(
      "fix: look at the copy jobs of the backup plan in us-east-1 (AWS Backup console, Jobs)",
    );
    expect(err).toBe(`payments-dr: not ready: ${WEST} fails`);
  });

  it("evaluates now with --now: invokes each region's evaluator synchronously and shows its answer", async () => {
    mocks.lambda.on(InvokeCommand).callsFake(
      byRegion((region) => ({
        StatusCode: 200,
        Payload: Buffer.from(
          JSON.stringify({ ...record(region, "ok", T0.toISOString()), durationMs: 900 }),
        ),
      })),
    );
    const io = terminal();
    const { code, out } = await run(["readiness", "--now", "--json"], io);
    expect(code).toBe(0);
    const report = JSON.parse(out) as {
      ok: boolean;
      regions: { region: string; source: string }[];
    };
    expect(report.ok).toBe(true);
    expect(report.regions.map((r) => [r.region, r.source])).toEqual([
      [EAST, "run"],
      [WEST, "run"],
    ]);
    const calls = await callsOf(mocks.lambda);
    expect(calls.map((c) => c.region).sort()).toEqual([EAST, WEST]);
    for (const c of calls) {
      expect(c).toMatchObject({
        command: "InvokeCommand",
        input: {
          FunctionName: "payments-readiness-prod",
          InvocationType: "RequestResponse",
          Payload: Buffer.from("{}"),
        },
      });
    }
    // Nothing read from the table: the fresh answers are shown.
    expect(mocks.dynamo.calls()).toHaveLength(0);
  });

  it("says when a region does not answer and shows its last evaluation from the other region's replica", async () => {
    mocks.lambda.on(InvokeCommand).callsFake(
      byRegion((region) => {
        if (region === EAST) throw awsError("TimeoutError", "connect ETIMEDOUT");
        return {
          StatusCode: 200,
          Payload: Buffer.from(JSON.stringify(record(WEST, "ok", T0.toISOString()))),
        };
      }),
    );
    storedEvaluations({ [EAST]: record(EAST, "ok", minutesBefore(20)) }, [EAST]);
    const io = terminal();
    const { code, out } = await run(["readiness", "--now"], io);
    expect(out).toContain(`${EAST}: did not answer`);
    expect(out).toContain(
      `${EAST}: OK (last evaluation, read from ${WEST}'s replica, ${minutesBefore(20)}, 20 min ago`,
    );
    expect(code).toBe(0);
    // The lost region's item was read in the other region, never retried against it after the timeout.
    const reads = await callsOf(mocks.dynamo);
    expect(reads).toEqual([
      expect.objectContaining({
        region: WEST,
        input: expect.objectContaining({ Key: { pk: `readiness#${EAST}` } }),
      }),
    ]);
  });

  it("fails with exit 1 when a region has no evaluation at all, and shows an evaluator's error", async () => {
    mocks.lambda.on(InvokeCommand).callsFake(
      byRegion((region) =>
        region === WEST
          ? {
              StatusCode: 200,
              FunctionError: "Unhandled",
              Payload: Buffer.from(
                JSON.stringify({ errorMessage: "READINESS_SETTINGS: accountId must be 12 digits" }),
              ),
            }
          : {
              StatusCode: 200,
              Payload: Buffer.from(JSON.stringify(record(EAST, "ok", T0.toISOString()))),
            },
      ),
    );
    storedEvaluations({});
    const io = terminal();
    const { code, out, err } = await run(["readiness", "--now"], io);
    expect(code).toBe(1);
    expect(out).toContain(
      `the evaluator in ${WEST} failed: READINESS_SETTINGS: accountId must be 12 digits`,
    );
    expect(out).toContain(`${WEST} has no stored evaluation yet`);
    expect(err).toBe(`payments-dr: not ready: ${WEST} has no evaluation`);
  });

  it("marks an evaluation over 65 min old as stale when it carries no schedule (the default 30)", async () => {
    storedEvaluations({
      [EAST]: record(EAST, "ok", minutesBefore(180)),
      [WEST]: record(WEST, "ok"),
    });
    const { out } = await run(["readiness"], terminal());
    expect(out).toContain("3 h ago; writer in us-east-1), STALE: over 65 min old");
  });

  it("derives staleness from the evaluator's own schedule: two periods plus 5 min", async () => {
    // Every 120 min: 180 min old is one missed run, not stale; 250 min is two.
    storedEvaluations({
      [EAST]: { ...record(EAST, "ok", minutesBefore(180)), scheduleMinutes: 120 },
      [WEST]: { ...record(WEST, "ok", minutesBefore(250)), scheduleMinutes: 120 },
    });
    const { out } = await run(["readiness"], terminal());
    expect(out).toContain("3 h ago; writer in us-east-1)\n");
    expect(out).toContain("4 h ago; writer in us-east-1), STALE: over 245 min old");
    // Every 5 min: 20 min old is already stale.
    storedEvaluations({
      [EAST]: { ...record(EAST, "ok", minutesBefore(20)), scheduleMinutes: 5 },
      [WEST]: record(WEST, "ok"),
    });
    expect((await run(["readiness"], terminal())).out).toContain(
      "20 min ago; writer in us-east-1), STALE: over 15 min old",
    );
  });

  it("rejects an option it does not take, naming it", async () => {
    const { code, err } = await run(["readiness", "--limit", "3"], terminal());
    expect(code).toBe(2);
    expect(err).toContain("readiness does not take --limit");
  });
});
