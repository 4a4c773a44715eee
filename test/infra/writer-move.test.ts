// Moving WRITER_REGION against the real AWS provider, offline, as `npm run writer-check` does:
// the state an apply of the us-east-1 setting leaves, re-planned as it is (the control), then
// the us-west-2 setting planned in full against it. And a planted regression (the cluster's
// user no longer ignored, so the provider's ForceNew on master_username applies) that the
// check must report as a replaced database.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WRITER_MOVED_ENV } from "../../infra/lib/addresses";
import { findProviderMirror, terraformVersion } from "../../infra/lib/offline-plan";
import type { SynthesizedStack } from "../../infra/lib/synthesized";
import { readStacks } from "../../infra/lib/synthesized";
import type { WriterMoveReport } from "../../infra/lib/writer-move";
import {
  checkWriterMove,
  dataStoreAddresses,
  formatWriterMove,
  lostDataStores,
} from "../../infra/lib/writer-move";
import { runSynthAsync } from "./synth-process";

const planIt = terraformVersion() || process.env.CI === "true" ? it : it.skip;

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
