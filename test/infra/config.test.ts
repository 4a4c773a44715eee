import { ConfigError, loadConfig } from "../../infra/config";

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a config error for ${JSON.stringify(env)}`);
}

describe("config", () => {
  it("defaults to a dev environment in us-east-1 and us-west-2 with three zones each", () => {
    const config = loadConfig({});
    expect(config.environmentSuffix).toBe("dev");
    expect(config.primary).toEqual({
      role: "primary",
      region: "us-east-1",
      azs: ["us-east-1a", "us-east-1b", "us-east-1c"],
      vpcCidr: "10.10.0.0/16",
    });
    expect(config.secondary.region).toBe("us-west-2");
    expect(config.secondary.azs).toEqual(["us-west-2a", "us-west-2b", "us-west-2c"]);
    expect(config.natGateways).toBe("per-az");
    expect(config.domainName).toBeUndefined();
    expect(config.stateBackend).toBeUndefined();
  });

  it("derives zone defaults for other regions", () => {
    const config = loadConfig({ PRIMARY_REGION: "eu-west-1", SECONDARY_REGION: "eu-central-1" });
    expect(config.primary.azs).toEqual(["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
    expect(config.secondary.azs).toEqual(["eu-central-1a", "eu-central-1b", "eu-central-1c"]);
  });

  it("reads every documented setting", () => {
    const config = loadConfig({
      ENVIRONMENT_SUFFIX: "prod01",
      PRIMARY_AZS: "us-east-1a,us-east-1b,us-east-1d",
      NAT_GATEWAYS: "single",
      DOMAIN_NAME: "pay.acme-payments.io",
      ALERT_EMAIL: "oncall@acme-payments.io",
      TF_STATE_BUCKET: "acme-tf-state",
      TF_STATE_KEY: "dr/prod01.tfstate",
    });
    expect(config.environmentSuffix).toBe("prod01");
    expect(config.primary.azs).toEqual(["us-east-1a", "us-east-1b", "us-east-1d"]);
    expect(config.natGateways).toBe("single");
    expect(config.domainName).toBe("pay.acme-payments.io");
    expect(config.alertEmail).toBe("oncall@acme-payments.io");
    // The state bucket defaults to the secondary region: the primary may be the one that is down.
    expect(config.stateBackend).toEqual({
      bucket: "acme-tf-state",
      key: "dr/prod01.tfstate",
      region: "us-west-2",
    });
  });

  it.each([
    [
      { ENVIRONMENT_SUFFIX: "Prod" },
      'ENVIRONMENT_SUFFIX="Prod" is not allowed: 2 to 8 lowercase letters or digits',
    ],
    [
      { ENVIRONMENT_SUFFIX: "d" },
      'ENVIRONMENT_SUFFIX="d" is not allowed: 2 to 8 lowercase letters or digits',
    ],
    [{ ENVIRONMENT_SUFFIX: "toolongxx" }, 'ENVIRONMENT_SUFFIX="toolongxx" is not allowed'],
    [{ ENVIRONMENT_SUFFIX: "dev-1" }, 'ENVIRONMENT_SUFFIX="dev-1" is not allowed'],
    [{ PRIMARY_REGION: "us-east" }, 'PRIMARY_REGION="us-east" is not allowed: an AWS region code'],
    [{ SECONDARY_REGION: "Mars-1" }, 'SECONDARY_REGION="Mars-1" is not allowed'],
    [
      { PRIMARY_AZS: "us-east-1a,us-east-1b" },
      'PRIMARY_AZS="us-east-1a,us-east-1b" is not allowed: three distinct zones of us-east-1',
    ],
    [{ SECONDARY_AZS: "us-east-1a,us-east-1b,us-east-1c" }, "three distinct zones of us-west-2"],
    [{ PRIMARY_AZS: "us-east-1a,us-east-1a,us-east-1b" }, "three distinct zones"],
    [
      { PRIMARY_VPC_CIDR: "10.10.0.0/8" },
      'PRIMARY_VPC_CIDR="10.10.0.0/8" is not allowed: an IPv4 network address with a prefix from /16 to /24',
    ],
    [{ PRIMARY_VPC_CIDR: "10.10.1.0/16" }, "PRIMARY_VPC_CIDR"],
    [
      { SECONDARY_VPC_CIDR: "10.10.128.0/17" },
      'SECONDARY_VPC_CIDR="10.10.128.0/17" is not allowed: a range that does not overlap PRIMARY_VPC_CIDR 10.10.0.0/16',
    ],
    [{ NAT_GATEWAYS: "none" }, 'NAT_GATEWAYS="none" is not allowed: one of per-az, single'],
    [{ DOMAIN_NAME: "Not A Domain" }, 'DOMAIN_NAME="Not A Domain" is not allowed'],
    [{ ALERT_EMAIL: "oncall" }, 'ALERT_EMAIL="oncall" is not allowed: an email address'],
    [
      { LOG_RETENTION_DAYS: "45" },
      'LOG_RETENTION_DAYS="45" is not allowed: one of 1, 3, 5, 7, 14, 30',
    ],
    [
      { CAPTURE_WINDOW_HOURS: "0" },
      'CAPTURE_WINDOW_HOURS="0" is not allowed: a whole number from 1 to 720',
    ],
    [{ CAPTURE_WINDOW_HOURS: "721" }, 'CAPTURE_WINDOW_HOURS="721" is not allowed'],
    [
      { EVENT_PUBLICATION: "sync" },
      'EVENT_PUBLICATION="sync" is not allowed: one of relay, inline',
    ],
    [
      { TF_STATE_BUCKET: "Bad_Bucket" },
      'TF_STATE_BUCKET="Bad_Bucket" is not allowed: an S3 bucket name',
    ],
  ])("rejects %j", (env, message) => {
    const error = errorOf(env as Record<string, string>);
    expect(error.message).toContain(message);
    expect(error.message).not.toContain("\n");
  });

  it("rejects reservations and budget settings outside what the budget can reason about", () => {
    expect(errorOf({ PAYMENTS_RESERVED_CONCURRENCY: "0" }).message).toBe(
      'PAYMENTS_RESERVED_CONCURRENCY="0" is not allowed: a whole number from 1 to 10000, or "unreserved"',
    );
    expect(
      errorOf({ PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION: "authorize=200,authorize=300" })
        .variable,
    ).toBe("PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION");
    expect(errorOf({ PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION: "authorize:200" }).allowed).toMatch(
      /^comma-separated function=value pairs/,
    );
    expect(errorOf({ DB_CONNECTION_BUDGET_PERCENT: "99" }).allowed).toBe(
      "a whole number from 50 to 95",
    );
    expect(loadConfig({}).payments).toMatchObject({
      reservedConcurrency: 72,
      reservedConcurrencyByFunction: {},
      accountConcurrencyLimit: 1000,
    });
    expect(loadConfig({}).database.connectionBudgetPercent).toBe(80);
  });

  it("rejects a failover cooldown shorter than the capacity loop that runs after the lock's release", () => {
    for (const raw of ["0", "15", "29"]) {
      const error = errorOf({ FAILOVER_COOLDOWN_MINUTES: raw });
      expect(error.variable).toBe("FAILOVER_COOLDOWN_MINUTES");
      expect(error.message).toContain("from 30 to 1440");
      expect(error.message).toContain("capacity loop");
      // What to change and why, for a deployment upgraded from a release that allowed less.
      expect(error.message).toContain(
        "Set FAILOVER_COOLDOWN_MINUTES to 30 or more, or unset it (default 30)",
      );
      expect(error.message).toContain("a shorter cooldown lets the next run");
      expect(error.message).toContain("README, Upgrading a deployed region");
    }
    expect(errorOf({ FAILOVER_COOLDOWN_MINUTES: "1441" }).variable).toBe(
      "FAILOVER_COOLDOWN_MINUTES",
    );
    expect(loadConfig({ FAILOVER_COOLDOWN_MINUTES: "30" }).failover.cooldownMinutes).toBe(30);
    expect(loadConfig({}).failover.cooldownMinutes).toBe(30);
  });

  it("rejects identical regions with the disaster-recovery reason", () => {
    const error = errorOf({ PRIMARY_REGION: "us-west-2", SECONDARY_REGION: "us-west-2" });
    expect(error.variable).toBe("SECONDARY_REGION");
    expect(error.received).toBe("us-west-2");
    expect(error.message).toContain("regions must differ for disaster recovery");
  });

  it("reads the operator's principals, a * inside a name allowed", () => {
    expect(loadConfig({}).operatorPrincipalArns).toBeUndefined();
    expect(
      loadConfig({
        OPERATOR_PRINCIPAL_ARNS:
          "arn:aws:iam::123456789012:role/oncall, arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_OnCall_*",
      }).operatorPrincipalArns,
    ).toEqual([
      "arn:aws:iam::123456789012:role/oncall",
      "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_OnCall_*",
    ]);
  });

  it.each([
    "arn:aws:iam::123456789012:root",
    "*",
    "arn:aws:iam::123456789012:role/*",
    "arn:aws:iam::12345:role/oncall",
    "arn:aws:sts::123456789012:assumed-role/oncall/alice",
  ])("rejects the operator principal %s, naming it and what is allowed", (arn) => {
    const error = errorOf({ OPERATOR_PRINCIPAL_ARNS: `arn:aws:iam::123456789012:role/ok,${arn}` });
    expect(error.variable).toBe("OPERATOR_PRINCIPAL_ARNS");
    expect(error.received).toBe(arn);
    expect(error.message).toContain("IAM role or user ARNs");
  });

  it("keeps the audit-trail log classes a year by default, each configurable", () => {
    expect(loadConfig({}).auditLogRetention).toEqual({
      apiAccessDays: 365,
      flowLogDays: 365,
      workflowDays: 365,
    });
    expect(
      loadConfig({
        API_ACCESS_LOG_RETENTION_DAYS: "731",
        FLOW_LOG_RETENTION_DAYS: "400",
        WORKFLOW_LOG_RETENTION_DAYS: "3653",
      }).auditLogRetention,
    ).toEqual({ apiAccessDays: 731, flowLogDays: 400, workflowDays: 3653 });
  });

  it.each([
    ["API_ACCESS_LOG_RETENTION_DAYS", "30"],
    ["FLOW_LOG_RETENTION_DAYS", "364"],
    ["WORKFLOW_LOG_RETENTION_DAYS", "forever"],
  ])("rejects %s=%s, naming PCI DSS 10.5.1 and the allowed values", (variable, value) => {
    const error = errorOf({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.received).toBe(value);
    expect(error.message).toContain("365, 400, 545");
    expect(error.message).toContain("PCI DSS 10.5.1");
  });
});
