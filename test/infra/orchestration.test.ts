import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { LEASE_RENEWAL_ATTRIBUTES, PEER_LEASE } from "../../functions/common/contract";
import { DynamoControlTable } from "../../functions/dr/shared/aws/control-table";
import { EXPIRY_BATCH_SECONDS } from "../../functions/payments/expire-authorizations/core";
import { FLAG_READ } from "../../functions/payments/shared/fencing";
import { clientConfig } from "../../functions/payments/shared/database";
import { validateInput } from "../../functions/dr/validate-input/core";
import { DR_TASK_NAMES, taskPlaceholder } from "../../functions/dr/tasks";
import { triggerPattern } from "../../infra/constructs/orchestration";
import { loadConfig } from "../../infra/config";
import { computeBudget, formatBudget, withinTargets } from "../../infra/lib/rto";
import { FakeWorld, WEST } from "../functions/dr/support/fake-world";
import { matches } from "./event-pattern";
import { FULL_ENV, inRegion, policyStatements, resourceList, synth, CUSTOM_ENV } from "./helpers";

describe("orchestration infrastructure", () => {
  const { json } = synth(FULL_ENV);
  const functions = resourceList(json, "aws_lambda_function");
  const drFunctions = functions.filter((f) =>
    /^payments-dr-(?!prober)/.test(String(f.function_name)),
  );
  const machines = resourceList(json, "aws_sfn_state_machine");

  it("deploys every DR task in both regions with smaller memory, outside the VPC, each as its own role", () => {
    for (const role of ["primary", "secondary"] as const) {
      const mine = inRegion(drFunctions, role);
      expect(mine.map((f) => f.function_name).sort()).toEqual(
        DR_TASK_NAMES.map((t) => `payments-dr-${t}-dev`).sort(),
      );
      for (const fn of mine) {
        expect(fn).toMatchObject({ runtime: "nodejs22.x", memory_size: 256 });
        expect(fn.vpc_config).toBeUndefined();
        const task = String(fn.function_name).replace(/^payments-dr-|-dev$/g, "");
        expect(String(fn.role)).toContain(`orchestration-${role}_task-${task}_role_`);
      }
    }
  });

  it("gives every DR task the same topology in both regions", () => {
    const topologies = new Set(
      drFunctions.map(
        (f) => (f.environment as { variables: Record<string, string> }).variables.DR_TOPOLOGY,
      ),
    );
    expect(topologies.size).toBe(1);
    const [topology] = [...topologies];
    for (const reference of [
      "database_primary-cluster",
      "database_secondary-cluster",
      "routing_primary-health",
      "routing_secondary-health",
      "alerts-primary_topic",
      "alerts-secondary_topic",
      "aws_route53_zone.zone_",
    ]) {
      expect(topology).toContain(reference);
    }
  });

  it("runs four standard workflows per region, logging everything with X-Ray on", () => {
    for (const role of ["primary", "secondary"] as const) {
      const mine = inRegion(machines, role);
      expect(mine.map((m) => m.name).sort()).toEqual([
        "payments-failback-dev",
        "payments-failover-dev",
        "payments-reprotect-dev",
        "payments-switchover-dev",
      ]);
      for (const machine of mine) {
        expect(machine).toMatchObject({
          type: "STANDARD",
          logging_configuration: { level: "ALL", include_execution_data: true },
          tracing_configuration: { enabled: true },
          encryption_configuration: {
            type: "CUSTOMER_MANAGED_KMS_KEY",
            kms_data_key_reuse_period_seconds: 300,
          },
        });
        expect(
          String(
            machine.encryption_configuration &&
              (machine.encryption_configuration as { kms_key_id: string }).kms_key_id,
          ),
        ).toContain(`platform-key-${role}_key_`);
        expect(String(machine.role_arn)).toContain(`dr-iam_${role}-workflows_`);
      }
    }
  });

  it("wires each workflow to the task functions of its own region, leaving no placeholder", () => {
    for (const machine of machines) {
      const role = String(machine.provider).replace("aws.", "");
      const definition = String(machine.definition);
      expect(definition).not.toMatch(/\$\{[A-Z][A-Za-z]*FunctionArn\}/);
      const references = [...definition.matchAll(/aws_lambda_function\.([\w-]+)\.arn/g)].map(
        (m) => m[1]!,
      );
      expect(references.length).toBeGreaterThanOrEqual(9);
      expect(references.every((r) => r.startsWith(`orchestration-${role}_`))).toBe(true);
    }
  });

  it("gives up in each task's Lambda 2 s before its state times out, so retries never overlap", () => {
    const failover = JSON.parse(
      String(
        inRegion(machines, "secondary").find((m) => m.name === "payments-failover-dev")!.definition,
      ),
    ) as {
      States: Record<string, { Resource?: string; TimeoutSeconds?: number }>;
    };
    const fn = (task: string) =>
      inRegion(drFunctions, "secondary").find(
        (f) => f.function_name === `payments-dr-${task}-dev`,
      )!;
    expect(fn("preflight").timeout).toBe(failover.States.Preflight!.TimeoutSeconds! - 2);
    expect(fn("promote").timeout).toBe(failover.States.Promote!.TimeoutSeconds! - 2);
    expect(fn("verify").timeout).toBe(failover.States.Verify!.TimeoutSeconds! - 2);
    // The approval task's TimeoutSeconds is on-call's time, not the function's.
    expect(fn("request-approval").timeout).toBe(10);
    expect(taskPlaceholder("check-promotion")).toBe("CheckPromotionFunctionArn");
  });

  // The old region's payment path may still commit after its replica of the flag names another
  // region: a flag read that began before the flag arrived returns the old value up to one DynamoDB
  // attempt later (connection + request timeout), the guard then trusts it for the cache window
  // counted from when the read returned, and a write that passed the check may spend the write
  // function's whole timeout in the idempotency layer and the transaction; and its last
  // statement, sent just before that timeout, runs on the server until statement_timeout (the
  // deployed connections' API_TIMEOUTS.statementMs) whatever became of the function (review
  // 22-13 H1; test/functions/payments/late-statement.test.ts). The expiry job runs for minutes;
  // each of its batches rolls back past EXPIRY_BATCH_SECONDS from its own check
  // (test/functions/payments/expiry.test.ts), so that is its window.
  it("derives the settle time after the old region confirms the fence from the deployed payment functions", () => {
    const payments = functions.filter((f) =>
      /^payments-(authorize|capture|refund|void)-dev$/.test(String(f.function_name)),
    );
    expect(payments).toHaveLength(8);
    const env = (f: Record<string, unknown>) =>
      (f.environment as { variables: Record<string, string> }).variables;
    const cacheMs = Math.max(...payments.map((f) => Number(env(f).ACTIVE_REGION_CACHE_MS)));
    const expiry = functions.find(
      (f) => f.function_name === "payments-expire-authorizations-dev",
    ) as Record<string, unknown>;
    expect(Number(expiry.timeout)).toBeGreaterThan(EXPIRY_BATCH_SECONDS);
    expect(Number(env(expiry).ACTIVE_REGION_CACHE_MS)).toBeLessThanOrEqual(cacheMs);
    const writeTimeout = Math.max(...payments.map((f) => Number(f.timeout)), EXPIRY_BATCH_SECONDS);
    const flagReadMs = FLAG_READ.connectionTimeoutMs + FLAG_READ.requestTimeoutMs;
    // statement_timeout as the payment functions' connections carry it.
    const statementSeconds =
      Number(
        clientConfig({ kind: "url", connectionString: "postgres://x" }, "payments")
          .statement_timeout,
      ) / 1000;
    expect(statementSeconds).toBe(5);
    const expected = Math.ceil((cacheMs + flagReadMs) / 1000 + writeTimeout + statementSeconds + 2);
    expect(expected).toBe(25);
    for (const fn of drFunctions) {
      expect({ fn: fn.function_name, settle: env(fn).DR_FENCE_SETTLE_SECONDS }).toEqual({
        fn: fn.function_name,
        settle: String(expected),
      });
      expect(env(fn).DR_DB_RPO_SECONDS).toBe("60");
      // The peer lease's wait (review M3): the lease, two clock skews, the write path's worst
      // case (timeout and last statement) and the same margin, from the same deployed functions.
      expect(env(fn).DR_WRITER_STOP_MARGIN_SECONDS).toBe("30");
      expect(env(fn).DR_LEASE_SETTLE_SECONDS).toBe(
        String(
          PEER_LEASE.seconds +
            2 * PEER_LEASE.clockSkewSeconds +
            writeTimeout +
            statementSeconds +
            2,
        ),
      );
      expect(env(fn).DR_LEASE_SETTLE_SECONDS).toBe("49");
    }
  });

  it("waits for on-call as long as configured", () => {
    const { json: slow } = synth(CUSTOM_ENV);
    const machine = resourceList(slow, "aws_sfn_state_machine").find(
      (m) => m.name === "payments-failover-dev",
    )!;
    const approval = (
      JSON.parse(String(machine.definition)) as {
        States: Record<
          string,
          { TimeoutSeconds: number; Parameters: { Payload: { timeoutSeconds: number } } }
        >;
      }
    ).States.RequestApproval!;
    expect(approval.TimeoutSeconds).toBe(1500);
    expect(approval.Parameters.Payload.timeoutSeconds).toBe(1500);
  });

  it("tells on-call the configured approval window when nobody answers, not the file's default", () => {
    const { json: slow } = synth(CUSTOM_ENV);
    const machine = resourceList(slow, "aws_sfn_state_machine").find(
      (m) => m.name === "payments-failover-dev",
    )!;
    const notApproved = (
      JSON.parse(String(machine.definition)) as { States: Record<string, { Cause: string }> }
    ).States.NotApproved!;
    expect(notApproved.Cause).toContain("within 25 minutes");
    expect(notApproved.Cause).not.toContain("600");
  });

  it("seeds the fencing flag naming the primary and then leaves it to the orchestrator", () => {
    const [item] = resourceList(json, "aws_dynamodb_table_item");
    expect(item).toMatchObject({
      provider: "aws.primary",
      hash_key: "pk",
      lifecycle: { ignore_changes: ["item"] },
    });
    expect(JSON.parse(String(item!.item))).toMatchObject({
      pk: { S: "active-region" },
      activeRegion: { S: "us-east-1" },
      fencingToken: { N: "0" },
    });
  });
});

describe("failover trigger", () => {
  const { json } = synth(FULL_ENV);
  const rule = resourceList(json, "aws_cloudwatch_event_rule").find(
    (r) => r.name === "payments-failover-trigger-usw2-dev",
  )!;
  const target = resourceList(json, "aws_cloudwatch_event_target").find(
    (t) => t.target_id === "failover-workflow",
  )!;

  it("starts the us-west-2 failover workflow, in us-west-2, when the prober or writer alarm fires", () => {
    expect(rule.provider).toBe("aws.secondary");
    const pattern = JSON.parse(String(rule.event_pattern)) as Record<string, unknown>;
    expect(pattern).toEqual(
      triggerPattern([
        expect.stringContaining("prober-alarms_primary-unhealthy") as never,
        expect.stringContaining("prober-alarms_writer-unavailable") as never,
      ]),
    );
    const event = (state: string) => ({
      source: "aws.cloudwatch",
      "detail-type": "CloudWatch Alarm State Change",
      resources: "ALARM-ARN",
      detail: { state: { value: state } },
    });
    const concrete = { ...pattern, resources: ["ALARM-ARN"] } as never;
    expect(matches(concrete, event("ALARM"))).toBe(true);
    expect(matches(concrete, event("OK"))).toBe(false);
    expect(String(target.arn)).toMatch(/orchestration-secondary_workflow-failover_.*\.arn/);
    expect(String(target.role_arn)).toContain("dr-iam_events_");
  });

  it("sends an input the workflow accepts, in the configured mode", async () => {
    const template = String(
      (target.input_transformer as { input_template: string }).input_template,
    );
    const input = JSON.parse(
      template
        .replace("<alarm>", "payments-primary-unhealthy-usw2-dev")
        .replace("<at>", "2026-11-25T03:00:00.000+0000"),
    ) as Record<string, unknown>;
    expect(input).toEqual({
      targetRegion: "us-west-2",
      reason:
        "alarm payments-primary-unhealthy-usw2-dev entered ALARM at 2026-11-25T03:00:00.000+0000",
      trigger: "alarm",
      mode: "automatic",
    });
    const world = new FakeWorld();
    const accepted = await validateInput(
      {
        workflow: "failover",
        input,
        context: {
          executionId: "arn:x",
          executionName: "alarm-1",
          startTime: "2026-11-25T03:00:05Z",
          stateMachineArn: "arn:sm",
        },
      },
      world.deps(WEST),
    );
    expect(accepted.request).toMatchObject({
      targetRegion: WEST,
      trigger: "alarm",
      mode: "automatic",
    });
    const { json: approval } = synth(CUSTOM_ENV);
    const approvalTarget = resourceList(approval, "aws_cloudwatch_event_target").find(
      (t) => t.target_id === "failover-workflow",
    )!;
    expect(
      String((approvalTarget.input_transformer as { input_template: string }).input_template),
    ).toContain('"mode":"approval"');
  });

  // EventBridge drops an event it could not deliver after its retries unless the target has a
  // DLQ: "Only standard queues are supported", "in the same Region in which you create the rule",
  // and the queue policy must allow events.amazonaws.com sqs:SendMessage for the rule
  // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
  it("keeps an alarm it could not deliver to the workflow in an encrypted dead-letter queue", () => {
    const dlq = (target.dead_letter_config as { arn: string } | undefined)?.arn;
    expect(dlq).toMatch(/^\$\{aws_sqs_queue\.failover-trigger_dlq_\w+\.arn\}$/);
    const queue = resourceList(json, "aws_sqs_queue").find(
      (q) => q.name === "payments-failover-trigger-dlq-usw2-dev",
    )!;
    expect(queue).toMatchObject({
      provider: "aws.secondary",
      name: "payments-failover-trigger-dlq-usw2-dev",
      message_retention_seconds: 1209600,
    });
    expect(queue.fifo_queue).toBeUndefined();
    expect(queue.kms_master_key_id).toBeDefined();
    const policy = resourceList(json, "aws_sqs_queue_policy").find((p) =>
      String(p.queue_url).includes("failover-trigger_dlq"),
    )!;
    expect(policy.provider).toBe("aws.secondary");
    const statements = policyStatements(json, "failover-trigger_dlq-policy");
    expect(statements).toEqual([
      expect.objectContaining({
        actions: ["sqs:SendMessage"],
        resources: [dlq],
        principals: [{ type: "Service", identifiers: ["events.amazonaws.com"] }],
        condition: [
          {
            test: "ArnEquals",
            variable: "aws:SourceArn",
            values: [expect.stringContaining("failover-trigger_rule_")],
          },
        ],
      }),
      expect.objectContaining({ sid: "TlsOnly", effect: "Deny", actions: ["sqs:*"] }),
    ]);
  });

  it("lets the role it runs as start only the failover workflow", () => {
    const statements = policyStatements(json, "dr-iam_events-permissions");
    const start = statements.filter((s) => s.actions?.includes("states:StartExecution"));
    expect(start.flatMap((s) => s.resources)).toEqual([
      expect.stringMatching(/:us-west-2:.*:stateMachine:payments-failover-dev$/),
    ]);
  });
});

describe("prober infrastructure", () => {
  const { json } = synth(FULL_ENV);

  it("runs the prober every minute in the secondary region only, outside the VPC", () => {
    const probers = resourceList(json, "aws_lambda_function").filter(
      (f) => f.function_name === "payments-dr-prober-dev",
    );
    expect(probers).toHaveLength(1);
    expect(probers[0]).toMatchObject({ provider: "aws.secondary", timeout: 70 });
    expect(probers[0]!.vpc_config).toBeUndefined();
    expect(
      (probers[0]!.environment as { variables: Record<string, string> }).variables,
    ).toMatchObject({
      PROBE_INTERVAL_SECONDS: "10",
      PROBE_TIMEOUT_MS: "3000",
    });
    const schedule = resourceList(json, "aws_cloudwatch_event_rule").find(
      (r) => r.name === "payments-prober-usw2-dev",
    )!;
    expect(schedule).toMatchObject({
      provider: "aws.secondary",
      schedule_expression: "rate(1 minute)",
    });
  });

  // DynamoDB's condition keys (specifying-conditions.html): dynamodb:Attributes is the set of
  // top-level attribute names a request accesses, dynamodb:ReturnValues its ReturnValues. The
  // renewal the real adapter sends must pass the synthesized policy, and nothing else on the item.
  it("lets the prober's role renew the peer lease and write no other attribute of the flag", async () => {
    const renew = policyStatements(json, "prober_function_permissions").find(
      (s) => s.sid === "RenewPeerLease",
    )!;
    expect(renew.actions).toEqual(["dynamodb:UpdateItem"]);
    const condition = (variable: string) => renew.condition!.find((c) => c.variable === variable);
    expect(condition("dynamodb:LeadingKeys")).toMatchObject({
      test: "ForAllValues:StringEquals",
      values: ["active-region"],
    });
    expect(condition("dynamodb:Attributes")?.test).toBe("ForAllValues:StringEquals");
    // "the ReturnValues parameter always has a value (NONE unless otherwise specified)"
    // (specifying-conditions.html, example 3): StringEquals, not IfExists.
    expect(condition("dynamodb:ReturnValues")).toMatchObject({
      test: "StringEquals",
      values: ["NONE"],
    });
    const allowed = new Set(condition("dynamodb:Attributes")!.values);
    for (const forbidden of ["updatedBy", "updatedAt", "reason", "previousRegion", "owner"]) {
      expect(allowed.has(forbidden)).toBe(false);
    }

    // The request the renewer really sends, first token and later ones.
    const ddb = mockClient(DynamoDBDocumentClient);
    try {
      ddb.on(UpdateCommand).resolves({});
      const table = new DynamoControlTable(
        DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-west-2" })),
        "control",
      );
      await table.renewPeerLease("us-east-1", 0, "2026-11-30T10:00:00.000Z");
      await table.renewPeerLease("us-east-1", 4, "2026-11-30T10:00:10.000Z");
      for (const call of ddb.commandCalls(UpdateCommand)) {
        const input = call.args[0].input;
        const named = [
          ...Object.keys(input.Key ?? {}),
          ...Object.values(input.ExpressionAttributeNames ?? {}),
        ];
        expect(named.filter((n) => !allowed.has(n))).toEqual([]);
        // Bare names in an expression would bypass the list above: every name is a #placeholder.
        const bare = `${input.UpdateExpression} ${input.ConditionExpression}`
          .replace(/[#:][A-Za-z0-9_]+/g, "")
          .match(
            /\b(?!SET\b|AND\b|OR\b|NOT\b|if_not_exists\b|attribute_not_exists\b)[A-Za-z_]+\b/g,
          );
        expect(bare).toBeNull();
        expect(input.ReturnValues ?? "NONE").toBe("NONE");
        // Review 22 L1: the condition's own names count for dynamodb:Attributes ("evaluated in
        // a conditional write", specifying-conditions.html), so each must stay in the list:
        // a "tightened" list without them would deny every renewal and lapse the lease.
        const conditionNames = (input.ConditionExpression!.match(/#[A-Za-z0-9_]+/g) ?? []).map(
          (placeholder) => input.ExpressionAttributeNames![placeholder]!,
        );
        expect(conditionNames).toEqual(expect.arrayContaining(["activeRegion", "fencingToken"]));
        const listed: readonly string[] = LEASE_RENEWAL_ATTRIBUTES;
        expect(conditionNames.filter((n) => !listed.includes(n))).toEqual([]);
        expect(conditionNames.filter((n) => !allowed.has(n))).toEqual([]);
      }
    } finally {
      ddb.restore();
    }
  });
});

describe("RTO and RPO budget", () => {
  it("expects the defaults to meet the 15-minute target, with the bound beside it", () => {
    const { json, config } = synth(FULL_ENV);
    const budget = computeBudget(json, "payments-dr-dev", config);
    expect(budget.phases.map((p) => p.name)).toEqual([
      "detection",
      "decision",
      "fence",
      "old writer",
      "promotion",
      "dns",
    ]);
    const phase = (name: string) => budget.phases.find((p) => p.name === name)!;
    // 3 failed probes 10 s apart, the last one's 3 s timeout, half an evaluation period.
    expect(phase("detection")).toMatchObject({ expected: 38, bound: 43 });
    // Three tasks of 1 s, and AcquireLock's claim of the failed region's copy of the lock: one
    // best-effort attempt that times out (1 s to connect + 2 s for the answer; review L2).
    // The bound: the three tasks at their TimeoutSeconds (32 s), and the wait on a switchover's
    // or failback's lock still being confirmed (LockSettlingError's Retry, review 22b-12 M2): the
    // planned run's 90 s AcquireLock lifetime, then one more 3 s interval and a 10 s attempt.
    // ...and a held alarm's hold (review 24-18 M3), worked out by hand from the ASL: at most 8
    // waits of HoldWait's 15 s, each followed by one more Preflight look at its 12 s timeout.
    expect(phase("decision")).toMatchObject({
      expected: 3 + 3,
      bound: 32 + 90 + 3 + 10 + 8 * (15 + 12),
    });
    expect(phase("decision").detail).toContain(
      "+ 216 s a held alarm's hold (8 x (HoldWait 15 s + Preflight 12 s))",
    );
    // Held, then paged: the hold at 1 s looks, on-call's 300 s, then the expected run.
    expect(budget.heldThenPagedSeconds).toBe(budget.expectedSeconds + 8 * (15 + 1) + 300);
    expect(formatBudget(budget)).toContain(
      `held, then paged (a flood veto that outlasts its hold): about ${budget.heldThenPagedSeconds} s expected`,
    );
    expect(phase("decision").detail).toContain("the lock claim in the failed region (3 s timeout)");
    expect(phase("decision").detail).toContain(
      "+ 103 s waiting on a switchover's or failback's lock still being confirmed",
    );
    // The database proves the old primary stopped 60 + 5 + 30 s (DB_PROOF_MARGIN_SECONDS) after
    // the failure; the run gets to CheckOldWriter 45 s after it, waits the rest and looks once
    // more. Counted from the prober's first sighting of the last beat: 10 / 2 - 5 / 2 s after it.
    // The peer lease's 49 s after the fence end sooner, so the database's wait counts.
    expect(phase("old writer").expected).toBe(Math.round(2.5 + 60 + 5 + 30 - (38 + 6 + 1) + 1));
    // Promote, the failover, half a poll, CheckPromotion, then UpdateParameters, ShiftTraffic,
    // Verify and Unfence: writes open at Unfence (review 23 H2).
    expect(phase("promotion").expected).toBe(Math.round(1 + 120 + 2.5 + 1 + 4));
    // Expected: DNS runs beside the promotion from the proof on (the target's /health answers
    // taking-over once Promote stamps promotingAt): 3 checks of 10 s and the 60 s alias TTL end
    // before the promotion does, so it adds nothing. Bound (review 23 M1): in full after the
    // promotion, whose restart can turn the target unhealthy again.
    expect(phase("dns")).toMatchObject({ expected: 0, bound: 90 });
    expect(phase("dns").detail).toContain("3 x 10 s + alias TTL 60 s = 90 s from the proof");
    // Phases are shown rounded; the total is rounded once (within a second of their sum).
    const sum = budget.phases.reduce((s, p) => s + p.expected, 0);
    expect(Math.abs(budget.expectedSeconds - sum)).toBeLessThanOrEqual(1);
    // The bound: every task at its timeout and the 20-minute promotion bound.
    expect(phase("promotion").bound).toBeGreaterThanOrEqual(20 * 60);
    // ...and Verify's designed retries on the way to Unfence (review 23b-10 M3), worked out by
    // hand from the ASL: 20 retries of a 30 s attempt after 5 s x 1.5^i, capped at 30 s
    // (5 + 7.5 + 11.25 + 16.875 + 25.3125 + 15 x 30 = 515.9375 s of intervals).
    expect(phase("promotion").bound).toBeGreaterThanOrEqual(20 * 60 + 20 * 30 + 515);
    expect(phase("promotion").detail).toContain("Verify's designed retries 1116 s");
    expect(budget.boundSeconds).toBeGreaterThan(budget.expectedSeconds);
    expect(budget.rtoTargetSeconds).toBe(900);
    expect(budget.rpoBoundSeconds).toBe(60);
    expect(budget.lagAlarmSeconds).toBe(60);
    expect(withinTargets(budget)).toBe(true);
  });

  it("says why the expected RTO misses the 180 s goal, with what the lowest knobs would give", () => {
    const { json, config } = synth(FULL_ENV);
    const budget = computeBudget(json, "payments-dr-dev", config);
    expect(budget.expectedSeconds).toBeGreaterThan(budget.rtoGoalSeconds);
    // At rds.global_db_rpo 20 s and a 10 s margin the lease's 49 s after the fence (reached at
    // 45 s: three 1 s tasks and the 3 s lock claim in the failed region) is the later wait:
    // 45 + 49 + 1 look + 125.5 promotion, rounded once.
    expect(budget.goalMiss).toEqual({
      floorSeconds: Math.round(38 + 6 + 1 + 49 + 1 + (1 + 120 + 2.5 + 1 + 4)),
      reason: expect.stringContaining("the peer lease's 49 s and the Aurora failover stay"),
    });
    expect(budget.goalMiss!.floorSeconds).toBeGreaterThan(budget.rtoGoalSeconds);
    expect(formatBudget(budget)).toContain("goal missed because: detection, decision and fence");
    // Met: no reason printed.
    const env = { ...FULL_ENV, RTO_GOAL_SECONDS: "300" };
    const met = computeBudget(synth(env).json, "s", loadConfig(env));
    expect(met.goalMiss).toBeNull();
    expect(formatBudget(met)).not.toContain("goal missed because");
  });

  it("counts the peer lease's wait after the fence when it ends after the database's proof (review M3)", () => {
    const env = { ...FULL_ENV, DB_RPO_SECONDS: "20", DB_PROOF_MARGIN_SECONDS: "10" };
    const budget = computeBudget(synth(env).json, "s", loadConfig(env));
    const oldWriter = budget.phases.find((p) => p.name === "old writer")!;
    // The proof holds 2.5 + 20 + 5 + 10 s after the failure, before the run reaches it (45 s);
    // the lease's 49 s count from the fence, then one more look.
    expect(oldWriter.expected).toBe(49 + 1);
    expect(oldWriter.detail).toContain("the peer lease 49 s after the fence");
  });

  // Review 23 H1/M2: the target's /health answers 200 "taking-over" only from the run's proof
  // (Promote stamps promotingAt; its own cluster answers), so Route 53's checks of it run during
  // the promotion, not during the old-writer proof; clients are routed to it threshold x
  // interval + TTL after the proof, and only what outlasts the promotion is serial (expected).
  // The bound counts DNS in full after the promotion (M1).
  it("counts DNS from the proof, serial only where it outlasts the promotion; the bound after it", () => {
    // A 10 s Aurora failover: the promotion and the tasks until Unfence take 18.5 s after the
    // proof, against 3 x 10 s of checks + the 60 s TTL = 90 s.
    const env = { ...FULL_ENV, RTO_EXPECTED_AURORA_FAILOVER_SECONDS: "10" };
    const budget = computeBudget(synth(FULL_ENV).json, "s", loadConfig(env));
    const phase = (name: string) => budget.phases.find((p) => p.name === name)!;
    expect(phase("promotion").expected).toBe(Math.round(1 + 10 + 2.5 + 1 + 4));
    expect(phase("dns").expected).toBe(Math.round(90 - 18.5));
    expect(phase("dns").bound).toBe(90);
    const before =
      phase("detection").expected +
      phase("decision").expected +
      phase("fence").expected +
      phase("old writer").expected;
    // From the proof: whichever ends later, the promotion or DNS (within rounding).
    expect(Math.abs(budget.expectedSeconds - (before + 90))).toBeLessThanOrEqual(1);
    expect(formatBudget(budget)).toContain(
      "expected: DNS beside the promotion from the proof; bound: DNS after it",
    );
  });

  it("takes the expected Aurora failover duration as a named input", () => {
    // 100 s, still longer than DNS beside it (90 s), so all of the difference shows.
    const env = { ...FULL_ENV, RTO_EXPECTED_AURORA_FAILOVER_SECONDS: "100" };
    const fast = computeBudget(synth(FULL_ENV).json, "s", loadConfig(env));
    const typical = computeBudget(synth(FULL_ENV).json, "s", loadConfig(FULL_ENV));
    expect(typical.expectedSeconds - fast.expectedSeconds).toBe(20);
    expect(fast.boundSeconds).toBe(typical.boundSeconds);
  });

  it("adds on-call's answer to the decision in approval mode, and the whole window to the bound", () => {
    const automatic = computeBudget(synth(FULL_ENV).json, "s", loadConfig(FULL_ENV));
    const approval = computeBudget(synth(CUSTOM_ENV).json, "s", loadConfig(CUSTOM_ENV));
    const decision = (b: typeof automatic) => b.phases.find((p) => p.name === "decision")!;
    expect(approval.mode).toBe("approval");
    expect(decision(approval).bound - decision(automatic).bound).toBe(25 * 60);
    expect(decision(approval).expected - decision(automatic).expected).toBe(1 + 300);
    expect(decision(approval).detail).toContain("RequestApproval (on-call 300 s | 1500 s)");
  });

  it("fails when slow detection pushes the expected RTO past the target", () => {
    const env = {
      ...FULL_ENV,
      PROBE_INTERVAL_SECONDS: "30",
      PROBE_ALARM_PERIODS: "30",
      PROBE_ALARM_DATAPOINTS: "30",
    };
    const budget = computeBudget(synth(env).json, "s", loadConfig(env));
    expect(budget.phases[0]!.bound).toBe(30 * 30 + 3 + 30);
    expect(budget.expectedSeconds).toBeGreaterThan(900);
    expect(withinTargets(budget)).toBe(false);
  });

  it("fails when the RPO guard is looser than the RPO target", () => {
    const env = { DB_RPO_SECONDS: "600" };
    expect(withinTargets(computeBudget(synth(env).json, "s", loadConfig(env)))).toBe(false);
  });
});

describe("re-protect infrastructure", () => {
  const { json } = synth(FULL_ENV);
  const functions = resourceList(json, "aws_lambda_function");
  const env = (name: string) =>
    (
      functions.find((f) => f.function_name === name && f.provider === "aws.secondary")!
        .environment as { variables: Record<string, string> }
    ).variables;

  it("gives DR_DATABASE to the rebuild task only, as Terraform builds each cluster", () => {
    const spec = env("payments-dr-rebuild-dev").DR_DATABASE!;
    for (const reference of [
      "database_primary-subnets",
      "database_secondary-subnets",
      "database_primary-parameters",
      "database_secondary-parameters",
      "aws_kms_key.database_storage-key_",
      "aws_kms_replica_key.database_storage-key-replica_",
      "network-primary_db-sg",
      "database_monitoring-role",
    ]) {
      expect(spec).toContain(reference);
    }
    // The reader instances of each region, named as Terraform names them.
    expect(spec).toContain('"payments-db-1-use1-dev"');
    expect(spec).toContain('"payments-db-1-usw2-dev"');
    for (const other of ["payments-dr-fence-dev", "payments-dr-check-rejoin-dev"]) {
      expect(env(other).DR_DATABASE).toBeUndefined();
    }
  });

  it("lets the rebuild task's own role rebuild only this environment's clusters, keys and monitoring role", () => {
    const statements = policyStatements(json, "orchestration-secondary_task-rebuild_permissions_");
    const rds = statements.filter((s) => s.actions!.some((a) => a.startsWith("rds:")));
    expect(new Set(rds.flatMap((s) => s.actions))).toEqual(
      new Set([
        "rds:DescribeGlobalClusters",
        "rds:DescribeDBClusters",
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusterSnapshots",
        "rds:CreateDBClusterSnapshot",
        "rds:CopyDBClusterSnapshot",
        "rds:AddTagsToResource",
        "rds:RemoveFromGlobalCluster",
        "rds:ModifyDBCluster",
        "rds:ModifyDBInstance",
        // Turning off the stale global cluster's deletion protection before deleting it.
        "rds:ModifyGlobalCluster",
        "rds:DeleteGlobalCluster",
        "rds:CreateGlobalCluster",
        "rds:CreateDBCluster",
        "rds:CreateDBInstance",
      ]),
    );
    // ModifyGlobalCluster on exactly the environment's global cluster, nothing else.
    const modifyGlobal = rds.filter((s) => s.actions!.includes("rds:ModifyGlobalCluster"));
    expect(modifyGlobal.flatMap((s) => s.resources)).toEqual([
      expect.stringMatching(
        /^arn:aws:rds::\$\{[^}]+\}:global-cluster:\$\{aws_rds_global_cluster\.database_global_\w+\.global_cluster_identifier\}$/,
      ),
    ]);
    // Exact names in both regions: Terraform's clusters, instances and groups, and what a run
    // keeps (only its run tag is a wildcard); never payments-db-* at large. The one exception,
    // cluster-snapshot:*, is the snapshot listing's alone (next assertion).
    for (const resource of rds.flatMap((s) => s.resources!)) {
      expect(resource).toMatch(
        /(:global-cluster:\$\{aws_rds_global_cluster\.database_global_|^\$\{aws_rds_cluster\.database_(primary|secondary)-cluster_\w+\.arn\}$|:rds:us-(east-1|west-2):.*:cluster:payments-db-(use1|usw2)-dev-detached-\*$|:rds:us-(east-1|west-2):.*:cluster-snapshot:payments-db-(use1|usw2)-dev-at-(reprotect|failover)-\*$|:rds:us-(east-1|west-2):.*:cluster-snapshot:\*$|:cluster-snapshot:rds:unplanned-global-failover-payments-db-(use1|usw2)-dev-\*$|:rds:us-(east-1|west-2):.*:db:payments-db-\d-(use1|usw2)-dev(-detached-\*)?$|:rds:us-(east-1|west-2):.*:(subgrp|cluster-pg):\$\{|:pg:default\.aurora-postgresql\*$)/,
      );
    }
    // A listing filtered by cluster returns all of its snapshots: only it is granted on them all.
    expect(
      rds
        .filter((s) => s.resources!.some((r) => r.endsWith(":cluster-snapshot:*")))
        .map((s) => s.actions),
    ).toEqual([["rds:DescribeDBClusterSnapshots"]]);
    // Exactly the two actions Aurora's "Authorizing use of a customer managed key" lists.
    expect(statements.find((s) => s.sid === "StorageKeysThroughRds")).toMatchObject({
      actions: ["kms:CreateGrant", "kms:DescribeKey"],
      condition: [
        {
          test: "StringEquals",
          variable: "kms:ViaService",
          values: ["rds.us-east-1.amazonaws.com", "rds.us-west-2.amazonaws.com"],
        },
      ],
    });
    expect(statements.find((s) => s.sid === "PassTheMonitoringRole")).toMatchObject({
      actions: ["iam:PassRole"],
      resources: [expect.stringContaining("database_monitoring-role")],
      // AWS does not say which of the two CreateDBInstance reports; RDS only either way.
      condition: [
        {
          test: "StringEquals",
          variable: "iam:PassedToService",
          values: ["rds.amazonaws.com", "monitoring.rds.amazonaws.com"],
        },
      ],
    });
  });

  it("lets CheckRejoin only read the database and its lag, renew the lock and arm the peer lease", () => {
    const statements = policyStatements(
      json,
      "orchestration-secondary_task-check-rejoin_permissions_",
    );
    expect(statements.flatMap((s) => s.actions).sort()).toEqual([
      "cloudwatch:GetMetricData",
      // The lock's lease (functions/dr/shared/lock.ts) and the table's key through DynamoDB.
      "dynamodb:GetItem",
      "dynamodb:UpdateItem",
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "rds:DescribeDBClusters",
      "rds:DescribeGlobalClusters",
    ]);
  });
});

describe("audit-trail log retention", () => {
  // PCI DSS 10.5.1: retain audit log history for at least 12 months.
  it("keeps the workflow and API access logs a year by default, as configured otherwise", () => {
    const groups = (json: ReturnType<typeof synth>["json"], fragment: string) =>
      resourceList(json, "aws_cloudwatch_log_group")
        .filter((g) => String(g.name).includes(fragment))
        .map((g) => g.retention_in_days);
    const { json } = synth();
    // Four workflows (failover, switchover, failback, reprotect) in each region.
    expect(groups(json, "/aws/vendedlogs/states/")).toEqual(Array(8).fill(365));
    expect(groups(json, "/api-access/")).toEqual([365, 365]);
    expect(groups(json, "/aws/lambda/payments-dr-fence-")).toEqual([30, 30]);
    const { json: custom } = synth({
      WORKFLOW_LOG_RETENTION_DAYS: "731",
      API_ACCESS_LOG_RETENTION_DAYS: "400",
      LOG_RETENTION_DAYS: "90",
    });
    expect(groups(custom, "/aws/vendedlogs/states/")).toEqual(Array(8).fill(731));
    expect(groups(custom, "/api-access/")).toEqual([400, 400]);
    expect(groups(custom, "/aws/lambda/payments-dr-fence-")).toEqual([90, 90]);
  });
});
