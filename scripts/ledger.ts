// npm run ledger -- [--region <region>] [--limit N] [--json] [--html <file>]
//   The DR ledger of this environment (ENVIRONMENT_SUFFIX, as for synth): when each drill last
//   passed, the trend per kind of run, and the newest runs with RTO and RPO against the targets.
//   Reads the ledger global table with the AWS SDK's default credentials (the on-call operator
//   role may read it), in the secondary region by default and in the other region when that
//   one does not answer.
import { writeFileSync } from "node:fs";
import { loadConfig } from "../infra/config";
import type { LedgerEntry } from "../functions/reports/ledger-reader";
import {
  drillStatus,
  ledgerCreatedAt,
  ledgerTableName,
  readLedger,
  rpoVerdict,
  rtoVerdict,
  summarize,
} from "../functions/reports/ledger-reader";
import { formatSeconds, renderLedgerPage } from "../functions/reports/shared/render";

export interface LedgerOptions {
  readonly regions: string[];
  readonly limit: number;
  readonly format: "text" | "json" | "html";
  readonly html?: string;
}

export function parseArgs(argv: string[], defaults: { regions: string[] }): LedgerOptions {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (!v || v.startsWith("--")) throw new Error(`${flag} needs a value`);
    return v;
  };
  const known = new Set(["--region", "--limit", "--json", "--html"]);
  const unknown = argv.filter(
    (a, i) => a.startsWith("--") && !known.has(a) && !known.has(argv[i - 1] ?? ""),
  );
  if (unknown.length > 0)
    throw new Error(`unknown option(s) ${unknown.join(", ")}; allowed: ${[...known].join(", ")}`);
  const limitText = value("--limit") ?? "20";
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new Error(
      `--limit=${JSON.stringify(limitText)} is not allowed: a whole number from 1 to 500`,
    );
  }
  const region = value("--region");
  const html = value("--html");
  return {
    regions: region ? [region] : defaults.regions,
    limit,
    format: html ? "html" : argv.includes("--json") ? "json" : "text",
    ...(html ? { html } : {}),
  };
}

/** The ledger as a terminal table, with the drills' age and the trend first. */
export function ledgerText(
  entries: readonly LedgerEntry[],
  view: { now: Date; since: Date; maxDrillAgeDays: number },
): string {
  const lines: string[] = [];
  for (const d of drillStatus(entries, view.now, view.since)) {
    const age = d.lastSuccessAt
      ? `last passed ${d.daysSinceSuccess.toFixed(1)} days ago`
      : `never passed (ledger started ${d.daysSinceSuccess.toFixed(1)} days ago)`;
    const overdue =
      d.daysSinceSuccess > view.maxDrillAgeDays
        ? ` OVERDUE (over ${view.maxDrillAgeDays} days)`
        : "";
    lines.push(`${d.kind.padEnd(15)} ${age}${overdue}; newest run ${d.lastOutcome ?? "none"}`);
  }
  lines.push("");
  for (const s of summarize(entries)) {
    lines.push(
      `${s.kind.padEnd(15)} ${s.runs} runs (${s.failed} failed, ${s.rejected} rejected); median RTO ${formatSeconds(s.medianRtoSeconds)}, RPO ${formatSeconds(s.medianRpoSeconds)}; ${s.overRtoTarget} over the RTO target; trend ${s.rtoTrend}`,
    );
  }
  lines.push("");
  lines.push(
    [
      "ended (UTC)      ",
      "kind           ",
      "region    ",
      "outcome  ",
      "RTO       ",
      "RPO       ",
      "report",
    ].join(" "),
  );
  for (const e of entries) {
    lines.push(
      [
        e.endedAt.replace("T", " ").slice(0, 16).padEnd(17),
        e.kind.padEnd(15),
        e.region.padEnd(10),
        e.outcome.padEnd(9),
        `${formatSeconds(e.rtoSeconds)} ${e.rtoSeconds === null ? "" : `(${rtoVerdict(e.rtoSeconds, e.targets)})`}`.padEnd(
          10,
        ),
        `${formatSeconds(e.rpoSeconds)} ${e.rpoSeconds === null ? "" : `(${rpoVerdict(e.rpoSeconds, e.targets)})`}`.padEnd(
          10,
        ),
        e.reportUri,
      ].join(" "),
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const config = loadConfig();
  const options = parseArgs(process.argv.slice(2), {
    regions: [config.secondary.region, config.primary.region],
  });
  const table = ledgerTableName(config.environmentSuffix);
  const failures: string[] = [];
  for (const region of options.regions) {
    let entries: LedgerEntry[];
    let since: Date;
    try {
      const where = { region, environmentSuffix: config.environmentSuffix };
      [entries, since] = await Promise.all([
        readLedger({ ...where, limit: options.limit }),
        ledgerCreatedAt(where),
      ]);
    } catch (error) {
      failures.push(`${region}: ${(error as Error).message}`);
      continue;
    }
    const now = new Date();
    if (options.format === "json") {
      console.log(JSON.stringify(entries, null, 2));
    } else if (options.format === "html") {
      writeFileSync(
        options.html!,
        renderLedgerPage(entries, {
          now,
          since,
          maxDrillAgeDays: config.drills.maxAgeDays,
          limit: options.limit,
          environment: config.environmentSuffix,
        }),
      );
      console.log(`wrote ${options.html} (${entries.length} runs from ${table} in ${region})`);
    } else {
      console.log(`${table} in ${region}, newest ${entries.length} runs\n`);
      console.log(ledgerText(entries, { now, since, maxDrillAgeDays: config.drills.maxAgeDays }));
    }
    return;
  }
  throw new Error(`could not read ${table}: ${failures.join("; ")}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`ledger failed: ${(error as Error).message}`);
    process.exitCode = 1;
  });
}
