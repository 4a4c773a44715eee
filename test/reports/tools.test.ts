// The repository's own tooling for reports: `npm run report` and `npm run ledger`.
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ledgerCreatedAt, readLedger } from "../../functions/reports/ledger-reader";
import { ledgerText, parseArgs } from "../../scripts/ledger";
import { renderFile } from "../../scripts/report";
import { writeReport } from "../../functions/reports/writer/core";
import { entry, switchoverReport, testWriter } from "./support/samples";

describe("npm run report", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "report-cli-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("renders a stored report's JSON into the same page the writer stored", async () => {
    const writer = testWriter();
    const { location } = await writeReport(switchoverReport(), writer);
    const json = join(dir, "run.json");
    writeFileSync(json, writer.store.objects.get(location.jsonKey)!.body);
    expect(renderFile(json)).toBe(join(dir, "run.html"));
    expect(readFileSync(join(dir, "run.html"), "utf8")).toBe(
      writer.store.objects.get(location.htmlKey)!.body,
    );
  });

  it("rejects a file that is not a stored report, saying what is wrong", () => {
    const file = join(dir, "x.json");
    writeFileSync(file, JSON.stringify(switchoverReport()));
    expect(() => renderFile(file)).toThrow(/not as the writer stored it \(no environment\)/);
    writeFileSync(file, JSON.stringify({ ...switchoverReport(), outcome: "great" }));
    expect(() => renderFile(file)).toThrow(/report field outcome="great" is not allowed/);
    writeFileSync(file, "{");
    expect(() => renderFile(file)).toThrow(/is not a readable JSON file/);
  });
});

describe("npm run ledger", () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const raw = mockClient(DynamoDBClient);
  beforeEach(() => {
    ddb.reset();
    raw.reset();
  });

  it("reads the newest runs through the by-time index, page after page, up to the limit", async () => {
    const rows = Array.from({ length: 5 }, (_, i) => ({
      ...entry({ kind: "failover", endedAt: `2026-11-0${i + 1}T00:00:00.000Z` }),
      ledger: "run",
      expiresAt: 1,
    }));
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: rows.slice(0, 3), LastEvaluatedKey: { id: "x" } })
      .resolvesOnce({ Items: rows.slice(3) });
    const client = new DynamoDBClient({
      region: "us-west-2",
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    });
    const entries = await readLedger({
      region: "us-west-2",
      environmentSuffix: "prod",
      limit: 4,
      client,
    });
    expect(entries).toHaveLength(4);
    expect(entries[0]).not.toHaveProperty("expiresAt");
    expect(
      ddb
        .commandCalls(QueryCommand)
        .map((c) => [
          c.args[0].input.TableName,
          c.args[0].input.Limit,
          c.args[0].input.ExclusiveStartKey,
        ]),
    ).toEqual([
      ["payments-dr-ledger-prod", 4, undefined],
      ["payments-dr-ledger-prod", 1, { id: "x" }],
    ]);
    raw
      .on(DescribeTableCommand)
      .resolves({ Table: { CreationDateTime: new Date("2026-01-01T00:00:00Z") } });
    expect(
      await ledgerCreatedAt({ region: "us-west-2", environmentSuffix: "prod", client }),
    ).toEqual(new Date("2026-01-01T00:00:00Z"));
  });

  it("prints the drills' age, the trend and the runs", () => {
    const text = ledgerText(
      [
        entry({ kind: "failover-drill", endedAt: "2026-11-10T15:30:00.000Z", rtoSeconds: 1000 }),
        entry({
          kind: "restore-drill",
          endedAt: "2026-09-01T15:30:00.000Z",
          outcome: "failed",
          rtoSeconds: null,
        }),
      ],
      {
        now: new Date("2026-11-20T15:30:00.000Z"),
        since: new Date("2026-08-01T00:00:00Z"),
        maxDrillAgeDays: 40,
      },
    );
    expect(text).toContain("failover-drill  last passed 10.0 days ago; newest run succeeded");
    expect(text).toMatch(
      /restore-drill {3}never passed \(ledger started 111\.6 days ago\) OVERDUE \(over 40 days\); newest run failed/,
    );
    expect(text).toContain("16 min 40 s (over target)");
  });

  it("rejects an unknown option or a bad limit, naming it", () => {
    const defaults = { regions: ["us-west-2", "us-east-1"] };
    expect(parseArgs([], defaults)).toEqual({
      regions: ["us-west-2", "us-east-1"],
      limit: 20,
      format: "text",
    });
    expect(parseArgs(["--region", "us-east-1", "--html", "l.html"], defaults)).toEqual({
      regions: ["us-east-1"],
      limit: 20,
      format: "html",
      html: "l.html",
    });
    expect(() => parseArgs(["--limit", "0"], defaults)).toThrow(
      '--limit="0" is not allowed: a whole number from 1 to 500',
    );
    expect(() => parseArgs(["--all"], defaults)).toThrow(/unknown option\(s\) --all/);
    expect(() => parseArgs(["--region"], defaults)).toThrow("--region needs a value");
  });
});
