// One run of the evaluator end to end over the ports: the evaluation is published as metrics and
// stored where the failover preflight and the CLI read it; bad input and settings are refused
// by name.
import { METRICS } from "../../../functions/common/contract";
import {
  evaluateAndPublish,
  parseReadinessEvent,
} from "../../../functions/monitoring/readiness/run";
import { parseReadinessSettings } from "../../../functions/monitoring/readiness/settings";
import { TransientError } from "../../../functions/dr/shared/errors";
import type { RunReportInput } from "../../../functions/reports/shared/model";
import { validateReportInput } from "../../../functions/reports/shared/model";
import { FakeWorld } from "../dr/support/fake-world";
import { EAST, ReadinessWorld, SETTINGS, WEST, sdkError } from "./support/aws-readiness-world";

let aws: ReadinessWorld;
beforeEach(() => {
  aws = new ReadinessWorld();
});
afterEach(() => aws.restore());

const timeout = () => Object.assign(sdkError("TimeoutError", 0), { code: "ETIMEDOUT" });

function runDeps(world: FakeWorld, region = WEST) {
  const ports = world.ports(region, "critical");
  return {
    ...aws.deps(region),
    metrics: ports.metrics,
    control: ports.control,
    namespace: METRICS.namespace,
  };
}

describe("a scheduled run", () => {
  it("stores the evaluation under its region and publishes every check and the overall", async () => {
    const world = new FakeWorld();
    aws.lagMs = 5000;
    const evaluation = await evaluateAndPublish(
      parseReadinessEvent({ source: "aws.events" }),
      runDeps(world),
    );
    expect(evaluation.overall).toBe("warn");
    const stored = await world.ports(EAST, "critical").control.getReadiness(WEST);
    expect(stored).toEqual(evaluation);
    expect(world.metrics[WEST]!.map((m) => m.name)).toEqual([
      ...evaluation.checks.map(() => "ReadinessCheckStatus"),
      "ReadinessStatus",
    ]);
  });

  it("pages a check stuck at unknown: the unknownPageAfter-th unknown in a row is a fail", async () => {
    const world = new FakeWorld();
    // No drill succeeded in us-west-2 and us-east-1 does not answer: the drill check cannot tell.
    aws.drillDaysAgo[WEST] = null;
    aws.broken.set(EAST, timeout);
    const drill = async () => {
      const evaluation = await evaluateAndPublish({}, runDeps(world));
      const metric = world.metrics[WEST]!.filter(
        (m) => m.name === "ReadinessCheckStatus" && m.dimensions?.Check === "drill-recency",
      ).at(-1)!;
      return { check: evaluation.checks.find((c) => c.id === "drill-recency")!, metric };
    };
    for (const runs of [1, 2, 3]) {
      const { check, metric } = await drill();
      expect(check).toMatchObject({ status: "unknown", unknownRuns: runs });
      expect(metric.value).toBe(2);
    }
    const fourth = await drill();
    expect(fourth.check).toMatchObject({
      status: "fail",
      unknownRuns: 4,
      reason: expect.stringMatching(/^unknown for 4 evaluations in a row: /),
    });
    expect(fourth.check.fix).not.toBe("");
    expect(fourth.metric.value).toBe(3);
    const stored = await world.ports(WEST, "critical").control.getReadiness(WEST);
    expect(stored!.overall).toBe("fail");
    // It can tell again: the count restarts.
    aws.broken.delete(EAST);
    expect((await drill()).check.unknownRuns).toBeUndefined();
    aws.broken.set(EAST, timeout);
    expect((await drill()).check).toMatchObject({ status: "unknown", unknownRuns: 1 });
  });

  it("writes a report to the report store when the overall status changes, and only then", async () => {
    const world = new FakeWorld();
    const reports = world.reports.port(WEST);
    const submitted: RunReportInput[] = [];
    const deps = {
      ...runDeps(world),
      reports: { submit: (r: RunReportInput) => (submitted.push(r), reports.submit(r)) },
    };
    const first = await evaluateAndPublish({}, deps);
    expect(first.overall).toBe("ok");
    await evaluateAndPublish({}, deps);
    expect(submitted).toHaveLength(1); // the first evaluation; the unchanged second adds nothing
    aws.copies = {}; // no backup copy landed: backup-copies fails
    const failing = await evaluateAndPublish({}, deps);
    expect(failing.overall).toBe("fail");
    expect(submitted).toHaveLength(2);
    const report = submitted[1]!;
    // What the writer accepts (its own validation), with the change and every check.
    expect(validateReportInput(JSON.parse(JSON.stringify(report)))).toMatchObject({
      kind: "readiness",
      region: WEST,
      outcome: "failed",
      title: `readiness of ${WEST}: OK -> FAIL`,
    });
    expect(report.checks!.find((c) => c.name === "backup-copies")).toMatchObject({
      passed: false,
      actual: expect.stringMatching(/^fail: no copy to us-west-2 completed within 36 h/),
    });
    // A partial, on-demand evaluation writes no report.
    await evaluateAndPublish({ checks: ["kms-keys"] }, deps);
    expect(submitted).toHaveLength(2);
  });

  it("does not count unknowns in a partial evaluation, which is not stored", async () => {
    const world = new FakeWorld();
    aws.drillDaysAgo[WEST] = null;
    aws.broken.set(EAST, timeout);
    for (let i = 0; i < 5; i += 1) {
      const e = await evaluateAndPublish({ checks: ["drill-recency"] }, runDeps(world));
      expect(e.checks[0]).toMatchObject({ status: "unknown" });
    }
  });

  it("publishes the metrics even when storing fails, and then fails the invocation", async () => {
    const world = new FakeWorld();
    world.inject("dynamodb:PutItem readiness", () => new TransientError("throttled"));
    await expect(evaluateAndPublish({}, runDeps(world))).rejects.toThrow(
      /not fully published: TransientError: throttled|not fully published: .*throttled/,
    );
    expect(world.metrics[WEST]!.at(-1)).toMatchObject({ name: "ReadinessStatus" });
  });

  it("runs only the requested checks on demand, and does not store a partial evaluation", async () => {
    const world = new FakeWorld();
    const evaluation = await evaluateAndPublish(
      parseReadinessEvent({ checks: ["kms-keys"] }),
      runDeps(world),
    );
    expect(evaluation.checks.map((c) => c.id)).toEqual(["kms-keys"]);
    expect(world.table.has(`readiness#${WEST}`)).toBe(false);
    expect(world.metrics[WEST]!.map((m) => m.name)).toEqual(["ReadinessCheckStatus"]);
  });
});

describe("bad input", () => {
  it("rejects an unknown check name, naming the value and what is allowed", () => {
    expect(() => parseReadinessEvent({ checks: ["kms"] })).toThrow(
      /checks=\["kms"\] is not allowed: a non-empty list of aurora-global-cluster, .*kms-keys/,
    );
    expect(() => parseReadinessEvent({ checks: [] })).toThrow(/non-empty list/);
  });

  it("rejects settings with a missing region, bad lag bounds or a bad quota code", () => {
    const json = (patch: object) => JSON.stringify({ ...SETTINGS, ...patch });
    expect(() => parseReadinessSettings(json({ regions: {} }), [EAST, WEST])).toThrow(
      `READINESS_SETTINGS: regions.${EAST} is missing`,
    );
    expect(() =>
      parseReadinessSettings(json({ lag: { warnMs: 5000, failMs: 1000 } }), [EAST, WEST]),
    ).toThrow("lag.warnMs (5000) must not exceed lag.failMs (1000)");
    expect(() =>
      parseReadinessSettings(
        json({ quotas: [{ serviceCode: "rds", quotaCode: "x", name: "n" }] }),
        [EAST, WEST],
      ),
    ).toThrow(/quotas must be a list of \{ serviceCode, quotaCode: L-XXXXXXXX, name \}, got/);
    expect(parseReadinessSettings(JSON.stringify(SETTINGS), [EAST, WEST])).toEqual(SETTINGS);
  });
});
