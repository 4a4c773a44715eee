// The failover's preflight records the latest readiness evaluation of both regions in the run,
// and never lets it block: a failover is needed most when readiness is worst.
import type { ReadinessRecord } from "../../functions/common/contract";
import { TransientError } from "../../functions/dr/shared/errors";
import { EAST, FakeWorld, WEST } from "../functions/dr/support/fake-world";
import { runWorkflow } from "./support/harness";

const input = { targetRegion: WEST, reason: "primary down", trigger: "console" };

function record(region: string, overall: string): ReadinessRecord {
  return {
    region,
    at: "2026-11-30T09:30:00.000Z",
    overall,
    activeRegion: EAST,
    checks: [
      { id: "kms-keys", status: "ok", reason: "2 keys enabled", fix: "" },
      {
        id: "aurora-replication-lag",
        status: overall,
        reason: "replication lag 400000 ms > 300000 ms (the RPO target)",
        fix: "find what slows the writer",
      },
    ],
  };
}

describe("readiness in the failover run", () => {
  it("records each region's latest evaluation and its findings, and fails over on a failing one", async () => {
    const world = new FakeWorld();
    world.table.set(`readiness#${WEST}`, { evaluation: record(WEST, "fail") });
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.steps.Preflight!.readiness).toEqual([
      {
        region: EAST,
        at: null,
        overall: "missing",
        findings: [],
      },
      {
        region: WEST,
        at: "2026-11-30T09:30:00.000Z",
        overall: "fail",
        findings: [
          "aurora-replication-lag fail: replication lag 400000 ms > 300000 ms (the RPO target)",
        ],
      },
    ]);
    // Read in the target region only: the failed region is never asked.
    expect(world.callsTo("dynamodb:GetItem readiness").map((c) => c.region)).toEqual([WEST, WEST]);
  });

  it("goes on when the evaluation cannot be read, recording it as unreadable", async () => {
    const world = new FakeWorld();
    world.inject("dynamodb:GetItem readiness", () => new TransientError("throttled"), 2);
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.retries).not.toContain("Preflight");
    expect(result.output!.steps.Preflight!.readiness!.map((r) => r.overall)).toEqual([
      "unreadable",
      "unreadable",
    ]);
  });
});
