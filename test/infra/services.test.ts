import { replicationPattern } from "../../infra/constructs/events";
import { AUTHORIZER_CACHE_SECONDS, PAYMENT_FUNCTIONS } from "../../infra/constructs/payments-api";
import { PAYMENT_ROUTE_DURATION_MS } from "../../infra/lib/route-throttle";
import { matches } from "./event-pattern";
import {
  FULL_ENV,
  findResource,
  inRegion,
  policyStatements,
  resourceList,
  resources,
  synth,
  CUSTOM_ENV,
} from "./helpers";
import type { PolicyStatement } from "./helpers";

const ROUTES = PAYMENT_FUNCTIONS.filter((f) => f.route).map((f) => f.route);

describe("payment Lambdas", () => {
  const { json } = synth(FULL_ENV);
  const functions = resourceList(json, "aws_lambda_function").filter((f) =>
    PAYMENT_FUNCTIONS.some((p) => f.function_name === `payments-${p.source}-dev`),
  );

  it("deploys every payment function in both regions with 1 GB on nodejs22.x", () => {
    expect(inRegion(functions, "primary")).toHaveLength(PAYMENT_FUNCTIONS.length);
    expect(inRegion(functions, "secondary")).toHaveLength(PAYMENT_FUNCTIONS.length);
    for (const fn of functions) {
      expect(fn).toMatchObject({
        runtime: "nodejs22.x",
        memory_size: 1024,
        handler: "index.handler",
        tracing_config: { mode: "Active" },
      });
    }
  });

  it("runs them in the private subnets with the Lambda security group", () => {
    for (const fn of functions) {
      const vpc = fn.vpc_config as { subnet_ids: string[]; security_group_ids: string[] };
      const role = String(fn.provider).replace("aws.", "");
      expect(vpc.subnet_ids).toEqual(
        [0, 1, 2].map((i) => expect.stringContaining(`network-${role}_private-${i}_`)),
      );
      expect(vpc.security_group_ids).toEqual([
        expect.stringContaining(`network-${role}_lambda-sg_`),
      ]);
    }
  });

  it("configures both regions identically but for region-specific values", () => {
    const normalise = (fn: Record<string, unknown>) =>
      JSON.parse(
        JSON.stringify(fn)
          .replace(/payments-(primary|secondary)_/g, "payments-ROLE_")
          .replace(/network-(primary|secondary)_/g, "network-ROLE_")
          .replace(/platform-key-(primary|secondary)_/g, "platform-key-ROLE_")
          .replace(/events-(primary|secondary)_/g, "events-ROLE_")
          .replace(/_[0-9A-F]{8}\b/g, "_HASH")
          .replace(/aws\.(primary|secondary)/g, "aws.ROLE")
          .replace(/"region-code":"(use1|usw2)"/g, '"region-code":"CODE"'),
      );
    for (const p of PAYMENT_FUNCTIONS) {
      const [a, b] = functions.filter((f) => f.function_name === `payments-${p.source}-dev`);
      delete a!["//"];
      delete b!["//"];
      expect(normalise(a!)).toEqual(normalise(b!));
    }
  });

  it("reserves concurrency for the API functions as configured, and for the jobs their own", () => {
    const { json: reserved } = synth(CUSTOM_ENV);
    const authorize = resourceList(reserved, "aws_lambda_function").filter(
      (f) => f.function_name === "payments-authorize-dev",
    );
    expect(authorize.map((f) => f.reserved_concurrent_executions)).toEqual([50, 50]);
    const relay = resourceList(reserved, "aws_lambda_function").find(
      (f) => f.function_name === "payments-outbox-relay-dev",
    )!;
    // Every function that connects is capped (the connection budget): the relay's own default.
    expect(relay.reserved_concurrent_executions).toBe(2);
  });

  it("gives each function a KMS-encrypted log group with retention", () => {
    for (const fn of functions) {
      const group = resourceList(json, "aws_cloudwatch_log_group").find(
        (g) => g.name === `/aws/lambda/${fn.function_name}` && g.provider === fn.provider,
      );
      expect(group).toMatchObject({ retention_in_days: 30 });
      expect(String(group!.kms_key_id)).toContain("platform-key-");
    }
  });
});

describe("regional HTTP APIs", () => {
  const { json } = synth(FULL_ENV);

  it.each(["primary", "secondary"] as const)("serves every route in the %s region", (role) => {
    const routes = inRegion(resourceList(json, "aws_apigatewayv2_route"), role).map(
      (r) => r.route_key,
    );
    expect(routes.sort()).toEqual([...ROUTES].sort());
    expect(ROUTES).toEqual(
      expect.arrayContaining([
        "POST /payments",
        "GET /payments/{id}",
        "POST /payments/{id}/capture",
        "POST /payments/{id}/refund",
        "GET /payments",
        "GET /health",
      ]),
    );
  });

  it.each(["primary", "secondary"] as const)(
    "runs the authorization expiry every 5 minutes in the %s region (the job skips when passive)",
    (role) => {
      const rules = inRegion(resourceList(json, "aws_cloudwatch_event_rule"), role).filter(
        (r) => r.schedule_expression,
      );
      const expiry = rules.find((r) => String(r.name).includes("expire-authorizations"));
      expect(expiry).toMatchObject({ schedule_expression: "rate(5 minutes)" });
      const target = inRegion(resourceList(json, "aws_cloudwatch_event_target"), role).find((t) =>
        String(t.arn).includes("expire-authorizations"),
      );
      expect(String(target!.rule)).toContain(`payments-${role}_expiry-schedule`);
      const invoke = inRegion(resourceList(json, "aws_lambda_permission"), role).find((p) =>
        String(p.function_name).includes("expire-authorizations"),
      );
      expect(invoke).toMatchObject({ principal: "events.amazonaws.com" });
    },
  );

  it("gives every payment function the capture window", () => {
    const functions = resourceList(json, "aws_lambda_function").filter((f) =>
      String(f.function_name).startsWith("payments-"),
    );
    const windows = functions
      .filter((f) => PAYMENT_FUNCTIONS.some((p) => f.function_name === `payments-${p.source}-dev`))
      .map(
        (f) =>
          (f.environment as { variables: Record<string, string> }).variables.CAPTURE_WINDOW_HOURS,
      );
    expect(new Set(windows)).toEqual(new Set(["168"]));
    const { json: custom } = synth({ ...FULL_ENV, CAPTURE_WINDOW_HOURS: "120" });
    const authorize = resourceList(custom, "aws_lambda_function").find(
      (f) => f.function_name === "payments-authorize-dev",
    )!;
    expect(
      (authorize.environment as { variables: Record<string, string> }).variables
        .CAPTURE_WINDOW_HOURS,
    ).toBe("120");
  });

  it.each(["primary", "secondary"] as const)(
    "throttles and writes access logs in the %s region",
    (role) => {
      const [stage] = inRegion(resourceList(json, "aws_apigatewayv2_stage"), role);
      expect(stage).toMatchObject({
        name: "$default",
        auto_deploy: true,
        default_route_settings: { throttling_rate_limit: 500, throttling_burst_limit: 1000 },
      });
      const logs = stage!.access_log_settings as { destination_arn: string; format: string };
      expect(logs.destination_arn).toContain(`payments-${role}_access-logs`);
      expect(JSON.parse(logs.format)).toMatchObject({
        status: "$context.status",
        routeKey: "$context.routeKey",
      });
    },
  );

  it("gives each region api.<domain> with a DNS-validated certificate", () => {
    for (const role of ["primary", "secondary"] as const) {
      const [cert] = inRegion(resourceList(json, "aws_acm_certificate"), role);
      expect(cert).toMatchObject({
        domain_name: "api.pay.acme-payments.io",
        validation_method: "DNS",
      });
      const [domain] = inRegion(resourceList(json, "aws_apigatewayv2_domain_name"), role);
      expect(domain).toMatchObject({
        domain_name: "api.pay.acme-payments.io",
        domain_name_configuration: { endpoint_type: "REGIONAL", security_policy: "TLS_1_2" },
      });
      expect(inRegion(resourceList(json, "aws_acm_certificate_validation"), role)).toHaveLength(1);
    }
  });

  it("has no custom domain without a domain", () => {
    const { json: plain } = synth();
    expect(resourceList(plain, "aws_apigatewayv2_domain_name")).toHaveLength(0);
    expect(resourceList(plain, "aws_route53_zone")).toHaveLength(0);
    expect(resourceList(plain, "aws_apigatewayv2_api")).toHaveLength(2);
  });
});

describe("Route 53", () => {
  const { json } = synth(FULL_ENV);

  it("hosts a public zone for the domain", () => {
    expect(resourceList(json, "aws_route53_zone")).toEqual([
      expect.objectContaining({ name: "pay.acme-payments.io" }),
    ]);
  });

  it("checks each region's /health over HTTPS every 10 s with the configured threshold", () => {
    const checks = resourceList(json, "aws_route53_health_check");
    expect(checks).toHaveLength(2);
    for (const check of checks) {
      expect(check).toMatchObject({
        type: "HTTPS",
        resource_path: "/health",
        port: 443,
        request_interval: 10,
        failure_threshold: 3,
      });
      expect(String(check.fqdn)).toMatch(
        /replace\(aws_apigatewayv2_api\.payments-(primary|secondary)_api_.*\.api_endpoint, "https:\/\/", ""\)/,
      );
    }
    const { json: lenient } = synth(CUSTOM_ENV);
    expect(
      resourceList(lenient, "aws_route53_health_check").map((c) => c.failure_threshold),
    ).toEqual([5, 5]);
  });

  it("routes api.<domain> PRIMARY to us-east-1 and SECONDARY to us-west-2, each with its health check", () => {
    const records = resources(json, "aws_route53_record");
    const failover = Object.entries(records).filter(([, r]) => r.failover_routing_policy);
    expect(failover).toHaveLength(2);
    const byType = Object.fromEntries(
      failover.map(([name, r]) => [
        (r.failover_routing_policy as { type: string }).type,
        { name, r },
      ]),
    );
    expect(byType.PRIMARY!.r).toMatchObject({
      name: "api.pay.acme-payments.io",
      type: "A",
      set_identifier: "primary",
    });
    expect(String((byType.PRIMARY!.r.alias as { name: string }).name)).toContain(
      "payments-primary_domain",
    );
    expect(String(byType.PRIMARY!.r.health_check_id)).toContain("routing_primary-health");
    expect(String((byType.SECONDARY!.r.alias as { name: string }).name)).toContain(
      "payments-secondary_domain",
    );
    expect(String(byType.SECONDARY!.r.health_check_id)).toContain("routing_secondary-health");
    for (const { r } of Object.values(byType)) {
      expect((r.lifecycle as { ignore_changes: string[] }).ignore_changes).toEqual([
        "alias",
        "health_check_id",
      ]);
    }
  });

  it.each([["example.com"], ["pay.example.org"], ["api.example.net"]])(
    "rejects %s as DOMAIN_NAME",
    (domain) => {
      expect(() => synth({ DOMAIN_NAME: domain })).toThrow(/Route 53 rejects them/);
    },
  );
});

describe("EventBridge", () => {
  const { json } = synth(FULL_ENV);

  it("has a custom bus of the same name in each region", () => {
    const buses = resourceList(json, "aws_cloudwatch_event_bus");
    expect(buses.map((b) => [b.provider, b.name])).toEqual([
      ["aws.primary", "payments-events-dev"],
      ["aws.secondary", "payments-events-dev"],
    ]);
  });

  it.each([
    ["primary", "us-east-1", "secondary"],
    ["secondary", "us-west-2", "primary"],
  ] as const)(
    "replicates from the %s region to the other region's bus with a role, a DLQ and retries",
    (role, region, peer) => {
      const rule = findResource(
        json,
        "aws_cloudwatch_event_rule",
        `event-replication_${role}-rule`,
      );
      expect(rule.provider).toBe(`aws.${role}`);
      expect(JSON.parse(String(rule.event_pattern))).toEqual(replicationPattern(region));
      const target = findResource(
        json,
        "aws_cloudwatch_event_target",
        `event-replication_${role}-target`,
      );
      expect(String(target.arn)).toContain(`events-${peer}_bus`);
      expect(target.retry_policy).toEqual({
        maximum_event_age_in_seconds: 86400,
        maximum_retry_attempts: 185,
      });
      expect(String((target.dead_letter_config as { arn: string }).arn)).toContain(
        `events-${role}_dlq`,
      );
      expect(String(target.role_arn)).toContain(`event-replication_${role}-role`);
      expect(policyStatements(json, `event-replication_${role}-permissions`)).toEqual([
        {
          actions: ["events:PutEvents"],
          resources: [expect.stringContaining(`events-${peer}_bus`)],
        },
      ]);
    },
  );

  it("replicates payments.* and dr.* published locally and never sends a replicated event back", () => {
    const east = replicationPattern("us-east-1") as never;
    const west = replicationPattern("us-west-2") as never;
    const event = (detailType: string, originRegion: string) => ({
      "detail-type": detailType,
      source: "payments",
      detail: { eventId: "e-1", originRegion },
    });
    expect(matches(east, event("payments.authorized", "us-east-1"))).toBe(true);
    expect(matches(east, event("dr.failover.completed", "us-east-1"))).toBe(true);
    // The copy now on the west bus still names its origin: the west rule ignores it.
    expect(matches(west, event("payments.authorized", "us-east-1"))).toBe(false);
    expect(matches(west, event("payments.captured", "us-west-2"))).toBe(true);
    expect(matches(east, event("payments.captured", "us-west-2"))).toBe(false);
    // Only the critical families.
    expect(matches(east, event("inventory.updated", "us-east-1"))).toBe(false);
    expect(matches(east, { "detail-type": "payments.authorized", detail: {} })).toBe(false);
  });

  it("encrypts each dead-letter queue with the region's CMK and only lets its rule send to it", () => {
    for (const role of ["primary", "secondary"] as const) {
      const dlq = findResource(json, "aws_sqs_queue", `events-${role}_dlq`);
      expect(String(dlq.kms_master_key_id)).toContain(`platform-key-${role}`);
      const [statement] = policyStatements(json, `event-replication_${role}-dlq-permissions`);
      expect(statement).toMatchObject({
        actions: ["sqs:SendMessage"],
        principals: [{ type: "Service", identifiers: ["events.amazonaws.com"] }],
        condition: [
          {
            test: "ArnEquals",
            variable: "aws:SourceArn",
            values: [expect.stringContaining(`event-replication_${role}-rule`)],
          },
        ],
      });
    }
  });

  it("offers a global endpoint over both buses as an option", () => {
    expect(resourceList(json, "aws_cloudwatch_event_endpoint")).toHaveLength(0);
    const { json: withEndpoint } = synth(CUSTOM_ENV);
    const [endpoint] = resourceList(withEndpoint, "aws_cloudwatch_event_endpoint");
    expect(endpoint).toMatchObject({ replication_config: { state: "ENABLED" } });
    expect(endpoint!.event_bus).toHaveLength(2);
    const routing = endpoint!.routing_config as {
      failover_config: { secondary: { route: string }; primary: { health_check: string } };
    };
    expect(routing.failover_config.secondary.route).toBe("us-west-2");
    expect(routing.failover_config.primary.health_check).toContain("routing_primary-health");
  });
});

describe("payment function permissions", () => {
  const { json } = synth(FULL_ENV);
  const actionsOf = (fn: string) =>
    policyStatements(json, `payments-primary_${fn}_permissions`).flatMap((s) =>
      (s.actions ?? []).map((a) => `${a} ${(s.resources ?? []).join(",")}`),
    );

  it("lets authorize write sessions and read the flag, and no idempotency table nor the bus (the relay publishes)", () => {
    const actions = actionsOf("authorize");
    // Issue 15: the in-flight lock is a PostgreSQL advisory lock; no write function touches the
    // idempotency table any more.
    for (const fn of ["authorize", "capture", "refund", "void"]) {
      expect(actionsOf(fn).filter((a) => a.includes("payments-idempotency-"))).toEqual([]);
    }
    expect(actions).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^dynamodb:UpdateItem arn:aws:dynamodb:us-east-1:.*:table\/payments-sessions-dev$/,
        ),
        expect.stringMatching(
          /^dynamodb:GetItem arn:aws:dynamodb:us-east-1:.*:table\/payments-control-dev$/,
        ),
        expect.stringMatching(
          /^ssm:GetParameters arn:aws:ssm:us-east-1:.*:parameter\/payments\/dev\/db\/writer-endpoint,.*\/payments\/dev\/db\/name,.*\/payments\/dev\/api\/keys,.*\/payments\/dev\/db\/cluster-endpoint$/,
        ),
      ]),
    );
    // EVENT_PUBLICATION=relay (the default): only the outbox relay may put events on the bus.
    for (const fn of ["authorize", "capture", "refund", "void", "expire-authorizations"]) {
      expect(actionsOf(fn).filter((a) => a.startsWith("events:"))).toEqual([]);
    }
  });

  // Issue 14: the payment path connects as the application role with IAM database
  // authentication (rds-db:connect on the exact dbuser ARN of each cluster,
  // UsingWithRDS.IAMDBAuth.IAMPolicy); only the migrate function may read the master password.
  it("lets every payment function but migrate connect as payments_app on both clusters, and only migrate read db/password", () => {
    const clusters = resourceList(json, "aws_rds_cluster");
    expect(clusters).toHaveLength(2);
    for (const cluster of clusters) expect(cluster.iam_database_authentication_enabled).toBe(true);
    for (const fn of PAYMENT_FUNCTIONS) {
      const statements = policyStatements(json, `payments-primary_${fn.source}_permissions`);
      const connect = statements.filter((s) => s.actions?.some((a) => a.startsWith("rds-db:")));
      const parameterResources = statements
        .filter(
          (s) => (s.effect ?? "Allow") === "Allow" && s.actions?.some((a) => a.startsWith("ssm:")),
        )
        .flatMap((s) => s.resources ?? []);
      if (fn.source === "migrate") {
        expect(connect).toEqual([]);
        expect(parameterResources).toEqual([
          expect.stringMatching(/parameter\/payments\/dev\/\*$/),
        ]);
        continue;
      }
      expect(connect).toHaveLength(1);
      expect(connect[0]!.actions).toEqual(["rds-db:connect"]);
      expect(connect[0]!.resources).toEqual([
        expect.stringMatching(
          /^arn:aws:rds-db:us-east-1:\$\{.*\}:dbuser:\$\{aws_rds_cluster\.database_primary-cluster.*\.cluster_resource_id\}\/payments_app$/,
        ),
        expect.stringMatching(
          /^arn:aws:rds-db:us-west-2:\$\{.*\}:dbuser:\$\{aws_rds_cluster\.database_secondary-cluster.*\.cluster_resource_id\}\/payments_app$/,
        ),
      ]);
      for (const arn of parameterResources) {
        expect(arn).not.toMatch(/db\/(password|username)$|\*$/);
      }
    }
  });

  // IAM's evaluation logic: an explicit Deny wins, else any Allow whose action and resource
  // patterns match (docs.aws.amazon.com/IAM/latest/UserGuide/
  // reference_policies_evaluation-logic.html); * matches any run of characters.
  function allows(statements: PolicyStatement[], action: string, resource: string): boolean {
    const glob = (pattern: string, value: string) => {
      const escaped = pattern.split("*").map((part) => part.replace(/[.+?^$()|[\]\\{}]/g, "\\$&"));
      return new RegExp(`^${escaped.join(".*")}$`).test(value);
    };
    // Terraform interpolations (the account id) stand for any value.
    const concrete = (pattern: string) => pattern.replace(/\$\{[^}]+\}/g, "*");
    const matches = (s: PolicyStatement) =>
      (s.actions ?? []).some((a) => glob(a, action)) &&
      (s.resources ?? []).some((r) => glob(concrete(r), resource));
    if (statements.some((s) => s.effect === "Deny" && matches(s))) return false;
    return statements.some((s) => (s.effect ?? "Allow") === "Allow" && matches(s));
  }

  // The key store is read by the functions behind authenticated routes (they check the key as
  // defence in depth behind the authorizer); the others read only their own parameters (14b).
  it.each(PAYMENT_FUNCTIONS.map((f) => f.source))(
    "lets %s read the key store only behind an authenticated route, and never the DR verification key",
    (fn) => {
      const statements = policyStatements(json, `payments-primary_${fn}_permissions`);
      const parameter = (name: string) =>
        `arn:aws:ssm:us-east-1:123456789012:parameter/payments/dev/${name}`;
      const route = PAYMENT_FUNCTIONS.find((f) => f.source === fn)!.route;
      const authenticated = route !== undefined && route !== "GET /health";

      // migrate holds the master credential and reads the whole prefix but the DR key (above).
      expect(allows(statements, "ssm:GetParameters", parameter("api/keys"))).toBe(
        authenticated || fn === "migrate",
      );
      expect(allows(statements, "ssm:GetParameters", parameter("api/dr-verify-key"))).toBe(false);
      expect(allows(statements, "ssm:GetParameter", parameter("api/dr-verify-key"))).toBe(false);
      expect(allows(statements, "ssm:GetParametersByPath", parameter("api"))).toBe(false);
    },
  );

  // Review 23 H1: while a move into its region is fenced, /health checks the region's own
  // cluster through its cluster endpoint (health/handler.ts probeOwnCluster).
  // Review 24-10l M1/M2: the writers (and the relay) read the cluster endpoint as the writer
  // identity check's reference (functions/payments/shared/writer-identity.ts); reads do not.
  it("lets /health read its own cluster's endpoints, the writers and the relay its cluster endpoint, and the reads neither", () => {
    const parameter = (name: string) =>
      `arn:aws:ssm:us-east-1:123456789012:parameter/payments/dev/${name}`;
    const health = policyStatements(json, "payments-primary_health_permissions");
    expect(allows(health, "ssm:GetParameters", parameter("db/cluster-endpoint"))).toBe(true);
    expect(allows(health, "ssm:GetParameters", parameter("db/reader-endpoint"))).toBe(true);
    for (const fn of [
      "authorize",
      "capture",
      "refund",
      "void",
      "expire-authorizations",
      "outbox-relay",
    ]) {
      const statements = policyStatements(json, `payments-primary_${fn}_permissions`);
      expect(allows(statements, "ssm:GetParameters", parameter("db/cluster-endpoint"))).toBe(true);
      expect(allows(statements, "ssm:GetParameters", parameter("db/reader-endpoint"))).toBe(false);
    }
    for (const fn of ["get-payment", "list-payments"]) {
      const statements = policyStatements(json, `payments-primary_${fn}_permissions`);
      expect(allows(statements, "ssm:GetParameters", parameter("db/cluster-endpoint"))).toBe(false);
    }
  });

  it("gives the expiry job the flag, and no bus, idempotency or sessions table", () => {
    const expire = actionsOf("expire-authorizations");
    expect(expire.filter((a) => a.startsWith("dynamodb:"))).toEqual([
      expect.stringMatching(/^dynamodb:GetItem .*payments-control-dev$/),
    ]);
    expect(expire.filter((a) => a.startsWith("events:"))).toEqual([]);
    expect(actionsOf("list-payments").filter((a) => a.startsWith("dynamodb:"))).toEqual([]);
  });

  it("gives reads no DynamoDB access and the relay only the flag, its stream and the bus", () => {
    expect(actionsOf("get-payment").filter((a) => a.startsWith("dynamodb:"))).toEqual([]);
    const relay = actionsOf("outbox-relay");
    expect(relay.filter((a) => a.startsWith("dynamodb:"))).toEqual([
      expect.stringMatching(/^dynamodb:GetItem .*payments-control-dev$/),
      // The event source mapping that starts it when the flag opens the region (relay-on-flag).
      ...["DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"].map((action) =>
        expect.stringMatching(new RegExp(`^dynamodb:${action} .*payments-control-dev/stream/\\*$`)),
      ),
    ]);
    expect(relay).toEqual(expect.arrayContaining([expect.stringMatching(/^events:PutEvents /)]));
    expect(actionsOf("capture").some((a) => a.includes("sessions"))).toBe(false);
  });
});

describe("payment function permissions with EVENT_PUBLICATION=inline", () => {
  const { json } = synth({ ...FULL_ENV, EVENT_PUBLICATION: "inline" });
  const actionsOf = (fn: string) =>
    policyStatements(json, `payments-primary_${fn}_permissions`).flatMap((s) =>
      (s.actions ?? []).map((a) => `${a} ${(s.resources ?? []).join(",")}`),
    );

  it("lets the writes and the expiry job publish to their own region's bus, and tells them so", () => {
    for (const fn of ["authorize", "capture", "refund", "void", "expire-authorizations"]) {
      expect(actionsOf(fn).filter((a) => a.startsWith("events:"))).toEqual([
        expect.stringMatching(/^events:PutEvents .*events-primary_bus/),
      ]);
    }
    const authorize = resourceList(json, "aws_lambda_function").find(
      (f) => f.function_name === "payments-authorize-dev" && String(f.provider).endsWith("primary"),
    )!;
    expect(
      (authorize.environment as { variables: Record<string, string> }).variables.EVENT_PUBLICATION,
    ).toBe("inline");
  });
});

// Issue 14: a cached Lambda REQUEST authorizer (payload 2.0, simple responses, keyed on x-api-key)
// on every payment route, and a throttle of its own on the unauthenticated route.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html
describe("API authorizer and route throttles", () => {
  const { json } = synth(FULL_ENV);

  it("puts the cached REQUEST authorizer on every route but /health, in both regions", () => {
    const authorizers = resourceList(json, "aws_apigatewayv2_authorizer");
    expect(authorizers).toHaveLength(2);
    for (const authorizer of authorizers) {
      expect(authorizer).toMatchObject({
        authorizer_type: "REQUEST",
        authorizer_payload_format_version: "2.0",
        enable_simple_responses: true,
        identity_sources: ["$request.header.x-api-key"],
        authorizer_result_ttl_in_seconds: AUTHORIZER_CACHE_SECONDS,
      });
      expect(authorizer.authorizer_uri).toMatch(
        /aws_lambda_function\.payments-(primary|secondary)_authorizer_.*invoke_arn/,
      );
    }
    expect(AUTHORIZER_CACHE_SECONDS).toBeGreaterThan(0);
    expect(AUTHORIZER_CACHE_SECONDS).toBeLessThanOrEqual(300);
    const routes = resourceList(json, "aws_apigatewayv2_route");
    expect(routes).toHaveLength(ROUTES.length * 2);
    for (const route of routes) {
      if (route.route_key === "GET /health") {
        expect(route.authorization_type).toBeUndefined();
        expect(route.authorizer_id).toBeUndefined();
      } else {
        expect(route.authorization_type).toBe("CUSTOM");
        expect(route.authorizer_id).toMatch(
          /aws_apigatewayv2_authorizer\.payments-(primary|secondary)_api-authorizer_.*\.id/,
        );
      }
    }
  });

  it("runs the authorizer small, outside the VPC, with its own role, log group and only the key store", () => {
    const fns = resourceList(json, "aws_lambda_function").filter((f) =>
      String(f.function_name).startsWith("payments-authorizer-"),
    );
    expect(fns).toHaveLength(2);
    for (const fn of fns) {
      expect(fn.vpc_config).toBeUndefined();
      expect(fn.memory_size).toBeLessThanOrEqual(256);
      expect(fn.role).toMatch(/authorizer/);
    }
    const groups = resourceList(json, "aws_cloudwatch_log_group").filter((g) =>
      String(g.name).includes("payments-authorizer-"),
    );
    expect(groups).toHaveLength(2);
    for (const group of groups) expect(group.retention_in_days).toBeGreaterThan(0);
    const statements = policyStatements(json, "payments-primary_authorizer_permissions");
    const ssm = statements.filter(
      (s) => (s.effect ?? "Allow") === "Allow" && s.actions?.some((a) => a.startsWith("ssm:")),
    );
    expect(ssm.flatMap((s) => s.actions)).toEqual(["ssm:GetParameters"]);
    expect(ssm.flatMap((s) => s.resources)).toEqual([
      expect.stringMatching(/:parameter\/payments\/dev\/api\/keys$/),
    ]);
    expect(
      statements.some((s) =>
        s.actions?.some((a) => a.startsWith("rds-db:") || a.startsWith("dynamodb:")),
      ),
    ).toBe(false);
    const permissions = resourceList(json, "aws_lambda_permission").filter((p) =>
      String(p.function_name).includes("authorizer"),
    );
    expect(permissions).toHaveLength(2);
    for (const p of permissions) {
      expect(p.principal).toBe("apigateway.amazonaws.com");
      expect(p.source_arn).toMatch(
        /execution_arn\}\/authorizers\/\$\{aws_apigatewayv2_authorizer\./,
      );
    }
  });

  // The throttle is read back from the synthesized stage and held against the synthesized
  // function's reservation: a route whose stage lets more requests in flight than its function's
  // environments would get Lambda throttles, which API Gateway answers with a 500.
  it("throttles every payment route within its function's reservation, /health at the stage default, after the routes exist", () => {
    const stages = resourceList(json, "aws_apigatewayv2_stage");
    expect(stages).toHaveLength(2);
    const lambdas = resourceList(json, "aws_lambda_function");
    for (const stage of stages) {
      const settings = stage.route_settings as {
        route_key: string;
        throttling_rate_limit: number;
        throttling_burst_limit: number;
      }[];
      const stageDefault = stage.default_route_settings as {
        throttling_rate_limit: number;
        throttling_burst_limit: number;
      };
      expect(settings.map((s) => s.route_key).sort()).toEqual([...ROUTES].sort());
      for (const s of settings) {
        if (s.route_key === "GET /health") continue;
        const fn = PAYMENT_FUNCTIONS.find((f) => f.route === s.route_key)!;
        const lambda = lambdas.find(
          (l) => l.function_name === `payments-${fn.source}-dev` && l.provider === stage.provider,
        )!;
        const reserved = lambda.reserved_concurrent_executions as number;
        const durationMs = fn.routeDurationMs ?? PAYMENT_ROUTE_DURATION_MS;
        expect(s.throttling_burst_limit).toBeGreaterThanOrEqual(1);
        expect(s.throttling_rate_limit).toBeGreaterThan(0);
        expect(
          s.throttling_burst_limit + (s.throttling_rate_limit * durationMs) / 1000,
        ).toBeLessThanOrEqual(reserved);
      }
      // Review H1: /health is unauthenticated; a route throttle below the stage default is one
      // anyone can drain at a few requests/s, and Route 53 counts its 429 as unhealthy.
      const health = settings.find((s) => s.route_key === "GET /health")!;
      expect(health.throttling_rate_limit).toBe(stageDefault.throttling_rate_limit);
      expect(health.throttling_burst_limit).toBe(stageDefault.throttling_burst_limit);
      expect(health.throttling_rate_limit).toBeGreaterThanOrEqual(500);
      // 72 reserved, sized for ROUTE_P99_MS's default 2000 ms (review 22b-18 H2'): burst 36,
      // 18 requests/s.
      expect(settings.find((s) => s.route_key === "POST /payments")).toMatchObject({
        throttling_burst_limit: 36,
        throttling_rate_limit: 18,
      });
      expect(stage.depends_on).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /^aws_apigatewayv2_route\.payments-(primary|secondary)_health-route_/,
          ),
          expect.stringMatching(
            /^aws_apigatewayv2_route\.payments-(primary|secondary)_authorize-route_/,
          ),
        ]),
      );
    }
  });
});
