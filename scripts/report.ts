// npm run report -- <report.json> [--out <page.html>]
//   Renders a stored run or drill report (the JSON beside its page in the report bucket, e.g.
//   `aws s3 cp s3://<bucket>/reports/failover/2026-11/<run>.json .`) into its HTML page, with
//   the same renderer the writer uses. Without --out, the page goes next to the JSON.
// npm run report:sample
//   Runs a whole failover drill locally (the real workflows over the fake world, the runbook's
//   report step) and writes its pages to out/reports/.
import { readFileSync, writeFileSync } from "node:fs";
import type { RunReport } from "../functions/reports/shared/model";
import { validateReportInput } from "../functions/reports/shared/model";
import { renderReportHtml } from "../functions/reports/shared/render";

export function renderFile(input: string, output?: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(input, "utf8"));
  } catch (error) {
    throw new Error(`${input} is not a readable JSON file: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // The same checks the writer made: a hand-edited file fails here with the field named.
  validateReportInput(parsed);
  const report = parsed as RunReport;
  for (const field of ["environment", "targets", "writtenAt", "location"] as const) {
    if (report[field] === undefined) {
      throw new Error(
        `${input} is a report as producers send it, not as the writer stored it (no ${field}); render stored reports`,
      );
    }
  }
  const target = output ?? input.replace(/\.json$/, "") + ".html";
  writeFileSync(target, renderReportHtml(report));
  return target;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf("--out");
  const output = outIndex >= 0 ? args[outIndex + 1] : undefined;
  const input = args.find((a, i) => !a.startsWith("--") && i !== outIndex + 1);
  if (!input || (outIndex >= 0 && !output)) {
    console.error("usage: npm run report -- <report.json> [--out <page.html>]");
    process.exit(1);
  }
  try {
    console.log(`wrote ${renderFile(input, output)}`);
  } catch (error) {
    console.error(`report failed: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
