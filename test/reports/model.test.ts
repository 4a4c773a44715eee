import {
  ledgerEntryOf,
  reportLocation,
  validateReportInput,
} from "../../functions/reports/shared/model";
import type { RunReport } from "../../functions/reports/shared/model";
import { switchoverReport, TARGETS } from "./support/samples";

describe("a report as producers send it", () => {
  it("accepts a complete report and drops fields it does not know", () => {
    const input = { ...switchoverReport(), secret: "not stored" };
    const report = validateReportInput(input);
    expect(report).toEqual(switchoverReport());
    expect(report).not.toHaveProperty("secret");
  });

  it.each([
    [{ kind: "Fail Over" }, /^report field kind="Fail Over" is not allowed: lowercase kebab-case/],
    [{ runId: "../../etc" }, /^report field runId="\.\.\/\.\.\/etc" is not allowed/],
    [{ region: "mars-1" }, /^report field region="mars-1" is not allowed: an AWS region code/],
    [{ outcome: "passed" }, /outcome="passed" is not allowed: succeeded, failed, rejected/],
    [{ startedAt: "yesterday" }, /startedAt="yesterday" is not allowed: an ISO 8601 timestamp/],
    [{ endedAt: "2026-11-10T14:00:00.000Z" }, /endedAt=.* not before startedAt/],
    [{ rtoSeconds: -1 }, /rtoSeconds=-1 is not allowed: a number of seconds, 0 or more, or null/],
    [{ steps: [{ name: "X", status: "done" }] }, /steps\[0\]\.status="done" is not allowed/],
    [{ config: { nested: { a: 1 } } }, /config\.nested=\{"a":1\} is not allowed/],
    [
      { links: [{ label: "x", url: "javascript:alert(1)" }] },
      /links\[0\]\.url=.* an https:\/\/ or s3:\/\/ URL/,
    ],
  ])("rejects %j, naming the field, the value and what is allowed", (change, message) => {
    expect(() => validateReportInput({ ...switchoverReport(), ...change })).toThrow(message);
  });

  it("rejects a step that ends before it starts", () => {
    const steps = [
      {
        name: "Fence",
        startedAt: "2026-11-10T15:00:05.000Z",
        endedAt: "2026-11-10T15:00:04.000Z",
        status: "succeeded",
      },
    ];
    expect(() => validateReportInput({ ...switchoverReport(), steps })).toThrow(
      /steps\[0\]\.endedAt=.* not before its startedAt/,
    );
  });
});

describe("where a report lives", () => {
  it("is deterministic, by kind and the month the run started, so a workflow can link it before it is written", () => {
    const location = reportLocation(
      "bucket-1",
      "us-west-2",
      "switchover",
      "drill-5f1c-out",
      "2026-11-10T15:00:00.000Z",
    );
    expect(location).toEqual({
      bucket: "bucket-1",
      region: "us-west-2",
      jsonKey: "reports/switchover/2026-11/drill-5f1c-out.json",
      htmlKey: "reports/switchover/2026-11/drill-5f1c-out.html",
      htmlUri: "s3://bucket-1/reports/switchover/2026-11/drill-5f1c-out.html",
      consoleUrl:
        "https://us-west-2.console.aws.amazon.com/s3/object/bucket-1?region=us-west-2&bucketType=general&prefix=reports%2Fswitchover%2F2026-11%2Fdrill-5f1c-out.html",
    });
    expect(
      reportLocation("b", "us-west-2", "restore-drill", "a:b", "2026-01-31T23:59:59Z").htmlKey,
    ).toBe("reports/restore-drill/2026-01/a_b.html");
  });

  it("indexes a stored report in the ledger with its figures and targets", () => {
    const input = switchoverReport({
      measurements: [{ name: "auroraRestoreSeconds", value: 1800, unit: "s" }],
    });
    const report: RunReport = {
      ...input,
      schemaVersion: 1,
      environment: "dev",
      targets: TARGETS,
      writtenAt: "2026-11-10T16:00:00.000Z",
      location: reportLocation("b", "us-west-2", input.kind, input.runId, input.startedAt),
    };
    expect(ledgerEntryOf(report)).toEqual({
      id: "switchover/us-west-2/drill-5f1c-out",
      kind: "switchover",
      runId: "drill-5f1c-out",
      region: "us-west-2",
      environment: "dev",
      outcome: "succeeded",
      summary: input.summary,
      startedAt: input.startedAt,
      endedAt: input.endedAt,
      trigger: "drill",
      rtoSeconds: 131.4,
      rpoSeconds: 0.12,
      targets: TARGETS,
      warnings: 1,
      reportUri: "s3://b/reports/switchover/2026-11/drill-5f1c-out.html",
      consoleUrl: report.location.consoleUrl,
      measurements: { auroraRestoreSeconds: 1800 },
    });
  });
});
