import { parse } from "yaml";
import { validateInput } from "../../functions/dr/validate-input/core";
import { placeholdersOf, pollBounds } from "../../infra/lib/asl";
import { CAPACITY_BOUND_SECONDS } from "../../functions/common/contract";
import { CAPACITY_POLL_SECONDS } from "../../functions/dr/restore-capacity/core";
import { readRunbook, renderRunbook } from "../../infra/lib/runbook";
import { EAST, FakeWorld, TOPOLOGY, WEST } from "../functions/dr/support/fake-world";
import { runWorkflow } from "../state-machines/support/harness";
import { CUSTOM_ENV, resourceList, synth } from "../infra/helpers";
import { hasPython, runStep } from "./python";
import type { Document } from "./support/document";
import { paths, undocumentedInputs } from "./support/document";

const SUBSTITUTIONS = {
  EnvironmentSuffix: "dev",
  PrimaryRegion: "us-east-1",
  SecondaryRegion: "us-west-2",
  ParameterPrefix: "/payments/dev",
  GlobalClusterIdentifier: "payments-global-dev",
  StateMachinePrefix: "payments-",
  AutomationRoleArn: "arn:aws:iam::123456789012:role/payments-dr-automation-usw2-dev",
  AlertTopicArn: "arn:aws:sns:us-west-2:123456789012:payments-alerts-dev",
  DocumentRegion: "us-west-2",
  ReportWriterFunction: "payments-report-writer-dev",
};

const ACTIONS = new Set(["aws:executeScript", "aws:executeAwsApi", "aws:sleep", "aws:branch"]);
/** The steps that report and page: everything before them must end up there on failure. */
const REPORTING = ["WriteReport", "Report", "WriteFailedReport", "PageFailed", "PageOnCall"];

describe("the DR drill runbook", () => {
  const text = renderRunbook("dr-drill", SUBSTITUTIONS);
  const doc = parse(text) as Document;
  const names = doc.mainSteps.map((s) => s.name);

  it("is an SSM Automation document (schema 0.3) that runs as the DR automation role", () => {
    expect(doc.schemaVersion).toBe("0.3");
    expect(doc.assumeRole).toBe("{{ AutomationAssumeRole }}");
    expect(doc.parameters.AutomationAssumeRole!.default).toBe(SUBSTITUTIONS.AutomationRoleArn);
    expect(doc.parameters.Workflow!.allowedValues).toEqual(["switchover", "failover"]);
    expect(doc.parameters.Workflow!.default).toBe("switchover");
  });

  // Review 23, L5: the execution's duration includes the capacity loop (minutes of reader
  // creation after the lock's release); the RTO is in the report (RecordTimeline).
  it("labels the passed page's duration as the execution's, not the RTO", () => {
    const report = doc.mainSteps.find((s) => s.name === "Report")!;
    const message = (report.inputs as { Message: string }).Message;
    expect(message).toContain(
      "execution {{ MoveToSecondary.Seconds }} s incl. the capacity loop, not the RTO",
    );
    expect(message).toContain("Report (per-step timeline, RTO, RPO)");
  });

  it("moves to the secondary, holds, fails back, reports and pages, in that order", () => {
    expect(names).toEqual([
      "CheckReadiness",
      "AnnounceStart",
      "MoveToSecondary",
      "Hold",
      "ShouldFailBack",
      "FailBackToPrimary",
      "WriteReport",
      "Report",
      "WriteFailedReport",
      "PageFailed",
      "PageOnCall",
    ]);
    expect(new Set(names).size).toBe(names.length);
    for (const step of doc.mainSteps) {
      expect(ACTIONS.has(step.action)).toBe(true);
      for (const target of [step.onFailure, step.nextStep].filter(Boolean)) {
        if (target === "Abort") continue;
        expect(names).toContain(String(target).replace(/^step:/, ""));
      }
    }
  });

  it("says on every step what happens when it fails", () => {
    for (const step of doc.mainSteps) {
      expect({ step: step.name, onFailure: step.onFailure }).toEqual({
        step: step.name,
        onFailure: expect.stringMatching(/^(Abort|step:[A-Za-z]+)$/),
      });
    }
  });

  it("writes a report and pages on every way a drill can go, passed or failed", () => {
    const all = paths(doc, "CheckReadiness");
    expect(all.length).toBeGreaterThan(20);
    for (const path of all) {
      const failedBeforeReporting = path.some(
        (s) => s.startsWith("!") && !REPORTING.includes(s.slice(1)),
      );
      const last = path.filter((s) => !s.startsWith("!")).at(-1);
      // Every path ends with a page (or with a page that failed: nothing more can be done).
      expect({ path, last }).toEqual({
        path,
        last: expect.stringMatching(/^(Report|PageFailed|PageOnCall)$/),
      });
      if (failedBeforeReporting) {
        // A failed drill writes its report first, unless writing it failed too.
        expect({ path, reported: path.includes("WriteFailedReport") }).toEqual({
          path,
          reported: true,
        });
        expect(path).not.toContain("Report");
      } else if (!path.some((s) => s.startsWith("!"))) {
        expect(path.slice(-2)).toEqual(["WriteReport", "Report"]);
      }
    }
  });

  it("uses only the documented inputs of each action, and Python 3.11", () => {
    for (const step of doc.mainSteps) {
      expect({ step: step.name, undocumented: undocumentedInputs(step) }).toEqual({
        step: step.name,
        undocumented: [],
      });
      if (step.action === "aws:executeScript") expect(step.inputs.Runtime).toBe("python3.11");
    }
  });

  it("finds an undocumented input, such as OutputPayload under aws:executeScript", () => {
    const script = doc.mainSteps.find((s) => s.action === "aws:executeScript")!;
    expect(
      undocumentedInputs({ ...script, inputs: { ...script.inputs, OutputPayload: {} } }),
    ).toEqual(["OutputPayload"]);
    expect(undocumentedInputs({ ...script, action: "aws:executeStateMachine" })).toContain(
      "Runtime",
    );
    expect(undocumentedInputs({ ...script, action: "aws:runTheWorld" })).toEqual([
      "unknown action aws:runTheWorld",
    ]);
  });

  it("lists exactly its steps before the report as the steps the report covers", () => {
    for (const name of ["WriteReport", "WriteFailedReport"]) {
      const payload = doc.mainSteps.find((s) => s.name === name)!.inputs.InputPayload as Record<
        string,
        string
      >;
      expect(payload.PlannedSteps!.split(",")).toEqual(
        names.slice(0, names.indexOf("WriteReport")),
      );
      expect(payload).toMatchObject({
        Kind: "failover-drill",
        Path: name === "WriteReport" ? "passed" : "failed",
        Region: "us-west-2",
        WriterFunction: "payments-report-writer-dev",
      });
    }
  });

  // Review 22, M4: the attempts must cover each workflow's own loop bounds, read from its ASL,
  // now that the execution ends only after the capacity loop (up to 30 minutes after the lock's
  // release). The failback's CheckRejoin wait (up to 12 h for a lagging secondary) is not
  // covered: a drill whose failback waits that long is reported failed (dr-drill.md).
  it("waits at least as long as the workflows' proof, promotion and capacity bounds together", () => {
    const stepsMargin = 300; // the other tasks and their Retry backoff, generously
    for (const [name, workflows] of [
      ["MoveToSecondary", ["switchover", "failover"]],
      ["FailBackToPrimary", ["failback"]],
    ] as const) {
      const step = doc.mainSteps.find((s) => s.name === name)!;
      const payload = step.inputs.InputPayload as Record<string, unknown>;
      const waited = Number(payload.TimeoutSeconds) * Number(step.maxAttempts);
      for (const workflow of workflows) {
        const b = pollBounds(workflow);
        const needed =
          b.writerStopBoundSeconds +
          b.promotionTimeoutSeconds +
          CAPACITY_BOUND_SECONDS +
          CAPACITY_POLL_SECONDS +
          stepsMargin;
        expect({ name, workflow, waited: waited >= needed }).toEqual({
          name,
          workflow,
          waited: true,
        });
      }
    }
  });

  // A workflow may take its whole bound (a promotion 20 minutes), longer than one
  // aws:executeScript (at most 600 s): retried attempts watch the same execution, as one drill.
  it("waits for each workflow through its own bounds and runs both as one drill", () => {
    for (const name of ["MoveToSecondary", "FailBackToPrimary"]) {
      const step = doc.mainSteps.find((s) => s.name === name)!;
      expect(step).toMatchObject({ timeoutSeconds: 600, maxAttempts: 8 });
      const payload = step.inputs.InputPayload as Record<string, unknown>;
      expect(payload.DrillId).toBe("{{ automation:EXECUTION_ID }}");
      expect(Number(payload.TimeoutSeconds) * 8).toBeGreaterThanOrEqual(40 * 60);
    }
  });

  it("refers only to its own parameters, automation variables and earlier step outputs", () => {
    const outputs = new Set(
      doc.mainSteps.flatMap((s) => (s.outputs ?? []).map((o) => `${s.name}.${o.Name}`)),
    );
    const references = [...text.matchAll(/\{\{\s*([\w:.]+)\s*\}\}/g)].map((m) => m[1]!);
    expect(references.length).toBeGreaterThan(5);
    for (const reference of references) {
      const known =
        reference in doc.parameters ||
        reference.startsWith("automation:") ||
        outputs.has(reference);
      expect({ reference, known }).toEqual({ reference, known: true });
    }
  });

  it("inlines each script and leaves no placeholder behind", () => {
    expect(placeholdersOf(readRunbook("dr-drill"))).toEqual(Object.keys(SUBSTITUTIONS).sort());
    expect(text).not.toMatch(/\$\{/);
    const script = doc.mainSteps.find((s) => s.name === "MoveToSecondary")!.inputs.Script;
    expect(String(script)).toContain("def run_workflow(events, context):");
    const report = doc.mainSteps.find((s) => s.name === "WriteReport")!.inputs.Script;
    expect(String(report)).toContain("def write_drill_report(events, context):");
  });

  it("rejects a value that would break the YAML", () => {
    expect(() => renderRunbook("dr-drill", { ...SUBSTITUTIONS, EnvironmentSuffix: 'x"y' })).toThrow(
      /may not contain quotes or line breaks/,
    );
  });
});

const pythonIt = hasPython() || process.env.CI === "true" ? it : it.skip;

describe("the drill's Python steps", () => {
  const run = {
    Region: "us-west-2",
    Workflow: "switchover",
    StateMachinePrefix: "payments-",
    Suffix: "dev",
    ExecutionName: "drill-1234-out",
    TimeoutSeconds: 540,
  };
  const identity = { "sts.get_caller_identity": { Account: "123456789012" } };

  pythonIt(
    "starts the workflow in the target region with an input the workflow accepts",
    async () => {
      const result = runStep("RunWorkflow", "run_workflow", run, {
        ...identity,
        "stepfunctions.start_execution": {},
        "stepfunctions.describe_execution": [
          { status: "RUNNING" },
          { status: "RUNNING" },
          { status: "SUCCEEDED" },
        ],
      });
      expect(result.error).toBeUndefined();
      expect(result.ok).toMatchObject({
        Status: "SUCCEEDED",
        ExecutionArn:
          "arn:aws:states:us-west-2:123456789012:execution:payments-switchover-dev:drill-1234-out",
      });
      const start = result.calls.find((c) => c.call === "stepfunctions.start_execution")!;
      expect(start.region).toBe("us-west-2");
      expect(start.args).toMatchObject({
        stateMachineArn:
          "arn:aws:states:us-west-2:123456789012:stateMachine:payments-switchover-dev",
        name: "drill-1234-out",
      });
      expect(
        result.calls.filter((c) => c.call === "stepfunctions.describe_execution"),
      ).toHaveLength(3);
      const accepted = await validateInput(
        {
          workflow: "switchover",
          input: JSON.parse(String(start.args.input)),
          context: {
            executionId: "x",
            executionName: "drill-1234-out",
            startTime: "2026-11-25T15:00:00Z",
            stateMachineArn: "sm",
          },
        },
        new FakeWorld().deps(WEST),
      );
      expect(accepted.request).toMatchObject({
        workflow: "switchover",
        trigger: "drill",
        targetRegion: WEST,
      });
    },
  );

  pythonIt("watches the run it already started when the step is retried", () => {
    const result = runStep("RunWorkflow", "run_workflow", run, {
      ...identity,
      "stepfunctions.start_execution": { raise: "ExecutionAlreadyExists" },
      "stepfunctions.describe_execution": { status: "SUCCEEDED" },
    });
    expect(result.ok).toMatchObject({ Status: "SUCCEEDED" });
    expect(result.calls.filter((c) => c.call === "stepfunctions.start_execution")).toHaveLength(1);
  });

  // Review 23b, L3: the drill's page reports the execution's duration; with the capacity loop a
  // run usually outlasts one 540 s attempt, and a retried attempt re-attaches to it.
  pythonIt(
    "reports the execution's own duration from DescribeExecution when the step is retried",
    () => {
      const result = runStep("RunWorkflow", "run_workflow", run, {
        ...identity,
        "stepfunctions.start_execution": { raise: "ExecutionAlreadyExists" },
        "stepfunctions.describe_execution": {
          status: "SUCCEEDED",
          startDate: "2026-11-25T15:00:00.000Z",
          stopDate: "2026-11-25T15:21:40.500Z",
        },
      });
      expect(result.ok).toMatchObject({ Status: "SUCCEEDED", Seconds: 1300 });
    },
  );

  pythonIt("fails the step when the workflow does not succeed", () => {
    const result = runStep("RunWorkflow", "run_workflow", run, {
      ...identity,
      "stepfunctions.start_execution": {},
      "stepfunctions.describe_execution": { status: "FAILED" },
    });
    expect(result.error).toBe(
      "payments-switchover-dev ended FAILED: arn:aws:states:us-west-2:123456789012:execution:payments-switchover-dev:drill-1234-out",
    );
  });

  pythonIt("fails the step when the workflow outlives the step's bound", () => {
    const result = runStep(
      "RunWorkflow",
      "run_workflow",
      { ...run, TimeoutSeconds: -1 },
      {
        ...identity,
        "stepfunctions.start_execution": {},
        "stepfunctions.describe_execution": { status: "RUNNING" },
      },
    );
    expect(result.error).toMatch(/^payments-switchover-dev still RUNNING after -1 s/);
  });

  const readiness = {
    PrimaryRegion: "us-east-1",
    SecondaryRegion: "us-west-2",
    ParameterPrefix: "/payments/dev",
    GlobalClusterIdentifier: "payments-global-dev",
  };
  const healthyCluster = {
    GlobalClusters: [
      {
        Status: "available",
        GlobalClusterMembers: [
          {
            DBClusterArn: "arn:aws:rds:us-east-1:123456789012:cluster:payments-db-use1-dev",
            IsWriter: true,
          },
          {
            DBClusterArn: "arn:aws:rds:us-west-2:123456789012:cluster:payments-db-usw2-dev",
            IsWriter: false,
          },
        ],
      },
    ],
  };

  pythonIt("starts a drill only when the primary is active and the only writer", () => {
    const ok = runStep("CheckReadiness", "check_readiness", readiness, {
      "ssm.get_parameter": { Parameter: { Value: "us-east-1" } },
      "rds.describe_global_clusters": healthyCluster,
    });
    expect(ok.ok).toEqual({
      ActiveRegion: "us-east-1",
      Writer: "arn:aws:rds:us-east-1:123456789012:cluster:payments-db-use1-dev",
    });
    expect(ok.calls.map((c) => [c.call, c.region])).toEqual([
      ["ssm.get_parameter", "us-west-2"],
      ["rds.describe_global_clusters", "us-west-2"],
    ]);
  });

  pythonIt("rejects a drill while the secondary is still active", () => {
    const refused = runStep("CheckReadiness", "check_readiness", readiness, {
      "ssm.get_parameter": { Parameter: { Value: "us-west-2" } },
    });
    expect(refused.error).toBe(
      "drill refused: the active region is us-west-2, not us-east-1; fail back first",
    );
  });

  pythonIt("rejects a drill when the writer is not in the primary region", () => {
    const moved = JSON.parse(JSON.stringify(healthyCluster)) as typeof healthyCluster;
    moved.GlobalClusters[0]!.GlobalClusterMembers[0]!.IsWriter = false;
    moved.GlobalClusters[0]!.GlobalClusterMembers[1]!.IsWriter = true;
    const refused = runStep("CheckReadiness", "check_readiness", readiness, {
      "ssm.get_parameter": { Parameter: { Value: "us-east-1" } },
      "rds.describe_global_clusters": moved,
    });
    expect(refused.error).toMatch(/^drill refused: expected one writer in us-east-1/);
  });
});

// The drill end to end: the Python steps build the inputs, the real workflows run them in a
// world where the switchover's cooldown (FAILOVER_COOLDOWN_MINUTES, 30) outlasts the drill's
// hold (HoldDuration, 10 minutes), and the steps read back how they ended.
describe("the drill against the workflows", () => {
  const drill = {
    StateMachinePrefix: "payments-",
    Suffix: "dev",
    TimeoutSeconds: 540,
    DrillId: "8f4ab9e0-5c61-4d2e-9a1b-5b2f0c6d7e11",
  };
  const identity = { "sts.get_caller_identity": { Account: "123456789012" } };

  /** The input a step's start_execution sends. */
  function inputOf(step: Record<string, unknown>): Record<string, unknown> {
    const result = runStep("RunWorkflow", "run_workflow", step, {
      ...identity,
      "stepfunctions.start_execution": {},
      "stepfunctions.describe_execution": { status: "SUCCEEDED" },
    });
    const start = result.calls.find((c) => c.call === "stepfunctions.start_execution")!;
    return JSON.parse(String(start.args.input)) as Record<string, unknown>;
  }

  /** What the step says once the workflow ended with `status`. */
  function stepAfter(step: Record<string, unknown>, status: string) {
    return runStep("RunWorkflow", "run_workflow", step, {
      ...identity,
      "stepfunctions.start_execution": {},
      "stepfunctions.describe_execution": { status },
    });
  }

  pythonIt(
    "fails back after its hold although its own switchover wrote a 30-minute cooldown",
    async () => {
      const world = new FakeWorld();
      const out = {
        ...drill,
        Region: "us-west-2",
        Workflow: "switchover",
        ExecutionName: "drill-1-out",
      };
      const back = {
        ...drill,
        Region: "us-east-1",
        Workflow: "failback",
        ExecutionName: "drill-1-back",
      };

      const moved = await runWorkflow("switchover", inputOf(out) as never, {
        world,
        executionName: "drill-1-out",
      });
      expect(moved.status).toBe("SUCCEEDED");
      expect(stepAfter(out, "SUCCEEDED").ok).toMatchObject({ Status: "SUCCEEDED" });
      world.clock += 10 * 60_000; // HoldDuration PT10M
      world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = 50;

      const returned = await runWorkflow("failback", inputOf(back) as never, {
        world,
        executionName: "drill-1-back",
        region: EAST,
      });
      expect({ status: returned.status, error: returned.error, cause: returned.cause }).toEqual({
        status: "SUCCEEDED",
        error: undefined,
        cause: undefined,
      });
      expect(stepAfter(back, returned.status).ok).toMatchObject({ Status: "SUCCEEDED" });
      expect(world.flag()).toMatchObject({ activeRegion: EAST, fencingToken: 2 });
    },
  );

  pythonIt("still refuses a failback that is not the drill's own within the cooldown", async () => {
    const world = new FakeWorld();
    const out = {
      ...drill,
      Region: "us-west-2",
      Workflow: "switchover",
      ExecutionName: "drill-2-out",
    };
    await runWorkflow("switchover", inputOf(out) as never, { world, executionName: "drill-2-out" });
    world.clock += 10 * 60_000;
    world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = 50;
    const other = {
      ...drill,
      DrillId: "another-drill",
      Region: "us-east-1",
      Workflow: "failback",
      ExecutionName: "x-back",
    };
    for (const input of [
      { targetRegion: EAST, reason: "by hand", trigger: "console" },
      inputOf(other),
    ]) {
      const result = await runWorkflow("failback", input as never, { world, region: EAST });
      expect(result).toMatchObject({ status: "FAILED", error: "CooldownActiveError" });
    }
    expect(world.flag()).toMatchObject({ activeRegion: WEST });
  });
});

// Review L1: the exemption is the drill's own failback's, once. Its id is readable from the
// cooldown item and the execution input, so a later run carrying it must not skip the cooldown.
describe("the drill's cooldown exemption", () => {
  const drill = {
    StateMachinePrefix: "payments-",
    Suffix: "dev",
    TimeoutSeconds: 540,
    DrillId: "0c5e2a41-7d3b-4f1e-8a6c-2b9d4e1f3a57",
  };
  const identity = { "sts.get_caller_identity": { Account: "123456789012" } };
  function inputOf(step: Record<string, unknown>): Record<string, unknown> {
    const result = runStep("RunWorkflow", "run_workflow", step, {
      ...identity,
      "stepfunctions.start_execution": {},
      "stepfunctions.describe_execution": { status: "SUCCEEDED" },
    });
    const start = result.calls.find((c) => c.call === "stepfunctions.start_execution")!;
    return JSON.parse(String(start.args.input)) as Record<string, unknown>;
  }
  const out = { ...drill, Region: "us-west-2", Workflow: "switchover", ExecutionName: "d-out" };
  const back = { ...drill, Region: "us-east-1", Workflow: "failback", ExecutionName: "d-back" };

  pythonIt("refuses a switchover carrying the drill's id after the drill failed back", async () => {
    const world = new FakeWorld();
    await runWorkflow("switchover", inputOf(out) as never, { world, executionName: "d-out" });
    world.clock += 10 * 60_000;
    world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = 50;
    const returned = await runWorkflow("failback", inputOf(back) as never, {
      world,
      executionName: "d-back",
      region: EAST,
    });
    expect(returned.status).toBe("SUCCEEDED");
    world.clock += 60_000;
    world.lagMs[TOPOLOGY.regions[WEST]!.clusterIdentifier] = 50;
    const again = await runWorkflow(
      "switchover",
      inputOf({ ...out, ExecutionName: "d-out-again" }) as never,
      { world, executionName: "d-out-again" },
    );
    expect(again).toMatchObject({ status: "FAILED", error: "CooldownActiveError" });
    expect(world.flag()).toMatchObject({ activeRegion: EAST, fencingToken: 2 });
  });

  pythonIt(
    "refuses a failover carrying the drill's id within its switchover's cooldown",
    async () => {
      const world = new FakeWorld();
      await runWorkflow("switchover", inputOf(out) as never, { world, executionName: "d-out" });
      world.clock += 10 * 60_000;
      world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = 50;
      const failover = await runWorkflow(
        "failover",
        inputOf({ ...back, Workflow: "failover", ExecutionName: "d-failover" }) as never,
        { world, executionName: "d-failover", region: EAST },
      );
      expect(failover).toMatchObject({ status: "FAILED", error: "CooldownActiveError" });
      expect(world.flag()).toMatchObject({ activeRegion: WEST, fencingToken: 1 });
    },
  );
});

describe("drill infrastructure", () => {
  const { json } = synth();

  it("installs the drill as an Automation document in both regions", () => {
    const documents = resourceList(json, "aws_ssm_document").filter(
      (d) => d.name === "payments-dr-drill-dev",
    );
    expect(documents.map((d) => [d.provider, d.name, d.document_type, d.document_format])).toEqual([
      ["aws.primary", "payments-dr-drill-dev", "Automation", "YAML"],
      ["aws.secondary", "payments-dr-drill-dev", "Automation", "YAML"],
    ]);
    for (const document of documents) {
      const content = parse(String(document.content)) as Document;
      expect(content.mainSteps).toHaveLength(11);
      const role = String(document.provider).replace("aws.", "");
      expect(String(content.parameters.AutomationAssumeRole!.default)).toContain(
        `dr-iam_${role}-drill_`,
      );
    }
  });

  it("runs it monthly from the secondary region as the DR role, unless disabled", () => {
    const rule = resourceList(json, "aws_cloudwatch_event_rule").find(
      (r) => r.name === "payments-dr-drill-usw2-dev",
    )!;
    expect(rule).toMatchObject({
      provider: "aws.secondary",
      schedule_expression: "cron(0 15 ? * TUE#2 *)",
      state: "ENABLED",
    });
    const target = resourceList(json, "aws_cloudwatch_event_target").find(
      (t) => t.target_id === "dr-drill",
    )!;
    expect(String(target.arn)).toMatch(
      /^\$\{replace\(aws_ssm_document\.drills_secondary-document_\w+\.arn, ":document\/", ":automation-definition\/"\)\}:\$DEFAULT$/,
    );
    expect(JSON.parse(String(target.input))).toEqual({
      Workflow: ["switchover"],
      FailBack: ["true"],
    });
    const { json: off } = synth({
      ...CUSTOM_ENV,
      DRILLS_ENABLED: "false",
      DRILL_SCHEDULE: "cron(0 9 ? * MON#1 *)",
    });
    expect(
      resourceList(off, "aws_cloudwatch_event_rule").find(
        (r) => r.name === "payments-dr-drill-usw2-dev",
      ),
    ).toMatchObject({
      state: "DISABLED",
      schedule_expression: "cron(0 9 ? * MON#1 *)",
    });
  });
});
