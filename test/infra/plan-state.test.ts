// The state an apply of a plan would leave: known values kept, references resolved the way an
// apply resolves them, everything else a deterministic fake of the schema's type.
import type { PlanJson, ResourceSchema } from "../../infra/lib/plan-state";
import { FAKE_ACCOUNT, PlanStateError, stateFromPlan } from "../../infra/lib/plan-state";
import { summarize } from "../../infra/lib/writer-move";

const SCHEMAS: Record<string, ResourceSchema> = {
  aws_kms_key: {
    version: 0,
    block: {
      attributes: {
        arn: { type: "string", computed: true },
        id: { type: "string", computed: true },
        key_id: { type: "string", computed: true },
        multi_region: { type: "bool", optional: true },
      },
    },
  },
  aws_rds_cluster: {
    version: 1,
    block: {
      attributes: {
        id: { type: "string", computed: true },
        cluster_identifier: { type: "string", optional: true },
        kms_key_id: { type: "string", optional: true, computed: true },
        master_username: { type: "string", optional: true, computed: true },
        master_password: { type: "string", optional: true },
        master_password_wo: { type: "string", optional: true, write_only: true },
        port: { type: "number", optional: true, computed: true },
        cluster_members: { type: ["set", "string"], optional: true, computed: true },
        log_destination: { type: "string", optional: true },
        policy: { type: "string", optional: true },
      },
      block_types: {
        serverlessv2_scaling_configuration: {
          nesting_mode: "list",
          block: { attributes: { max_capacity: { type: "number", optional: true } } },
        },
      },
    },
  },
};

const CONFIG = {
  provider: { aws: [{ alias: "primary", region: "us-east-1" }] },
  resource: {
    aws_kms_key: { key: { provider: "aws.primary", multi_region: true } },
    aws_rds_cluster: {
      db: {
        provider: "aws.primary",
        cluster_identifier: "payments-db-use1-dev",
        kms_key_id: "${aws_kms_key.key.arn}",
        log_destination: "${aws_kms_key.key.arn}:*",
        policy: '${jsonencode({"k" = aws_kms_key.key.arn})}',
        master_password: "${var.db_master_password}",
      },
    },
  },
};

const PLAN: PlanJson = {
  terraform_version: "1.11.4",
  planned_values: {
    root_module: {
      resources: [
        {
          address: "aws_kms_key.key",
          mode: "managed",
          type: "aws_kms_key",
          name: "key",
          provider_name: "registry.terraform.io/hashicorp/aws",
          schema_version: 0,
          values: { multi_region: true },
        },
        {
          address: "aws_rds_cluster.db",
          mode: "managed",
          type: "aws_rds_cluster",
          name: "db",
          provider_name: "registry.terraform.io/hashicorp/aws",
          schema_version: 1,
          values: {
            cluster_identifier: "payments-db-use1-dev",
            master_password: "secret",
            master_password_wo: null,
            serverlessv2_scaling_configuration: [],
          },
        },
      ],
    },
  },
  resource_changes: [
    {
      address: "aws_kms_key.key",
      mode: "managed",
      type: "aws_kms_key",
      name: "key",
      provider_name: "registry.terraform.io/hashicorp/aws",
      change: { actions: ["create"], after_unknown: { arn: true, id: true, key_id: true } },
    },
    {
      address: "aws_rds_cluster.db",
      mode: "managed",
      type: "aws_rds_cluster",
      name: "db",
      provider_name: "registry.terraform.io/hashicorp/aws",
      change: {
        actions: ["create"],
        after_unknown: {
          id: true,
          kms_key_id: true,
          master_username: true,
          port: true,
          cluster_members: true,
          log_destination: true,
          policy: true,
        },
        after_sensitive: { master_password: true },
      },
    },
  ],
};

describe("the state a plan leaves", () => {
  const state = stateFromPlan(PLAN, CONFIG, SCHEMAS);
  const byType = (type: string) =>
    state.resources.find((r) => r.type === type)!.instances[0]!.attributes;
  const key = byType("aws_kms_key");
  const db = byType("aws_rds_cluster");

  it("writes state version 4 with each resource under its aliased provider and schema version", () => {
    expect(state).toMatchObject({ version: 4, terraform_version: "1.11.4", serial: 1 });
    expect(state.lineage).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(
      state.resources.map((r) => [r.type, r.provider, r.instances[0]!.schema_version]),
    ).toEqual([
      ["aws_kms_key", 'provider["registry.terraform.io/hashicorp/aws"].primary', 0],
      ["aws_rds_cluster", 'provider["registry.terraform.io/hashicorp/aws"].primary', 1],
    ]);
  });

  it("gives an argument set to a reference exactly the value the reference has", () => {
    expect(key.arn).toMatch(
      new RegExp(`^arn:aws:kms:us-east-1:${FAKE_ACCOUNT}:aws_kms_key/[0-9a-f]{12}$`),
    );
    expect(db.kms_key_id).toBe(key.arn);
    expect(db.log_destination).toBe(`${String(key.arn)}:*`);
  });

  it("fakes what no plain reference determines, by the schema's type", () => {
    expect(db.policy).toMatch(/^fake-policy-[0-9a-f]{12}$/);
    expect(db.master_username).toMatch(/^fake-master_username-/);
    expect(db.port).toBe(0);
    expect(db.cluster_members).toEqual([]);
    expect(db.id).toBe("payments-db-use1-dev");
    expect(key.id).toBe(key.key_id);
    expect(key.key_id).toMatch(/^mrk-[0-9a-f]{32}$/);
  });

  it("keeps known values, empties write-only ones and marks sensitive ones", () => {
    expect(db).toMatchObject({
      cluster_identifier: "payments-db-use1-dev",
      master_password: "secret",
      master_password_wo: null,
      serverlessv2_scaling_configuration: [],
    });
    const instance = state.resources[1]!.instances[0]!;
    expect(instance.sensitive_attributes).toEqual([
      [{ type: "get_attr", value: "master_password" }],
    ]);
  });

  it("is the same state for the same plan, run after run", () => {
    expect(stateFromPlan(PLAN, CONFIG, SCHEMAS)).toEqual(state);
  });

  it("rejects a resource type the provider schema does not have", () => {
    expect(() => stateFromPlan(PLAN, CONFIG, { aws_kms_key: SCHEMAS.aws_kms_key! })).toThrow(
      new PlanStateError("no provider schema for aws_rds_cluster"),
    );
  });
});

describe("reading a plan for destruction", () => {
  it("counts deletes and replacements, names data stores and what forced a replacement", () => {
    const summary = summarize(
      [
        { address: "aws_rds_cluster.a", action: "replace", reason: "cannot_update" },
        { address: "aws_rds_cluster_instance.b", action: "delete" },
        { address: "aws_rds_cluster_parameter_group.c", action: "update" },
        { address: "aws_lambda_function.d", action: "create" },
        { address: "aws_kms_key.e", action: "noop" },
      ],
      new Set(["aws_rds_cluster.a", "aws_kms_key.e"]),
      () => ({
        terraform_version: "1.11.4",
        resource_changes: [
          {
            address: "aws_rds_cluster.a",
            mode: "managed",
            type: "aws_rds_cluster",
            name: "a",
            provider_name: "aws",
            change: { actions: ["delete", "create"], replace_paths: [["master_username"]] },
          },
        ],
      }),
    );
    expect(summary).toEqual({
      creates: 1,
      updates: ["aws_rds_cluster_parameter_group.c"],
      destructions: [
        {
          address: "aws_rds_cluster.a",
          action: "replace",
          because: ["master_username"],
          dataStore: true,
        },
        { address: "aws_rds_cluster_instance.b", action: "delete", because: [], dataStore: false },
      ],
    });
  });
});
