import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack } from "cdktf";
import { testingApp } from "../../infra/lib/testing-app";
import { ConfigError, loadConfig } from "../../infra/config";
import { GlobalDatabase } from "../../infra/constructs/database";
import { PlatformKey } from "../../infra/constructs/keys";
import { Network } from "../../infra/constructs/network";
import { Naming } from "../../infra/naming";
import { findResource, inRegion, resourceList, resources, synth, CUSTOM_ENV } from "./helpers";

describe("Aurora global database", () => {
  const { json, text } = synth();
  const clusters = resources(json, "aws_rds_cluster");
  const primary = findResource(json, "aws_rds_cluster", "primary-cluster");
  const secondary = findResource(json, "aws_rds_cluster", "secondary-cluster");
  const global = Object.values(resources(json, "aws_rds_global_cluster"));

  it("is one aurora-postgresql global cluster with the writer in us-east-1 and the reader in us-west-2", () => {
    expect(global).toHaveLength(1);
    expect(global[0]).toMatchObject({
      provider: "aws.primary",
      engine: "aurora-postgresql",
      engine_version: "16.6",
      global_cluster_identifier: "payments-global-dev",
      storage_encrypted: true,
      deletion_protection: false,
    });
    expect(Object.keys(clusters)).toHaveLength(2);
    expect(primary).toMatchObject({
      provider: "aws.primary",
      cluster_identifier: "payments-db-use1-dev",
    });
    expect(secondary).toMatchObject({
      provider: "aws.secondary",
      cluster_identifier: "payments-db-usw2-dev",
    });
    for (const cluster of [primary, secondary]) {
      expect(cluster.global_cluster_identifier).toMatch(/aws_rds_global_cluster\..*\.id/);
    }
  });

  it("pins one engine version on the global cluster, both members and every instance", () => {
    const versions = [
      global[0]!.engine_version,
      primary.engine_version,
      secondary.engine_version,
      ...resourceList(json, "aws_rds_cluster_instance").map((i) => i.engine_version),
    ];
    expect(new Set(versions)).toEqual(new Set(["16.6"]));
    // Automatic minor upgrades could move one region ahead of the other and block failover.
    expect(
      resourceList(json, "aws_rds_cluster_instance").every(
        (i) => i.auto_minor_version_upgrade === false,
      ),
    ).toBe(true);
  });

  it("runs a writer and a reader on db.r5.large in the primary and one instance in the secondary", () => {
    const instances = resourceList(json, "aws_rds_cluster_instance");
    expect(inRegion(instances, "primary")).toHaveLength(2);
    expect(inRegion(instances, "secondary")).toHaveLength(1);
    expect(
      instances.every((i) => i.instance_class === "db.r5.large" && i.publicly_accessible === false),
    ).toBe(true);
  });

  it("takes instance counts from config", () => {
    const { json: scaled } = synth(CUSTOM_ENV);
    const instances = resourceList(scaled, "aws_rds_cluster_instance");
    expect(inRegion(instances, "primary")).toHaveLength(3);
    expect(inRegion(instances, "secondary")).toHaveLength(2);
  });

  it("places each cluster's subnet group on that region's private subnets", () => {
    for (const role of ["primary", "secondary"] as const) {
      const group = findResource(json, "aws_db_subnet_group", `${role}-subnets`);
      expect(group.subnet_ids).toEqual(
        [0, 1, 2].map((i) => expect.stringContaining(`network-${role}_private-${i}_`)),
      );
    }
  });

  it("encrypts with a multi-Region key, naming the replica key explicitly on the secondary", () => {
    const key = findResource(json, "aws_kms_key", "storage-key");
    expect(key).toMatchObject({
      provider: "aws.primary",
      multi_region: true,
      enable_key_rotation: true,
    });
    const replica = findResource(json, "aws_kms_replica_key", "storage-key-replica");
    expect(replica).toMatchObject({ provider: "aws.secondary" });
    expect(replica.primary_key_arn).toMatch(/aws_kms_key\.database_storage-key_.*\.arn/);
    expect(primary.kms_key_id).toMatch(/aws_kms_key\.database_storage-key_.*\.arn/);
    expect(secondary.kms_key_id).toMatch(
      /aws_kms_replica_key\.database_storage-key-replica_.*\.arn/,
    );
    expect(primary.storage_encrypted).toBe(true);
    expect(secondary.storage_encrypted).toBe(true);
  });

  it("forces SSL and logging in both regions and guards the RPO only on the primary", () => {
    const params = (role: string) =>
      Object.fromEntries(
        (
          findResource(json, "aws_rds_cluster_parameter_group", `${role}-parameters`)
            .parameter as Array<{
            name: string;
            value: string;
          }>
        ).map((p) => [p.name, p.value]),
      );
    const { "rds.global_db_rpo": rpo, ...primaryRest } = params("primary");
    expect(rpo).toBe("60");
    expect(params("secondary")).toEqual(primaryRest);
    expect(primaryRest).toMatchObject({
      "rds.force_ssl": "1",
      log_statement: "ddl",
      log_min_duration_statement: "1000",
    });
    for (const role of ["primary", "secondary"]) {
      expect(
        findResource(json, "aws_rds_cluster_parameter_group", `${role}-parameters`).family,
      ).toBe("aurora-postgresql16");
    }
  });

  // The writer heartbeat that makes the RPO guard a proof the old primary stopped runs in pg_cron
  // (migration 010_writer_heartbeat.sql): loaded at start-up, and in the application's database.
  // Both regions, so the promoted secondary beats too.
  it("loads pg_cron in both regions for the writer heartbeat, in the application's database", () => {
    for (const role of ["primary", "secondary"]) {
      const group = findResource(json, "aws_rds_cluster_parameter_group", `${role}-parameters`);
      expect(group.parameter).toEqual(
        expect.arrayContaining([
          { name: "shared_preload_libraries", value: "pg_cron", apply_method: "pending-reboot" },
          { name: "cron.database_name", value: "payments", apply_method: "pending-reboot" },
        ]),
      );
    }
  });

  // The reconciliation's "committed at" reads pg_xact_commit_timestamp (functions/reconcile):
  // both regions, so the promoted secondary keeps recording; a server-start setting, so
  // pending-reboot (RDS refuses "immediate" for a static parameter), in either writer slot.
  it("records commit timestamps in both regions, applied at the next reboot", () => {
    const moved = synth({ WRITER_REGION: "us-west-2" }).json;
    for (const stack of [json, moved]) {
      for (const role of ["primary", "secondary"]) {
        const group = findResource(
          stack,
          "aws_rds_cluster_parameter_group",
          `database_${role}-parameters`,
        );
        const parameters = group.parameter as { name: string }[];
        expect(parameters.filter((p) => p.name === "track_commit_timestamp")).toEqual([
          { name: "track_commit_timestamp", value: "1", apply_method: "pending-reboot" },
        ]);
      }
    }
  });

  it("takes the RPO guard from config", () => {
    const { json: strict } = synth(CUSTOM_ENV);
    const group = findResource(strict, "aws_rds_cluster_parameter_group", "primary-parameters");
    expect(group.parameter).toContainEqual({
      name: "rds.global_db_rpo",
      value: "20",
      apply_method: "immediate",
    });
  });

  it("enables Performance Insights, enhanced monitoring and log exports", () => {
    for (const instance of resourceList(json, "aws_rds_cluster_instance")) {
      expect(instance).toMatchObject({
        performance_insights_enabled: true,
        monitoring_interval: 15,
      });
      expect(instance.monitoring_role_arn).toMatch(
        /aws_iam_role\.database_monitoring-role_.*\.arn/,
      );
    }
    expect(primary.enabled_cloudwatch_logs_exports).toEqual(["postgresql"]);
    expect(secondary.enabled_cloudwatch_logs_exports).toEqual(["postgresql"]);
    const logGroup = findResource(json, "aws_cloudwatch_log_group", "primary-postgresql-logs");
    expect(logGroup.name).toBe("/aws/rds/cluster/payments-db-use1-dev/postgresql");
  });

  it("is destroyable: no final snapshot, deletion protection off by default and on when configured", () => {
    for (const cluster of [primary, secondary]) {
      expect(cluster).toMatchObject({ skip_final_snapshot: true, deletion_protection: false });
    }
    const { json: protectedJson } = synth(CUSTOM_ENV);
    for (const cluster of resourceList(protectedJson, "aws_rds_cluster")) {
      expect(cluster.deletion_protection).toBe(true);
    }
  });

  it("ignores what a failover changes so an apply never undoes it", () => {
    for (const cluster of [primary, secondary]) {
      expect((cluster.lifecycle as { ignore_changes: string[] }).ignore_changes).toEqual(
        expect.arrayContaining(["replication_source_identifier", "global_cluster_identifier"]),
      );
    }
  });

  it("avoids backtrack, which global databases do not support", () => {
    for (const cluster of [primary, secondary]) expect(cluster.backtrack_window).toBeUndefined();
  });

  it("takes the master password from a sensitive variable and never writes it into the output", () => {
    for (const cluster of [primary, secondary])
      expect(cluster.manage_master_user_password).toBeUndefined();
    expect(primary.master_password).toBe("${var.db_master_password}");
    expect(secondary.master_password).toBeUndefined();
    expect(secondary.master_username).toBeUndefined();
    expect(json.variable?.db_master_password).toMatchObject({ sensitive: true, type: "string" });
    // Every value written for a password is a reference to the variable, never a literal.
    const passwordValues = [
      ...text.matchAll(/"(?:master_password|value)":\s*"([^"]*password[^"]*)"/g),
    ].map((m) => m[1]);
    expect(passwordValues.length).toBeGreaterThanOrEqual(3);
    expect(new Set(passwordValues)).toEqual(new Set(["${var.db_master_password}"]));
  });

  it("stores the password as a SecureString in both regions", () => {
    for (const role of ["primary", "secondary"] as const) {
      const parameter = findResource(json, "aws_ssm_parameter", `parameters-${role}_db-password`);
      expect(parameter).toMatchObject({
        provider: `aws.${role}`,
        name: "/payments/dev/db/password",
        type: "SecureString",
        value: "${var.db_master_password}",
      });
      expect(parameter.key_id).toMatch(new RegExp(`platform-key-${role}`));
    }
  });
});

describe("database bad input", () => {
  it.each(["13.7", "12.11", "11.16", "10.21", "14.3", "16.6"])(
    "accepts engine version %s, at or above aurora_db_instance_identifier()'s floor",
    (version) => {
      const config = loadConfig({
        DB_ENGINE_VERSION: version,
        DB_SECONDARY_ENGINE_VERSION: version,
      });
      expect(config.database.engineVersion).toBe(version);
    },
  );

  it.each([
    [
      { DB_RPO_SECONDS: "19" },
      'DB_RPO_SECONDS="19" is not allowed: a whole number from 20 to 86400',
    ],
    [
      { DB_INSTANCE_CLASS: "db.t3.medium" },
      'DB_INSTANCE_CLASS="db.t3.medium" is not allowed: a memory-optimized class',
    ],
    [{ DB_INSTANCE_CLASS: "db.m5.large" }, "memory-optimized"],
    [
      { DB_ENGINE_VERSION: "16.6", DB_SECONDARY_ENGINE_VERSION: "16.4" },
      'DB_SECONDARY_ENGINE_VERSION="16.4" is not allowed: the primary\'s version 16.6: managed failover needs identical engine versions',
    ],
    // Review 24-10l H1: below aurora_db_instance_identifier()'s floor every write would be
    // refused (aurora_db_instance_identifier.html: 13.7, 12.11, 11.16, 10.21 and later).
    [
      { DB_ENGINE_VERSION: "13.6" },
      'DB_ENGINE_VERSION="13.6" is not allowed: Aurora PostgreSQL 13.7, 12.11, 11.16, 10.21 or later within those majors, or any 14.x and later',
    ],
    [{ DB_ENGINE_VERSION: "12.10" }, 'DB_ENGINE_VERSION="12.10" is not allowed'],
    [{ DB_ENGINE_VERSION: "11.9" }, "aurora_db_instance_identifier()"],
    [{ DB_ENGINE_VERSION: "10.20" }, "aurora_db_instance_identifier.html"],
  ])("rejects %j at synth", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("rejects the same mistakes when the construct is used directly", () => {
    const base = loadConfig({}).database;
    const build = (database: typeof base) => {
      const app = testingApp();
      const stack = new TerraformStack(app, "t");
      const naming = new Naming("t");
      const region = (role: "primary" | "secondary") => {
        const config = loadConfig({})[role];
        const provider = new AwsProvider(stack, `p-${role}`, {
          region: config.region,
          alias: role,
        });
        const key = new PlatformKey(stack, `k-${role}`, {
          provider,
          naming,
          region: config.region,
        });
        const network = new Network(stack, `n-${role}`, {
          provider,
          naming,
          region: config,
          peerCidr: "10.99.0.0/16",
          key,
          logRetentionDays: 7,
        });
        return { provider, config, network, key };
      };
      new GlobalDatabase(stack, "db", {
        naming,
        database,
        primary: region("primary"),
        secondary: region("secondary"),
        masterPassword: "x",
        logRetentionDays: 7,
      });
    };
    expect(() => build({ ...base, rpoSeconds: 10 })).toThrow("rpo must be at least 20 s, got 10");
    expect(() => build({ ...base, instanceClass: "db.t4g.medium" })).toThrow(
      /memory-optimized.*got db.t4g.medium/,
    );
    expect(() => build({ ...base, secondaryEngineVersion: "16.2" })).toThrow(
      "engine versions must match for managed failover, got 16.6 and 16.2",
    );
  });
});

describe("DynamoDB global tables", () => {
  const { json } = synth();
  const tables = resources(json, "aws_dynamodb_table");
  const byName = (name: string) => Object.values(tables).find((t) => t.name === name)!;

  it.each([
    ["payments-sessions-dev", "sessionId", "expiresAt"],
    ["payments-control-dev", "pk", "expiresAt"],
    ["payments-idempotency-dev", "id", "expiration"],
  ])("%s is an on-demand global table keyed by %s with TTL on %s", (name, key, ttl) => {
    const table = byName(name);
    expect(table).toMatchObject({
      provider: "aws.primary",
      billing_mode: "PAY_PER_REQUEST",
      hash_key: key,
      attribute: [{ name: key, type: "S" }],
      ttl: { attribute_name: ttl, enabled: true },
      stream_enabled: true,
      stream_view_type: "NEW_AND_OLD_IMAGES",
    });
    expect(table.range_key).toBeUndefined();
  });

  it("turns on PITR on every table and explicitly on every replica", () => {
    for (const table of Object.values(tables)) {
      expect(table.point_in_time_recovery).toEqual({ enabled: true });
      const replicas = table.replica as Array<Record<string, unknown>>;
      expect(replicas).toHaveLength(1);
      expect(replicas[0]).toMatchObject({ region_name: "us-west-2", point_in_time_recovery: true });
    }
  });

  it("encrypts every table and replica with the CMK of its own region", () => {
    for (const table of Object.values(tables)) {
      expect((table.server_side_encryption as { kms_key_arn: string }).kms_key_arn).toMatch(
        /platform-key-primary/,
      );
      expect((table.server_side_encryption as { enabled: boolean }).enabled).toBe(true);
      expect(String((table.replica as Array<{ kms_key_arn: string }>)[0]!.kms_key_arn)).toMatch(
        /platform-key-secondary/,
      );
    }
  });
});

describe("AWS Backup", () => {
  const { json } = synth();

  it("has a KMS-encrypted, destroyable vault in each region", () => {
    const vaults = resourceList(json, "aws_backup_vault");
    expect(vaults.map((v) => [v.provider, v.name])).toEqual([
      ["aws.primary", "payments-vault-use1-dev"],
      ["aws.secondary", "payments-vault-usw2-dev"],
    ]);
    for (const vault of vaults) {
      expect(vault.force_destroy).toBe(true);
      expect(vault.kms_key_arn).toMatch(/aws_kms_key\.platform-key-/);
    }
  });

  it("backs up daily in the primary, keeps 7 days and copies to the secondary vault for 7 days", () => {
    const plan = findResource(json, "aws_backup_plan", "primary-plan");
    expect(plan.provider).toBe("aws.primary");
    const [rule] = plan.rule as Array<Record<string, unknown>>;
    expect(rule).toMatchObject({
      schedule: "cron(0 3 * * ? *)",
      lifecycle: { delete_after: 7 },
      enable_continuous_backup: true,
      copy_action: [{ lifecycle: { delete_after: 7 } }],
    });
    expect(String(rule!.target_vault_name)).toMatch(/primary-vault/);
    expect(
      String(
        (rule!.copy_action as Array<{ destination_vault_arn: string }>)[0]!.destination_vault_arn,
      ),
    ).toMatch(/secondary-vault/);
  });

  it("mirrors the plan in the secondary region, copying back, for after a failover", () => {
    const plan = findResource(json, "aws_backup_plan", "secondary-plan");
    expect(plan.provider).toBe("aws.secondary");
    const [rule] = plan.rule as Array<Record<string, unknown>>;
    expect(String(rule!.target_vault_name)).toMatch(/secondary-vault/);
    expect(
      String(
        (rule!.copy_action as Array<{ destination_vault_arn: string }>)[0]!.destination_vault_arn,
      ),
    ).toMatch(/primary-vault/);
  });

  it("selects the Aurora cluster and the three tables in each region", () => {
    const primary = findResource(json, "aws_backup_selection", "primary-selection");
    expect(primary.resources).toEqual([
      expect.stringMatching(/aws_rds_cluster\.database_primary-cluster_.*\.arn/),
      expect.stringMatching(/aws_dynamodb_table\.tables_sessions_.*\.arn/),
      expect.stringMatching(/aws_dynamodb_table\.tables_control_.*\.arn/),
      expect.stringMatching(/aws_dynamodb_table\.tables_idempotency_.*\.arn/),
    ]);
    const secondary = findResource(json, "aws_backup_selection", "secondary-selection");
    expect(secondary.resources).toEqual([
      expect.stringMatching(/aws_rds_cluster\.database_secondary-cluster_.*\.arn/),
      expect.stringMatching(/^arn:aws:dynamodb:us-west-2:.*:table\/payments-sessions-dev$/),
      expect.stringMatching(/^arn:aws:dynamodb:us-west-2:.*:table\/payments-control-dev$/),
      expect.stringMatching(/^arn:aws:dynamodb:us-west-2:.*:table\/payments-idempotency-dev$/),
    ]);
  });

  it("uses a service role with AWS's managed backup and restore policies", () => {
    const role = findResource(json, "aws_iam_role", "backup_role");
    expect(role.name).toBe("payments-backup-dev");
    const attached = Object.entries(resources(json, "aws_iam_role_policy_attachment"))
      .filter(([name]) => name.startsWith("backup_"))
      .map(([, a]) => a.policy_arn);
    expect(attached).toEqual([
      "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
      "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    ]);
  });
});

describe("Parameter Store", () => {
  const { json } = synth();
  const params = resourceList(json, "aws_ssm_parameter");

  it("holds the same names in both regions under /payments/<suffix>/", () => {
    const names = (role: "primary" | "secondary") =>
      inRegion(params, role)
        .map((p) => p.name)
        .sort();
    expect(names("primary")).toEqual(names("secondary"));
    expect(names("primary")).toEqual(
      expect.arrayContaining([
        "/payments/dev/db/writer-endpoint",
        "/payments/dev/db/reader-endpoint",
        "/payments/dev/db/cluster-endpoint",
        "/payments/dev/active-region",
        "/payments/dev/api/keys",
        "/payments/dev/api/dr-verify-key",
      ]),
    );
  });

  it("points the writer endpoint at the global writer and the others at each region's cluster", () => {
    for (const role of ["primary", "secondary"] as const) {
      const param = (key: string) =>
        inRegion(params, role).find((p) => p.name === `/payments/dev/${key}`)!;
      expect(param("db/writer-endpoint").value).toMatch(/aws_rds_global_cluster\..*\.endpoint/);
      expect(param("db/reader-endpoint").value).toMatch(
        new RegExp(`database_${role}-cluster_.*\\.reader_endpoint`),
      );
      expect(param("db/cluster-endpoint").value).toMatch(
        new RegExp(`database_${role}-cluster_.*\\.endpoint`),
      );
      expect(param("active-region").value).toBe("us-east-1");
      expect(param("api/keys")).toMatchObject({ type: "SecureString" });
      expect(param("api/keys").key_id).toMatch(new RegExp(`platform-key-${role}`));
      // Hashes bound to merchants (test/infra/api-key-store.test.ts evaluates it for real).
      expect(param("api/keys").value).toMatch(/^\$\{jsonencode\(.*sha256\(/);
      expect(param("api/dr-verify-key")).toMatchObject({
        type: "SecureString",
        value: "${var.payments_dr_api_key}",
      });
      expect(param("api/dr-verify-key").key_id).toMatch(new RegExp(`platform-key-${role}`));
    }
  });

  it("lets the orchestrator own the values it rewrites during a failover", () => {
    const owned = params.filter(
      (p) => (p.lifecycle as { ignore_changes?: string[] } | undefined)?.ignore_changes,
    );
    expect(owned.map((p) => p.name).sort()).toEqual([
      "/payments/dev/active-region",
      "/payments/dev/active-region",
      "/payments/dev/db/writer-endpoint",
      "/payments/dev/db/writer-endpoint",
    ]);
    expect(owned.every((p) => JSON.stringify(p.lifecycle) === '{"ignore_changes":["value"]}')).toBe(
      true,
    );
  });
});

describe("outputs", () => {
  it("exposes the endpoints, ARNs and names operators need", () => {
    const { json } = synth();
    expect(Object.keys(json.output ?? {})).toEqual(
      expect.arrayContaining([
        "global_cluster_identifier",
        "global_writer_endpoint",
        "primary_cluster_arn",
        "secondary_cluster_arn",
        "primary_reader_endpoint",
        "secondary_reader_endpoint",
        "sessions_table",
        "control_table",
        "idempotency_table",
        "parameter_prefix",
      ]),
    );
  });
});
