// Resource addresses are a contract with deployed state: a changed address destroys and
// re-creates the resource. The recorded lists (test/fixtures/addresses/) change only on purpose.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ADDRESS_CONTRACTS,
  ADDRESSES_DIR,
  compareAddresses,
  describeChanges,
  hasChanges,
  contractLines,
  parseAddresses,
  resourceAddresses,
} from "../../infra/lib/addresses";
import { synth } from "./helpers";

const ROOT = join(__dirname, "../..");

describe("synthesized resource addresses", () => {
  it.each(Object.entries(ADDRESS_CONTRACTS))(
    "keeps every recorded address of the %s synth",
    (name, env) => {
      const file = join(ADDRESSES_DIR, `${name}.txt`);
      const recorded = parseAddresses(readFileSync(join(ROOT, file), "utf8"));
      const changes = compareAddresses(recorded, contractLines(synth({ ...env }).json));
      if (hasChanges(changes)) throw new Error(describeChanges(name, file, changes));
      expect(recorded.length).toBeGreaterThan(400);
    },
  );

  it("names the data stores a renamed construct would destroy, and how to accept a deliberate change", () => {
    const recorded = [
      "aws_dynamodb_table.tables_control_B6A05424",
      "aws_lambda_function.payments-primary_authorize_function_1A2B3C4D",
      "aws_rds_cluster.database_primary-cluster_11111111",
    ];
    const current = [
      "aws_dynamodb_table.tables_control_B6A05424",
      "aws_lambda_function.payments-primary_authorize_function_9F9F9F9F",
      "aws_rds_cluster.database_writer-cluster_22222222",
    ];
    const changes = compareAddresses(recorded, current);
    expect(changes.dataStoresLost).toEqual(["aws_rds_cluster.database_primary-cluster_11111111"]);
    const message = describeChanges("default", "test/fixtures/addresses/default.txt", changes);
    expect(message).toContain(
      "DATA LOSS: terraform apply would destroy these data stores and create empty ones:\n  aws_rds_cluster.database_primary-cluster_11111111 (Aurora cluster (the payments database))",
    );
    expect(message).toContain("- aws_lambda_function.payments-primary_authorize_function_1A2B3C4D");
    expect(message).toContain("+ aws_rds_cluster.database_writer-cluster_22222222");
    expect(message).toContain("npm run addresses -- --update");
  });

  it("reports a new resource without calling it data loss", () => {
    const changes = compareAddresses(["aws_s3_bucket.a {}"], ["aws_s3_bucket.a {}", "aws_vpc.b"]);
    expect(changes).toEqual({
      removed: [],
      added: ["aws_vpc.b"],
      dataStoresLost: [],
      otherChanges: [],
    });
    expect(describeChanges("x", "f", changes)).not.toContain("DATA LOSS");
  });

  it("names a data store replaced under the same address because an identifying argument changed", () => {
    const before = contractLines({
      resource: { aws_dynamodb_table: { t: { name: "payments-control-dev", hash_key: "pk" } } },
    });
    const after = contractLines({
      resource: { aws_dynamodb_table: { t: { name: "payments-control-dev", hash_key: "id" } } },
    });
    const changes = compareAddresses(before, after);
    expect(changes.dataStoresLost).toEqual([
      'aws_dynamodb_table.t replaced: identity was {"name":"payments-control-dev","hash_key":"pk","provider":null}, now {"name":"payments-control-dev","hash_key":"id","provider":null}',
    ]);
    expect(describeChanges("default", "f", changes)).toContain("DATA LOSS");
  });

  it("counts a renamed output or variable as breaking for operators", () => {
    const before = contractLines({ output: { hosted_zone_name_servers: {} }, variable: { v: {} } });
    const changes = compareAddresses(before, contractLines({ output: { name_servers: {} } }));
    expect(describeChanges("default", "f", changes)).toContain(
      "removed outputs or variables (operators' scripts and TF_VAR_ settings that use them break):\n  - output.hosted_zone_name_servers\n  - var.v",
    );
  });

  it("treats only the parameters the orchestrator rewrites as state", () => {
    const lines = contractLines({
      resource: {
        aws_ssm_parameter: {
          flag: { name: "/p/active-region", lifecycle: { ignore_changes: ["value"] } },
          url: { name: "/p/api/url" },
        },
      },
    });
    expect(lines).toEqual([
      'aws_ssm_parameter.flag {"name":"/p/active-region","provider":null}',
      "aws_ssm_parameter.url",
    ]);
  });

  it("reads every managed resource of the synthesized JSON, not data sources", () => {
    expect(
      resourceAddresses({
        resource: { aws_kms_key: { k: {} }, aws_vpc: { v: {}, a: {} } },
        data: { aws_iam_policy_document: { d: {} } },
      }),
    ).toEqual(["aws_kms_key.k", "aws_vpc.a", "aws_vpc.v"]);
  });
});
