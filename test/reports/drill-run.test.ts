// A whole failover drill, as the monthly schedule runs it: the real switchover and failback
// workflows (their ASL over the fake world, each writing its report), then the drill runbook's
// report step (write_drill_report.py, fake boto3) whose report the real writer stores. The pages
// land in REPORT_OUT (default: <tmp>/payments-dr-reports) for a person to open:
//   npm run report:sample
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunReport } from "../../functions/reports/shared/model";
import { reportLocation } from "../../functions/reports/shared/model";
import { renderLedgerPage } from "../../functions/reports/shared/render";
import { writeReport } from "../../functions/reports/writer/core";
import { EAST, FakeWorld, TOPOLOGY, WEST } from "../functions/dr/support/fake-world";
import { hasPython, runStep } from "../runbooks/python";
import { runWorkflow } from "../state-machines/support/harness";

const OUT = process.env.REPORT_OUT ?? join(tmpdir(), "payments-dr-reports");
const pythonIt = hasPython() || process.env.CI === "true" ? it : it.skip;
const DRILL = "5f1c2d3e-aaaa-bbbb-cccc-123456789012";
const iso = (ms: number) => new Date(ms).toISOString();

describe("a failover drill run", () => {
  pythonIt(
    "leaves a report a person can open: the drill's steps, its two runs, RTO and RPO",
    async () => {
      const world = new FakeWorld();
      const started = world.clock;
      const reason = `scheduled DR drill drill-${DRILL}-out`;
      const out = await runWorkflow(
        "switchover",
        { targetRegion: WEST, reason, trigger: "drill" },
        { world, executionName: `drill-${DRILL}-out` },
      );
      expect(out.status).toBe("SUCCEEDED");
      const outEnded = world.clock;
      // The hold: production runs from us-west-2 for ten minutes; us-east-1 reports its lag.
      const holdStarted = outEnded + 3000;
      world.clock = holdStarted + 10 * 60_000;
      world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = 35;
      const holdEnded = world.clock;
      const back = await runWorkflow(
        "failback",
        {
          targetRegion: EAST,
          reason: `scheduled DR drill drill-${DRILL}-back`,
          trigger: "drill",
          ignoreCooldown: true,
        },
        { world, executionName: `drill-${DRILL}-back` },
      );
      expect(back.status).toBe("SUCCEEDED");
      const backEnded = world.clock;

      const step = (StepName: string, from: number, to: number) => ({
        StepName,
        StepStatus: "Success",
        ExecutionStartTime: iso(from),
        ExecutionEndTime: iso(to),
      });
      const location = reportLocation(
        world.reports.bucketName(WEST),
        WEST,
        "failover-drill",
        DRILL,
        iso(started - 5000),
      );
      const result = runStep(
        "WriteDrillReport",
        "write_drill_report",
        {
          Path: "passed",
          Kind: "failover-drill",
          Title: "DR drill: switchover to us-west-2 and back",
          ExecutionId: DRILL,
          Region: WEST,
          WriterFunction: "payments-report-writer-test",
          PlannedSteps:
            "CheckReadiness,AnnounceStart,MoveToSecondary,Hold,ShouldFailBack,FailBackToPrimary",
          StateMachinePrefix: "payments-",
          Suffix: "test",
          OutboundKind: "switchover",
          OutboundRegion: WEST,
          OutboundExecution: `drill-${DRILL}-out`,
          BackKind: "failback",
          BackRegion: EAST,
          BackExecution: `drill-${DRILL}-back`,
        },
        {
          "ssm.get_automation_execution": {
            AutomationExecution: {
              AutomationExecutionId: DRILL,
              DocumentName: "payments-dr-drill-test",
              DocumentVersion: "1",
              ExecutionStartTime: iso(started - 5000),
              ExecutedBy: `arn:aws:sts::123456789012:assumed-role/payments-dr-automation-usw2-test/${DRILL}`,
              Parameters: {
                AutomationAssumeRole: [
                  "arn:aws:iam::123456789012:role/payments-dr-automation-usw2-test",
                ],
                Workflow: ["switchover"],
                HoldDuration: ["PT10M"],
                FailBack: ["true"],
              },
              StepExecutions: [
                step("CheckReadiness", started - 5000, started - 3000),
                step("AnnounceStart", started - 3000, started - 2000),
                step("MoveToSecondary", started - 2000, holdStarted),
                step("Hold", holdStarted, holdEnded),
                step("ShouldFailBack", holdEnded, holdEnded),
                step("FailBackToPrimary", holdEnded, backEnded + 4000),
              ],
            },
          },
          "sts.get_caller_identity": { Account: "123456789012" },
          "stepfunctions.describe_execution": [
            { status: "SUCCEEDED", output: JSON.stringify(out.output) },
            { status: "SUCCEEDED", output: JSON.stringify(back.output) },
          ],
          "lambda.invoke": {
            StatusCode: 200,
            Payload: JSON.stringify({ written: true, location }),
          },
        },
      );
      expect(result.error).toBeUndefined();
      const invoke = result.calls.find((c) => c.call === "lambda.invoke")!;
      const { report: sent } = JSON.parse(String(invoke.args.Payload)) as { report: unknown };
      world.clock = backEnded + 6000;
      await writeReport(sent, world.reports.writer(WEST));

      const drill = world.reports.find("failover-drill", DRILL)!;
      const switchover = world.reports.find("switchover", `drill-${DRILL}-out`)!;
      const failback = world.reports.find("failback", `drill-${DRILL}-back`)!;
      expect(drill.report).toMatchObject({
        outcome: "succeeded",
        rtoSeconds: out.output!.steps.RecordTimeline!.rtoSeconds,
        rpoSeconds: 0.12,
        trigger: { kind: "schedule" },
        runs: [
          {
            kind: "switchover",
            outcome: "succeeded",
            reportUrl: switchover.report.location.consoleUrl,
          },
          {
            kind: "failback",
            outcome: "succeeded",
            reportUrl: failback.report.location.consoleUrl,
          },
        ],
      });
      // The page: a bar per drill step (the hold the longest), both runs linked, the figures.
      const bars = [...drill.html.matchAll(/<rect [^>]*><title>([A-Za-z]+): ([^(]+) \(/g)].map(
        (m) => [m[1], m[2]!.trim()],
      );
      expect(bars.map(([name]) => name)).toEqual([
        "CheckReadiness",
        "AnnounceStart",
        "MoveToSecondary",
        "Hold",
        "ShouldFailBack",
        "FailBackToPrimary",
      ]);
      expect(bars.find(([name]) => name === "Hold")![1]).toBe("10 min");
      expect(drill.html).toContain(
        `<a href="${switchover.report.location.consoleUrl.replace(/&/g, "&amp;")}">report</a>`,
      );
      expect(drill.html).toContain("measured RTO: within goal");

      mkdirSync(OUT, { recursive: true });
      const files: Array<[string, string]> = [
        [`failover-drill-${DRILL}.html`, drill.html],
        [`switchover-drill-${DRILL}-out.html`, switchover.html],
        [`failback-drill-${DRILL}-back.html`, failback.html],
        [
          "ledger.html",
          renderLedgerPage(await world.reports.ledger.recent(20), {
            now: new Date(world.clock),
            since: new Date(started - 86_400_000),
            maxDrillAgeDays: 40,
            limit: 20,
            environment: "test",
          }),
        ],
        [`failover-drill-${DRILL}.json`, JSON.stringify(drill.report satisfies RunReport, null, 2)],
      ];
      for (const [name, body] of files) writeFileSync(join(OUT, name), body);
      if (process.env.REPORT_OUT) {
        process.stdout.write(`\nreports written to ${OUT}: ${files.map(([n]) => n).join(", ")}\n`);
      }
    },
  );
});
