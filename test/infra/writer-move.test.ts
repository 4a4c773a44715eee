// Moving WRITER_REGION keeps every data store. In `npm test`, fast and without terraform: both
// settings synthesized side by side have the same data stores under the same addresses and
// identities, the same moved/import blocks, and every argument of a data store that differs
// between them is one Terraform ignores or one the provider updates in place (the full plan
// proved which); a planted regression (the cluster's user no longer ignored) must be reported.
// The full proof against the real AWS provider, offline, is `npm run writer-check` (both
// directions, ~4 min on 2 cores) and the planned test at the bottom, run with
// WRITER_CHECK_PLAN=1 (`npm run test:writer-plan`): the state an apply of the us-east-1 setting
// leaves, re-planned as it is (the control), then the us-west-2 setting planned in full against
// it, and the planted regression reported as a replaced database by the provider itself.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contractLines, DATA_STORE_TYPES, WRITER_MOVED_ENV } from "../../infra/lib/addresses";
import { findProviderMirror, terraformVersion } from "../../infra/lib/offline-plan";
import type { SynthesizedStack, TerraformJson } from "../../infra/lib/synthesized";
import { readStacks } from "../../infra/lib/synthesized";
import type { WriterMoveReport } from "../../infra/lib/writer-move";
import {
  checkWriterMove,
  dataStoreAddresses,
  formatWriterMove,
  lostDataStores,
} from "../../infra/lib/writer-move";
import { runSynthAsync } from "./synth-process";

// Minutes of terraform on a shared 2-core machine: only on request (npm run test:writer-plan).
const planIt =
  process.env.WRITER_CHECK_PLAN === "1" && (terraformVersion() || process.env.CI === "true")
    ? it
    : it.skip;

/**
 * Arguments of a data store the provider updates in place when the writer moves (the full plan
 * of `npm run writer-check` shows them as updates): the password follows the writer.
 */
const IN_PLACE: Readonly<Record<string, readonly string[]>> = {
  aws_rds_cluster: ["master_password", "depends_on"],
};

/** Every data-store argument that differs between `a` and `b` and would not be left alone. */
function unsafeDifferences(a: TerraformJson, b: TerraformJson): string[] {
  const found: string[] = [];
  for (const type of Object.keys(DATA_STORE_TYPES)) {
    const before = (a.resource?.[type] ?? {}) as Record<string, Record<string, unknown>>;
    const after = (b.resource?.[type] ?? {}) as Record<string, Record<string, unknown>>;
    for (const [name, was] of Object.entries(before)) {
      const now = after[name];
      if (!now) continue; // a missing address is the address check's finding
      const ignored =
        (now.lifecycle as { ignore_changes?: string[] } | undefined)?.ignore_changes ?? [];
      for (const key of new Set([...Object.keys(was), ...Object.keys(now)])) {
        // lifecycle is Terraform's, not an argument: its ignore_changes is read above.
        if (key === "lifecycle" || JSON.stringify(was[key]) === JSON.stringify(now[key])) continue;
        if (ignored.includes(key) || IN_PLACE[type]?.includes(key)) continue;
        found.push(`${type}.${name}.${key}`);
      }
    }
  }
  return found.sort();
}

function withoutIgnoredUser(json: TerraformJson): TerraformJson {
  const copy = structuredClone(json) as {
    resource: { aws_rds_cluster: Record<string, { lifecycle: { ignore_changes: string[] } }> };
  };
  for (const cluster of Object.values(copy.resource.aws_rds_cluster)) {
    cluster.lifecycle.ignore_changes = cluster.lifecycle.ignore_changes.filter(
      (a) => a !== "master_username",
    );
  }
  return copy as unknown as TerraformJson;
}

/** A copy of `stack` whose Terraform JSON `edit` changed, as a regression would. */
function planted(stack: SynthesizedStack, into: string, edit: (json: never) => void) {
  cpSync(join(stack.dir, "..", ".."), into, { recursive: true });
  const [copy] = readStacks(into);
  const file = join(copy!.dir, "cdk.tf.json");
  const json = JSON.parse(readFileSync(file, "utf8")) as never;
  edit(json);
  writeFileSync(file, JSON.stringify(json));
  return readStacks(into)[0]!;
}

describe("moving WRITER_REGION from us-east-1 to us-west-2", () => {
  let scratch: string;
  let east: SynthesizedStack;
  let west: SynthesizedStack;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "writer-move-"));
    const results = await Promise.all(
      [
        ["east", { ENVIRONMENT_SUFFIX: "wm" }],
        ["west", { ENVIRONMENT_SUFFIX: "wm", ...WRITER_MOVED_ENV }],
      ].map(([name, env]) =>
        runSynthAsync(env as Record<string, string>, join(scratch, name as string)),
      ),
    );
    for (const result of results) expect(result).toEqual({ status: 0, stderr: "" });
    east = readStacks(join(scratch, "east"))[0]!;
    west = readStacks(join(scratch, "west"))[0]!;
  }, 90_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("plans every data store of both settings: clusters, global cluster, tables, flag, vaults, keys", () => {
    const stores = dataStoreAddresses(east.json);
    expect(dataStoreAddresses(west.json)).toEqual(stores);
    for (const type of [
      "aws_rds_cluster.",
      "aws_rds_global_cluster.",
      "aws_dynamodb_table.",
      "aws_dynamodb_table_item.",
      "aws_backup_vault.",
      "aws_kms_key.",
      "aws_kms_replica_key.",
    ]) {
      expect(stores.some((a) => a.startsWith(type))).toBe(true);
    }
  });

  it("keeps every data store's address, identity and moved/import blocks in both settings", () => {
    const stores = (json: TerraformJson) =>
      contractLines(json).filter((l) => DATA_STORE_TYPES[l.slice(0, l.indexOf("."))]);
    expect(stores(west.json)).toEqual(stores(east.json));
    const blocks = (json: TerraformJson) => {
      const j = json as { moved?: unknown; import?: unknown };
      return { moved: j.moved ?? null, import: j.import ?? null };
    };
    expect(blocks(west.json)).toEqual(blocks(east.json));
  });

  it("changes only ignored or in-place arguments of a data store when the writer moves", () => {
    expect(unsafeDifferences(east.json, west.json)).toEqual([]);
    expect(unsafeDifferences(west.json, east.json)).toEqual([]);
  });

  it("reports the planted regression: the clusters' user no longer ignored", () => {
    const found = unsafeDifferences(east.json, withoutIgnoredUser(west.json));
    expect(found).toEqual([
      expect.stringMatching(/^aws_rds_cluster\.database_primary-cluster_\w+\.master_username$/),
      expect.stringMatching(/^aws_rds_cluster\.database_secondary-cluster_\w+\.master_username$/),
    ]);
  });

  planIt(
    "destroys and replaces no data store, and reports the planted replacement of a database",
    () => {
      const regression = planted(
        west,
        join(scratch, "planted"),
        (json: {
          resource: {
            aws_rds_cluster: Record<string, { lifecycle: { ignore_changes: string[] } }>;
          };
        }) => {
          for (const cluster of Object.values(json.resource.aws_rds_cluster)) {
            cluster.lifecycle.ignore_changes = cluster.lifecycle.ignore_changes.filter(
              (a) => a !== "master_username",
            );
          }
        },
      );
      let report: WriterMoveReport;
      try {
        report = checkWriterMove(
          { name: "us-east-1", stack: east },
          [
            { name: "us-west-2", stack: west, fullPlan: true },
            { name: "planted", stack: regression },
          ],
          { mirror: findProviderMirror() },
        );
      } catch (error) {
        throw new Error((error as Error).message.slice(0, 3000), { cause: error });
      }
      const [move, plantedMove] = report.moves;
      const explain = formatWriterMove(report);

      // The control: the state is what an apply of us-east-1 leaves, or the rest proves nothing.
      expect(report.control.destructions).toEqual([]);
      expect(report.stateResources).toBeGreaterThan(report.dataStores.length);

      // The full plan of the us-west-2 setting passes, destroying only the extra reader instance.
      expect(move!.summary).toMatch(/^Plan: \d+ to add, \d+ to change, 1 to destroy\.$/);
      expect(lostDataStores(move!)).toEqual([]);
      expect(move!.destructions).toEqual([
        {
          address: expect.stringMatching(/^aws_rds_cluster_instance\.database_primary-instance-1_/),
          action: "delete",
          because: [],
          dataStore: false,
        },
      ]);
      // What moving the writer changes in place: the RPO guard and the password follow it.
      expect(move!.updates).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^aws_rds_cluster\.database_primary-cluster_/),
          expect.stringMatching(/^aws_rds_cluster\.database_secondary-cluster_/),
          expect.stringMatching(/^aws_rds_cluster_parameter_group\.database_primary-parameters_/),
          expect.stringMatching(/^aws_rds_cluster_parameter_group\.database_secondary-parameters_/),
        ]),
      );

      // The planted regression: the new writer's user differs from what its state holds, and
      // the provider replaces the database for it.
      expect(lostDataStores(plantedMove!)).toEqual([
        {
          address: expect.stringMatching(/^aws_rds_cluster\.database_secondary-cluster_/),
          action: "replace",
          because: ["master_username"],
          dataStore: true,
        },
      ]);
      expect(explain).toMatch(
        /DATA STORE replace aws_rds_cluster\.database_secondary-cluster_\w+ \(forced by master_username\)/,
      );
    },
    300_000,
  );
});
