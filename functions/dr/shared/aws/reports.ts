// The report writer of the region a task runs in, invoked asynchronously: a task hands over its
// run's report in one short call and goes on. Lambda retries a failed write twice and then
// pages (the writer's on-failure destination), so a lost report is never silent.
import { InvokeCommand } from "@aws-sdk/client-lambda";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { ReportLocation, RunReportInput } from "../../../reports/shared/model";
import { reportLocation } from "../../../reports/shared/model";
import { DependencyError } from "../errors";
import type { ReportsPort } from "../ports";
import { toPortError } from "./errors";

export class LambdaReports implements ReportsPort {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionName: string,
    private readonly bucket: string,
    private readonly region: string,
  ) {}

  async submit(report: RunReportInput): Promise<ReportLocation> {
    let status: number | undefined;
    try {
      const out = await this.lambda.send(
        new InvokeCommand({
          FunctionName: this.functionName,
          InvocationType: "Event",
          Payload: new TextEncoder().encode(JSON.stringify({ action: "write", report })),
        }),
      );
      status = out.StatusCode;
    } catch (error) {
      throw toPortError(`lambda:InvokeFunction ${this.functionName}`, error);
    }
    // An asynchronous invoke is accepted with 202 (Lambda API reference, Invoke).
    if (status !== 202) {
      throw new DependencyError(
        `lambda:InvokeFunction ${this.functionName} answered ${status}, expected 202 (queued)`,
      );
    }
    return reportLocation(this.bucket, this.region, report.kind, report.runId, report.startedAt);
  }
}
