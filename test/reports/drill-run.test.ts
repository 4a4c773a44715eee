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
      // The workflow engine stamps an execution's start with the real clock: hold that at the
      // world's, which the hold moved ten minutes on, so the failback's RTO is its own.
      jest.useFakeTimers({
        now: world.clock,
        doNotFake: [
          "hrtime",
          "nextTick",
          "performance",
          "queueMicrotask",
          "setImmediate",
          "clearImmediate",
          "setInterval",
          "clearInterval",
          "setTimeout",
          "clearTimeout",
        ],
      });
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
      jest.useRealTimers();
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
      // Each run's RTO is its own: the failback's does not include the hold before it.
      expect(back.output!.steps.RecordTimeline!.rtoSeconds).toBeLessThan(120);
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

  pythonIt(
    "leaves the restore drill's report: restore times, the checks against the live database, the copy's age",
    async () => {
      const world = new FakeWorld();
      const id = "9c8b7a6d-1111-2222-3333-444455556666";
      // As if it ran in the last hour: its report is written when it ends, now.
      const t0 = Date.now() - 48 * 60_000;
      const m = (minutes: number) => iso(t0 + minutes * 60_000);
      const ran = (
        StepName: string,
        from: number,
        to: number,
        Outputs: Record<string, string[]> = {},
      ) => ({
        StepName,
        StepStatus: "Success",
        ExecutionStartTime: m(from),
        ExecutionEndTime: m(to),
        Outputs,
      });
      const cutoff = m(-26 * 60 - 5);
      const basis = `the live secondary cluster (reader endpoint, same region), same query, up to ${cutoff}`;
      const aurora = [
        ["payments up to the cutoff", "1284113", "1284113"],
        ["payment events up to the cutoff", "3310480", "3310480"],
        ["payments in the 24 h before the cutoff", "41277", "41277"],
        [
          "checksum of those payments (md5 of id, merchant, card token, amount, currency, origin region, created_at)",
          "5f0c1e4a9b2d7c6e8f1a3b5c7d9e0f12",
          "5f0c1e4a9b2d7c6e8f1a3b5c7d9e0f12",
        ],
        ["schema version (migrations applied)", "at most 4", "4"],
      ].map(([name, expected, actual]) => ({
        name: `Aurora: ${name}`,
        expected,
        actual,
        passed: true,
        basis,
      }));
      const table = [
        {
          name: "DynamoDB: the canary written before the restore point",
          expected: "nonce 3f1d",
          actual: "nonce 3f1d",
          passed: true,
          basis: `the item this drill wrote at ${m(0)}, before the restore point ${m(33)}`,
        },
        {
          name: "DynamoDB: the fencing flag (active-region item)",
          expected: '{"activeRegion":{"S":"us-east-1"},"fencingToken":{"N":"6"}}',
          actual: '{"activeRegion":{"S":"us-east-1"},"fencingToken":{"N":"6"}}',
          passed: true,
          basis: "the live item in this region's replica, unchanged since before the restore point",
        },
      ];
      const location = reportLocation(
        world.reports.bucketName(WEST),
        WEST,
        "restore-drill",
        id,
        m(0),
      );
      const result = runStep(
        "WriteDrillReport",
        "write_drill_report",
        {
          Path: "auto",
          Kind: "restore-drill",
          Title: "Restore drill in us-west-2",
          Summary:
            "The newest cross-region Aurora copy and the control table's point-in-time recovery both restored in us-west-2 and held what they should; everything the drill created was deleted.",
          ExecutionId: id,
          Region: WEST,
          WriterFunction: "payments-report-writer-test",
          PlannedSteps:
            "WriteCanary,FindRecoveryPoint,RestoreAuroraCluster,WaitForAuroraInstance,CheckAurora,RestoreTable,WaitForTable,CheckTable,Cleanup",
          CheckSteps: "CheckAurora,CheckTable",
          Measures:
            "auroraRestoreSeconds=RestoreAuroraCluster:WaitForAuroraInstance,tableRestoreSeconds=RestoreTable:WaitForTable",
          MeasurementLimitSeconds: "7200",
          RtoSteps: "RestoreAuroraCluster:CheckAurora",
          RpoOutput: "FindRecoveryPoint.SnapshotAgeSeconds",
          RpoBasis:
            "the age of the newest cross-region copy when the drill began: restoring it in this region loses what was written since (copies of continuous backups are snapshots, without point-in-time restore)",
        },
        {
          "ssm.get_automation_execution": {
            AutomationExecution: {
              ExecutionStartTime: m(0),
              DocumentName: "payments-dr-restore-drill-test",
              DocumentVersion: "1",
              ExecutedBy: `arn:aws:sts::123456789012:assumed-role/payments-dr-restore-drill-usw2-test/${id}`,
              Parameters: {
                AutomationAssumeRole: [
                  "arn:aws:iam::123456789012:role/payments-dr-restore-drill-usw2-test",
                ],
                InstanceClass: ["db.r5.large"],
                MaxBackupAgeHours: ["48"],
                WindowHours: ["24"],
              },
              StepExecutions: [
                ran("WriteCanary", 0, 0.1),
                ran("FindRecoveryPoint", 0.1, 0.4, { SnapshotAgeSeconds: ["93600"] }),
                ran("RestoreAuroraCluster", 0.4, 0.6),
                ran("WaitForAuroraInstance", 0.6, 27.9),
                ran("CheckAurora", 27.9, 29.2, { Checks: [JSON.stringify(aurora)] }),
                ran("RestoreTable", 29.2, 33.1),
                ran("WaitForTable", 33.1, 41.7),
                ran("CheckTable", 41.7, 41.9, { Checks: [JSON.stringify(table)] }),
                ran("Cleanup", 41.9, 47.3, { Leftovers: [""] }),
              ],
            },
          },
          "lambda.invoke": {
            StatusCode: 200,
            Payload: JSON.stringify({ written: true, location }),
          },
        },
      );
      expect(result.ok).toMatchObject({ Outcome: "succeeded" });
      const { report: sent } = JSON.parse(
        String(result.calls.find((c) => c.call === "lambda.invoke")!.args.Payload),
      ) as { report: unknown };
      world.clock = t0 + 48 * 60_000;
      await writeReport(sent, world.reports.writer(WEST));
      const restore = world.reports.find("restore-drill", id)!;
      expect(restore.report).toMatchObject({
        outcome: "succeeded",
        rtoSeconds: 28.8 * 60,
        rpoSeconds: 93600,
        targets: { rtoTargetSeconds: 7200 },
      });
      expect(restore.html).toContain("<h2>Checks</h2>");
      expect(restore.html).toContain("<h2>Measurements</h2>");
      mkdirSync(OUT, { recursive: true });
      writeFileSync(join(OUT, `restore-drill-${id}.html`), restore.html);
    },
  );
});
