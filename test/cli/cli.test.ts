// The payments-dr CLI against the AWS SDK mocked per region (aws-sdk-client-mock): each test
// asserts the exact AWS calls a command makes (operation, region, parameters), what it prints
// and its exit code. Step Functions semantics from the API reference: history events carry the
// resolved Parameters of a task (TaskScheduled), a waitForTaskToken task is answered with
// SendTaskSuccess/SendTaskFailure and a stale token answers TaskTimedOut / TaskDoesNotExist
// (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html).
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import type { ListExecutionsCommandInput, StartExecutionCommandInput } from "@aws-sdk/client-sfn";
import {
  GetAutomationExecutionCommand,
  GetParameterCommand,
  StartAutomationExecutionCommand,
} from "@aws-sdk/client-ssm";
import { DescribeAlarmsCommand, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { GetMetricDataCommandInput } from "@aws-sdk/client-cloudwatch";
import { GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { GetCommandInput } from "@aws-sdk/lib-dynamodb";
import { resolveDeployment, validationTopology } from "../../cli/target";
import {
  ACCOUNT,
  awsError,
  byRegion,
  callsOf,
  EAST,
  executionArn,
  history,
  machineArn,
  mocks,
  resetMocks,
  run,
  T0,
  terminal,
  WEST,
} from "./support";

beforeEach(() => resetMocks());

const FLAG_EAST = {
  pk: "active-region",
  activeRegion: EAST,
  fencingToken: 3,
  updatedAt: "2026-03-01T00:00:00Z",
  updatedBy: "seed",
  phase: "open",
};
const FLAG_WEST = {
  ...FLAG_EAST,
  activeRegion: WEST,
  fencingToken: 4,
  updatedBy: "cli-failover-x",
  phase: "fenced",
};

function flagIs(item: Record<string, unknown> | undefined) {
  mocks.dynamo
    .on(GetCommand)
    .callsFake((input: GetCommandInput) =>
      input.Key?.pk === "active-region" ? { Item: item } : {},
    );
}

const COMPLETED_OUTPUT = JSON.stringify({
  request: { targetRegion: WEST },
  steps: {
    AcquireLock: { facts: { replicationLagMs: 180 } },
    RecordTimeline: { rtoSeconds: 97.4, rpoEstimateMs: 180 },
  },
  warnings: {
    ShiftTraffic: { Error: "TransientError", Cause: '{"errorMessage":"route53 did not answer"}' },
  },
});

const HAPPY_STEPS = [
  ["TaskStateEntered", "ValidateInput", 0],
  ["TaskStateExited", "ValidateInput", 0.6],
  ["TaskStateEntered", "Fence", 0.1],
  ["TaskStateExited", "Fence", 1.2],
  ["TaskStateEntered", "Promote", 6],
  ["TaskStateExited", "Promote", 2],
  ["TaskStateEntered", "ShiftTraffic", 40],
  [
    "TaskStateExited",
    "ShiftTraffic",
    2,
    { warnings: { ShiftTraffic: { Error: "TransientError", Cause: "route53 did not answer" } } },
  ],
  ["SucceedStateEntered", "Completed", 45],
] as const;

describe("payments-dr failover", () => {
  it("validates against the live flag, starts the state machine in the target region and follows it to its RTO", async () => {
    flagIs(FLAG_EAST);
    let started: StartExecutionCommandInput | undefined;
    mocks.sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => {
      started = input;
      return { executionArn: executionArn(WEST, "failover", input.name!), startDate: T0 };
    });
    mocks.sfn
      .on(DescribeExecutionCommand)
      .callsFakeOnce(() => ({
        executionArn: executionArn(WEST, "failover", started!.name!),
        status: "RUNNING",
        startDate: T0,
        input: started!.input,
      }))
      .callsFake(() => ({
        executionArn: executionArn(WEST, "failover", started!.name!),
        status: "SUCCEEDED",
        startDate: T0,
        stopDate: new Date(T0.getTime() + 99_000),
        input: started!.input,
        output: COMPLETED_OUTPUT,
      }));
    mocks.sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: history(T0, HAPPY_STEPS.slice(0, 4)) as never })
      .resolves({ events: history(T0, HAPPY_STEPS) as never });

    const io = terminal();
    const result = await run(
      ["failover", "--to", WEST, "--reason", "us-east-1 API down since 03:02 UTC", "--yes"],
      io,
    );

    expect(result.code).toBe(0);
    expect(started!.name).toMatch(/^cli-failover-20260310T030405Z-[0-9a-f]{6}$/);
    const sfnCalls = await callsOf(mocks.sfn);
    expect(sfnCalls[0]).toEqual({
      command: "StartExecutionCommand",
      region: WEST,
      input: {
        stateMachineArn: machineArn(WEST, "failover"),
        name: started!.name,
        input: JSON.stringify({
          targetRegion: WEST,
          reason: "us-east-1 API down since 03:02 UTC",
          trigger: "console",
        }),
      },
    });
    const arn = executionArn(WEST, "failover", started!.name!);
    expect(sfnCalls.slice(1)).toEqual([
      { command: "DescribeExecutionCommand", region: WEST, input: { executionArn: arn } },
      {
        command: "GetExecutionHistoryCommand",
        region: WEST,
        input: { executionArn: arn, maxResults: 1000, includeExecutionData: true },
      },
      { command: "DescribeExecutionCommand", region: WEST, input: { executionArn: arn } },
      {
        command: "GetExecutionHistoryCommand",
        region: WEST,
        input: { executionArn: arn, maxResults: 1000, includeExecutionData: true },
      },
    ]);
    // ValidateInput's own rule read the flag strongly consistently, in the target region only.
    expect(await callsOf(mocks.dynamo)).toEqual([
      {
        command: "GetCommand",
        region: WEST,
        input: {
          TableName: "payments-control-prod",
          Key: { pk: "active-region" },
          ConsistentRead: true,
        },
      },
    ]);
    expect(result.out).toContain(`execution: ${arn}`);
    expect(result.out).toMatch(/ok Fence/);
    expect(result.out).toContain(
      "warning: ShiftTraffic failed (TransientError: route53 did not answer)",
    );
    expect(result.out).toContain("completed in 99 s; RTO 97.4 s; RPO estimate 180 ms");
  });

  it("rejects a target that is already active with ValidateInput's message, starting nothing", async () => {
    flagIs(FLAG_WEST);
    const result = await run(["failover", "--to", WEST, "--reason", "again", "--yes"], terminal());
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      "failover refused: us-west-2 is already the active region (fencing token 4, set by cli-failover-x",
    );
    expect(result.err).toContain("fix: nothing to do");
    expect(mocks.sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it("rejects a resume id that is not a run id, naming the flag", async () => {
    flagIs(FLAG_EAST);
    const result = await run(
      ["failover", "--to", WEST, "--reason", "r", "--resume", "a b", "--yes"],
      terminal(),
    );
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      'resumeFailoverId (--resume) must be the run id (1-80 letters, digits, - or _) of the run to resume, got "a b"',
    );
    expect(mocks.sfn.calls()).toHaveLength(0);
  });

  it("rejects a region outside the deployment before any AWS call", async () => {
    const result = await run(
      ["failover", "--to", "eu-west-1", "--reason", "r", "--yes"],
      terminal(),
    );
    expect(result.code).toBe(2);
    expect(result.err).toContain('--to "eu-west-1" is not a region of this deployment');
    expect(result.err).toContain("fix: pass --to us-east-1 or --to us-west-2");
    expect(mocks.sts.calls()).toHaveLength(0);
  });

  it.each([
    [["failover", "--to", WEST, "--yes"], "failover needs --reason"],
    [["failover", "--reason", "x"], "failover needs --to <region>"],
    [
      ["switchover", "--to", WEST, "--reason", "x", "--approval"],
      "switchover does not take --approval",
    ],
    [["failover", "--to", WEST, "--reason", "x", "--frobnicate"], "Unknown option '--frobnicate'"],
    [["fail-over"], 'unknown command "fail-over"'],
    [
      ["status", "--suffix", "Prod"],
      '--suffix "Prod" is not allowed: 2 to 8 lowercase letters or digits',
    ],
    [["history", "--limit", "0"], '--limit must be a whole number from 1 to 100, got "0"'],
  ])("rejects bad usage %j with a sentence and exit 2", async (args, message) => {
    const result = await run(args, terminal());
    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
    expect(result.err).toMatch(/\n {2}fix: /);
    expect(result.err).not.toMatch(/\n\s+at /);
    expect(mocks.sfn.calls()).toHaveLength(0);
  });

  it("refuses to start without confirmation when stdin is not a terminal", async () => {
    flagIs(FLAG_EAST);
    const result = await run(
      ["failover", "--to", WEST, "--reason", "x"],
      terminal({ interactive: false }),
    );
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      "refusing to start the failover without confirmation: stdin is not a terminal",
    );
    expect(mocks.sfn.calls()).toHaveLength(0);
  });

  it("asks on a terminal, explains the effect and starts nothing on no", async () => {
    flagIs(FLAG_EAST);
    const io = terminal({ interactive: true, answer: false });
    const result = await run(["failover", "--to", WEST, "--reason", "x", "--approval"], io);
    expect(result.code).toBe(1);
    expect(io.questions).toEqual(["Start payments-failover-prod in us-west-2?"]);
    expect(result.err).toContain("FAILOVER us-east-1 -> us-west-2 (unplanned): fences us-east-1");
    expect(result.err).toContain("It pauses for approval before anything changes.");
    expect(mocks.sfn.calls()).toHaveLength(0);
  });

  it("passes the optional fields and a resume id through unchanged", async () => {
    flagIs({ ...FLAG_WEST, updatedBy: "cli-failover-20260310T0250Z-abc" });
    mocks.sfn
      .on(StartExecutionCommand)
      .resolves({ executionArn: executionArn(WEST, "failover", "n") });
    const result = await run(
      [
        "failover",
        "--to",
        WEST,
        "--reason",
        "resume",
        "--force-detach",
        "--allow-unknown-lag",
        "--assume-old-writer-stopped",
        "--ignore-cooldown",
        "--resume",
        "cli-failover-20260310T0250Z-abc",
        "--yes",
        "--no-watch",
      ],
      terminal(),
    );
    expect(result.code).toBe(0);
    const input = JSON.parse(
      mocks.sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!,
    );
    expect(input).toEqual({
      targetRegion: WEST,
      reason: "resume",
      trigger: "console",
      forceDetach: true,
      ignoreCooldown: true,
      allowUnknownLag: true,
      assumeOldWriterStopped: true,
      resumeFailoverId: "cli-failover-20260310T0250Z-abc",
    });
  });

  it("says which state machine is missing and how to fix it", async () => {
    flagIs(FLAG_EAST);
    mocks.sfn
      .on(StartExecutionCommand)
      .rejects(awsError("StateMachineDoesNotExist", "State Machine Does Not Exist"));
    const result = await run(["failover", "--to", WEST, "--reason", "x", "--yes"], terminal());
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      `no state machine payments-failover-prod in us-west-2 (account ${ACCOUNT})`,
    );
    expect(result.err).toContain("fix: check --suffix (now prod)");
  });

  it("says there are no credentials and how to get them, in one sentence", async () => {
    mocks.sts.reset();
    mocks.sts
      .onAnyCommand()
      .rejects(
        awsError("CredentialsProviderError", "Could not load credentials from any providers"),
      );
    const result = await run(
      ["failover", "--to", WEST, "--reason", "x", "--yes", "--profile", "oncall"],
      terminal(),
    );
    expect(result.code).toBe(1);
    expect(result.err).toBe(
      "payments-dr: no AWS credentials found (profile oncall) to identify the caller (sts:GetCallerIdentity) in us-west-2\n" +
        "  fix: run `aws sso login --profile oncall` (or fix [profile oncall] in ~/.aws/config)",
    );
  });

  it("prints JSON lines with --json, ending in the result", async () => {
    flagIs(FLAG_EAST);
    mocks.sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => ({
      executionArn: executionArn(WEST, "failover", input.name!),
    }));
    mocks.sfn.on(DescribeExecutionCommand).resolves({
      executionArn: executionArn(WEST, "failover", "n"),
      status: "SUCCEEDED",
      startDate: T0,
      stopDate: new Date(T0.getTime() + 99_000),
      output: COMPLETED_OUTPUT,
    });
    mocks.sfn
      .on(GetExecutionHistoryCommand)
      .resolves({ events: history(T0, HAPPY_STEPS) as never });
    const io = terminal();
    const result = await run(["failover", "--to", WEST, "--reason", "x", "--yes", "--json"], io);
    expect(result.code).toBe(0);
    const lines = io.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ type: "started", workflow: "failover" });
    expect(lines.at(-1)).toMatchObject({
      type: "result",
      status: "SUCCEEDED",
      rtoSeconds: 97.4,
      rpoEstimateMs: 180,
    });
    expect(lines.filter((l) => l.type === "exited").map((l) => l.state)).toEqual([
      "ValidateInput",
      "Fence",
      "Promote",
      "ShiftTraffic",
    ]);
  });
});

describe("payments-dr watch", () => {
  it("exits 1 on a halted run and prints the command that resumes it", async () => {
    const name = "cli-failover-20260310T0250Z-abc";
    const arn = executionArn(WEST, "failover", name);
    mocks.sfn.on(DescribeExecutionCommand).resolves({
      executionArn: arn,
      status: "FAILED",
      startDate: T0,
      stopDate: new Date(T0.getTime() + 130_000),
      input: JSON.stringify({
        targetRegion: WEST,
        reason: "it's down",
        trigger: "console",
        forceDetach: true,
        assumeOldWriterStopped: true,
      }),
      error: "PromotionTimedOut",
      cause:
        "CheckPromotion: promotion not complete after 14 polls (see the page for how to resume)",
    });
    mocks.sfn.on(GetExecutionHistoryCommand).resolves({
      events: history(T0, [
        ["TaskStateEntered", "Promote", 8],
        ["TaskStateExited", "Promote", 2],
        ["TaskStateEntered", "PageOnCall", 70],
        ["TaskStateExited", "PageOnCall", 1],
        ["FailStateEntered", "Halted", 0],
      ]) as never,
    });
    const result = await run(["watch", arn, "--profile", "oncall"], terminal());
    expect(result.code).toBe(1);
    expect(result.out).toContain("FAILED in Halted after 130 s: PromotionTimedOut");
    expect(result.out).toContain(
      `npx payments-dr failover --to us-west-2 --reason 'it'\\''s down' --resume ${name} --force-detach --assume-old-writer-stopped --suffix prod --profile oncall`,
    );
    expect(await callsOf(mocks.sfn)).toEqual([
      { command: "DescribeExecutionCommand", region: WEST, input: { executionArn: arn } },
      {
        command: "GetExecutionHistoryCommand",
        region: WEST,
        input: { executionArn: arn, maxResults: 1000, includeExecutionData: true },
      },
    ]);
  });

  it("follows the run in progress in either region when none is named", async () => {
    const arn = executionArn(EAST, "failback", "cli-failback-x");
    mocks.sfn.on(ListExecutionsCommand).callsFake(
      byRegion((region, input: ListExecutionsCommandInput) =>
        region === EAST && input.stateMachineArn === machineArn(EAST, "failback")
          ? {
              executions: [
                { executionArn: arn, name: "cli-failback-x", status: "RUNNING", startDate: T0 },
              ],
            }
          : { executions: [] },
      ),
    );
    mocks.sfn.on(DescribeExecutionCommand).resolves({
      executionArn: arn,
      status: "SUCCEEDED",
      startDate: T0,
      stopDate: T0,
      output: "{}",
    });
    mocks.sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    const result = await run(["watch"], terminal());
    expect(result.code).toBe(0);
    expect(result.out).toContain(`watching ${arn}`);
    const lists = (await callsOf(mocks.sfn)).filter((c) => c.command === "ListExecutionsCommand");
    expect(lists).toEqual(
      [EAST, WEST].flatMap((region) =>
        ["failover", "switchover", "failback", "reprotect"].map((w) => ({
          command: "ListExecutionsCommand",
          region,
          input: {
            stateMachineArn: machineArn(region, w),
            maxResults: 10,
            statusFilter: "RUNNING",
          },
        })),
      ),
    );
  });
});

describe("payments-dr approve and reject", () => {
  const name = "alarm-failover-1";
  const arn = executionArn(WEST, "failover", name);
  const TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAe+token/with=chars";
  const waiting = () =>
    history(T0, [
      ["TaskStateEntered", "AcquireLock", 3],
      ["TaskStateExited", "AcquireLock", 1],
      ["TaskStateEntered", "RequestApproval", 0],
      [
        "TaskScheduled",
        "",
        0,
        {
          resourceType: "lambda",
          resource: "invoke.waitForTaskToken",
          region: WEST,
          parameters: JSON.stringify({
            FunctionName:
              "arn:aws:lambda:us-west-2:123456789012:function:payments-dr-request-approval-prod",
            Payload: {
              taskToken: TOKEN,
              timeoutSeconds: 600,
              state: {
                request: {
                  sourceRegion: EAST,
                  targetRegion: WEST,
                  failoverId: name,
                  reason: "alarm",
                  trigger: "alarm",
                },
                steps: { Preflight: { replicationLagMs: 850 } },
              },
            },
          }),
        },
      ],
    ]);

  function oneWaiting() {
    mocks.sfn
      .on(ListExecutionsCommand)
      .callsFake(
        byRegion((region) =>
          region === WEST
            ? { executions: [{ executionArn: arn, name, status: "RUNNING", startDate: T0 }] }
            : { executions: [] },
        ),
      );
    mocks.sfn.on(GetExecutionHistoryCommand).resolves({ events: waiting() as never });
  }

  it("finds the waiting failover in either region and answers its token with approved: true", async () => {
    oneWaiting();
    mocks.sfn.on(SendTaskSuccessCommand).resolves({});
    const result = await run(["approve", "--yes", "--no-watch"], terminal());
    expect(result.code).toBe(0);
    expect(await callsOf(mocks.sfn)).toEqual([
      {
        command: "ListExecutionsCommand",
        region: EAST,
        input: {
          stateMachineArn: machineArn(EAST, "failover"),
          maxResults: 20,
          statusFilter: "RUNNING",
        },
      },
      {
        command: "ListExecutionsCommand",
        region: WEST,
        input: {
          stateMachineArn: machineArn(WEST, "failover"),
          maxResults: 20,
          statusFilter: "RUNNING",
        },
      },
      {
        command: "GetExecutionHistoryCommand",
        region: WEST,
        input: { executionArn: arn, maxResults: 1000, includeExecutionData: true },
      },
      {
        command: "SendTaskSuccessCommand",
        region: WEST,
        input: {
          taskToken: TOKEN,
          output: JSON.stringify({
            approved: true,
            approvedBy: `arn:aws:sts::${ACCOUNT}:assumed-role/payments-dr-operator-prod/alice`,
          }),
        },
      },
    ]);
    expect(result.out).toBe(`approved: ${arn}`);
  });

  it("shows the lag and what approving does before asking", async () => {
    oneWaiting();
    const io = terminal({ interactive: true, answer: false });
    const result = await run(["approve"], io);
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      "replication lag of the target: 850 ms (writes from the last ~850 ms may be lost)",
    );
    expect(mocks.sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it("rejects with ApprovalRejected and the reason", async () => {
    oneWaiting();
    mocks.sfn.on(SendTaskFailureCommand).resolves({});
    const result = await run(["reject", "--reason", "us-east-1 is back", "--yes"], terminal());
    expect(result.code).toBe(0);
    expect(mocks.sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toEqual({
      taskToken: TOKEN,
      error: "ApprovalRejected",
      cause: `us-east-1 is back (by arn:aws:sts::${ACCOUNT}:assumed-role/payments-dr-operator-prod/alice)`,
    });
  });

  it("does not offer an approval that was already answered", async () => {
    mocks.sfn
      .on(ListExecutionsCommand)
      .callsFake(
        byRegion((region) =>
          region === WEST
            ? { executions: [{ executionArn: arn, name, status: "RUNNING", startDate: T0 }] }
            : { executions: [] },
        ),
      );
    mocks.sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        ...waiting(),
        {
          id: 99,
          type: "TaskStateExited",
          timestamp: T0,
          stateExitedEventDetails: { name: "RequestApproval", output: "{}" },
        },
      ] as never,
    });
    const result = await run(["approve", "--yes"], terminal());
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      "nothing to approve: no failover is waiting for approval in us-east-1 or us-west-2",
    );
    expect(mocks.sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it("says so when the token expired between reading and answering", async () => {
    oneWaiting();
    mocks.sfn.on(SendTaskSuccessCommand).rejects(awsError("TaskTimedOut", "Task Timed Out"));
    const result = await run(["approve", "--yes", "--no-watch"], terminal());
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      "is no longer pending (TaskTimedOut): it timed out, or someone answered first",
    );
  });

  it("still finds the approval when the other region does not answer", async () => {
    mocks.sfn.on(ListExecutionsCommand).callsFake(
      byRegion((region) => {
        if (region === EAST)
          throw Object.assign(new Error("connect ETIMEDOUT"), { name: "TimeoutError" });
        return { executions: [{ executionArn: arn, name, status: "RUNNING", startDate: T0 }] };
      }),
    );
    mocks.sfn.on(GetExecutionHistoryCommand).resolves({ events: waiting() as never });
    mocks.sfn.on(SendTaskSuccessCommand).resolves({});
    const result = await run(["approve", "--yes", "--no-watch"], terminal());
    expect(result.code).toBe(0);
    expect(result.err).toContain("us-east-1 did not answer; looking in the other region");
  });
});

describe("payments-dr drill", () => {
  it("starts the drill document in the secondary region with the given parameters and follows it", async () => {
    mocks.ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: "auto-1" });
    mocks.ssm
      .on(GetAutomationExecutionCommand)
      .resolvesOnce({
        AutomationExecution: {
          AutomationExecutionStatus: "InProgress",
          ExecutionStartTime: T0,
          StepExecutions: [
            {
              StepName: "CheckReadiness",
              StepStatus: "Success",
              ExecutionEndTime: new Date(T0.getTime() + 4000),
            },
          ],
        },
      })
      .resolves({
        AutomationExecution: {
          AutomationExecutionStatus: "Success",
          ExecutionStartTime: T0,
          StepExecutions: [
            {
              StepName: "CheckReadiness",
              StepStatus: "Success",
              ExecutionEndTime: new Date(T0.getTime() + 4000),
            },
            {
              StepName: "MoveToSecondary",
              StepStatus: "Success",
              ExecutionEndTime: new Date(T0.getTime() + 120_000),
              Outputs: { Seconds: ["112"] },
            },
          ],
        },
      });
    const result = await run(["drill", "--hold", "PT15M", "--yes"], terminal());
    expect(result.code).toBe(0);
    expect(await callsOf(mocks.ssm)).toEqual([
      {
        command: "StartAutomationExecutionCommand",
        region: WEST,
        input: { DocumentName: "payments-dr-drill-prod", Parameters: { HoldDuration: ["PT15M"] } },
      },
      {
        command: "GetAutomationExecutionCommand",
        region: WEST,
        input: { AutomationExecutionId: "auto-1" },
      },
      {
        command: "GetAutomationExecutionCommand",
        region: WEST,
        input: { AutomationExecutionId: "auto-1" },
      },
    ]);
    expect(result.out).toContain("MoveToSecondary Success (Seconds=112)");
    expect(result.out).toContain("drill Success");
  });

  it("rejects a hold the document would refuse, before starting anything", async () => {
    const result = await run(["drill", "--hold", "PT90M", "--yes"], terminal());
    expect(result.code).toBe(2);
    expect(result.err).toContain('--hold must be PT<minutes>M with 1 to 59 minutes, got "PT90M"');
    expect(mocks.ssm.calls()).toHaveLength(0);
  });

  it("says when the restore drill is not deployed", async () => {
    mocks.ssm
      .on(StartAutomationExecutionCommand)
      .rejects(awsError("InvalidDocument", "Document not found"));
    const result = await run(["drill", "--restore", "--yes"], terminal());
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      "no automation document payments-dr-restore-drill-prod in us-west-2",
    );
  });

  it("exits 1 when the drill fails", async () => {
    mocks.ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: "auto-2" });
    mocks.ssm.on(GetAutomationExecutionCommand).resolves({
      AutomationExecution: {
        AutomationExecutionStatus: "Failed",
        FailureMessage: "Step MoveToSecondary failed",
      },
    });
    const result = await run(["drill", "--yes"], terminal());
    expect(result.code).toBe(1);
    expect(result.out).toContain("drill Failed: Step MoveToSecondary failed");
  });
});

function lagSeries(region: string, input: GetMetricDataCommandInput) {
  const metric = input.MetricDataQueries?.[0]?.MetricStat?.Metric;
  if (metric?.MetricName === "AuroraGlobalDBReplicationLag" && region === WEST) {
    return {
      MetricDataResults: [
        { Id: "series", Timestamps: [new Date(T0.getTime() - 60_000)], Values: [240] },
      ],
    };
  }
  if (metric?.MetricName === "PrimaryHealthy") {
    return {
      MetricDataResults: [
        {
          Id: "series",
          Timestamps: [new Date(T0.getTime() - 10_000), new Date(T0.getTime() - 20_000)],
          Values: [0, 1],
        },
      ],
    };
  }
  return { MetricDataResults: [{ Id: "series", Timestamps: [], Values: [] }] };
}

/** Each region's last stored readiness evaluation (readiness#<region> in the control table). */
const READINESS_EAST = {
  region: EAST,
  at: new Date(T0.getTime() - 12 * 60_000).toISOString(),
  overall: "ok",
  activeRegion: EAST,
  scheduleMinutes: 30,
  checks: [{ id: "global-cluster", status: "ok", reason: "2 members", fix: "" }],
};
const READINESS_WEST = {
  region: WEST,
  at: new Date(T0.getTime() - 100 * 60_000).toISOString(),
  overall: "fail",
  activeRegion: EAST,
  scheduleMinutes: 30,
  checks: [
    { id: "global-cluster", status: "ok", reason: "2 members", fix: "" },
    { id: "drill-recency", status: "warn", reason: "last drill 36 days ago", fix: "run a drill" },
    {
      id: "backup-copies",
      status: "fail",
      reason: "no copy to us-west-2 completed within 36 h for payments-db-use1-prod",
      fix: "look at the copy jobs",
    },
  ],
};

describe("payments-dr status", () => {
  function world(options: { eastDown?: boolean } = {}) {
    const down = (region: string) => {
      if (options.eastDown && region === EAST)
        throw Object.assign(new Error("connect ETIMEDOUT 1.2.3.4:443"), { name: "TimeoutError" });
    };
    mocks.dynamo.on(GetCommand).callsFake(
      byRegion((region, input: GetCommandInput) => {
        down(region);
        if (input.Key?.pk === "active-region") return { Item: FLAG_EAST };
        if (input.Key?.pk === "failover-cooldown")
          return {
            Item: {
              pk: "failover-cooldown",
              lastExecution: "drill-x-back",
              lastCompletedAt: "2026-03-10T02:50:00Z",
              cooldownUntil: T0.getTime() / 1000 + 600,
            },
          };
        const evaluated = /^readiness#(.+)$/.exec(String(input.Key?.pk))?.[1];
        if (evaluated === EAST) return { Item: { pk: input.Key!.pk, evaluation: READINESS_EAST } };
        if (evaluated === WEST) return { Item: { pk: input.Key!.pk, evaluation: READINESS_WEST } };
        return {};
      }),
    );
    mocks.ssm.on(GetParameterCommand).callsFake(
      byRegion((region, input: { Name: string }) => {
        down(region);
        return { Parameter: { Name: input.Name, Value: `https://api-${region}.example.test/` } };
      }),
    );
    mocks.cloudwatch
      .on(GetMetricDataCommand)
      .callsFake(
        byRegion(
          (region, input: GetMetricDataCommandInput) => (down(region), lagSeries(region, input)),
        ),
      );
    mocks.cloudwatch.on(DescribeAlarmsCommand).callsFake(
      byRegion((region) => {
        down(region);
        return {
          MetricAlarms:
            region === WEST
              ? [
                  { AlarmName: "payments-primary-unhealthy-usw2-prod" },
                  { AlarmName: "payments-primary-unhealthy-usw2-dev" },
                ]
              : [],
        };
      }),
    );
    mocks.sfn
      .on(ListExecutionsCommand)
      .callsFake(byRegion((region) => (down(region), { executions: [] })));
  }

  it("shows both regions: flag, /health, lag, alarms, prober, lock and cooldown", async () => {
    world();
    const io = terminal({ health: { [`api-${EAST}`]: 200, [`api-${WEST}`]: 503 } });
    const result = await run(["status"], io);
    expect(result.code).toBe(0);
    expect(result.out).toContain(
      "active region: us-east-1  (fencing token 3, phase open, set by seed",
    );
    expect(result.out).toContain("us-west-2 (deployed secondary)");
    expect(result.out).toContain("replication lag  240 ms at 03:03:05");
    expect(result.out).toContain("alarms in ALARM  payments-primary-unhealthy-usw2-prod");
    expect(result.out).not.toContain("-dev");
    expect(result.out).toContain("/health          503");
    expect(result.out).toContain(
      "prober: 1/2 probes of us-east-1 healthy in the last 2 min, newest 03:03:55 UNHEALTHY",
    );
    expect(result.out).toContain("lock: free");
    expect(result.out).toContain("cooldown: until 2026-03-10T03:14:05.000Z (last run drill-x-back");
    // Readiness: each region's last evaluation, what is not ok worst first, stale when two of
    // its 30-min periods (+5) have passed.
    const lines = result.out.split("\n");
    const at = lines.indexOf("readiness:");
    expect(lines.slice(at, at + 5)).toEqual([
      "readiness:",
      "  us-east-1  OK  evaluated 12 min ago",
      "  us-west-2  FAIL  evaluated 100 min ago, STALE: over 65 min old",
      "    fail    backup-copies: no copy to us-west-2 completed within 36 h for payments-db-use1-prod",
      "    warn    drill-recency: last drill 36 days ago",
    ]);
    // The flag, lock, cooldown and readiness are read in both regions, strongly consistently.
    const gets = await callsOf(mocks.dynamo);
    expect(gets.filter((c) => c.region === EAST)).toHaveLength(4);
    expect(gets.filter((c) => c.region === WEST)).toHaveLength(4);
    expect(
      gets.every(
        (c) => c.input.TableName === "payments-control-prod" && c.input.ConsistentRead === true,
      ),
    ).toBe(true);
    // Lag of each region's own cluster, in its own region; the prober's metric in the secondary.
    const metrics = await callsOf(mocks.cloudwatch);
    const lagQueries = metrics
      .filter((c) => c.command === "GetMetricDataCommand")
      .map((c) => [
        c.region,
        (c.input.MetricDataQueries as GetMetricDataCommandInput["MetricDataQueries"])![0]!
          .MetricStat!.Metric!.Dimensions![0]!.Value,
      ]);
    expect(lagQueries).toEqual(
      expect.arrayContaining([
        [EAST, "payments-db-use1-prod"],
        [WEST, "payments-db-usw2-prod"],
        [WEST, EAST],
      ]),
    );
  });

  it("degrades when a region does not answer: says so and shows the other", async () => {
    world({ eastDown: true });
    const io = terminal({ health: { [`api-${WEST}`]: 503 } });
    const result = await run(["status"], io);
    expect(result.code).toBe(0);
    expect(result.out).toContain("us-east-1 (deployed primary)  DID NOT ANSWER");
    expect(result.out).toContain(
      "warning: us-east-1 did not answer: showing what the other region says",
    );
    expect(result.out).toContain("active region: us-east-1  (fencing token 3");
    expect(result.out).toContain("alarms in ALARM  payments-primary-unhealthy-usw2-prod");
  });

  it("prints one JSON document with --json", async () => {
    world();
    const io = terminal({ health: { [`api-${EAST}`]: 200, [`api-${WEST}`]: 503 } });
    const result = await run(["status", "--json"], io);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.out) as {
      activeRegion: { activeRegion: string };
      regions: { region: string; answered: boolean }[];
      cooldown: { active: boolean };
    };
    expect(report.activeRegion.activeRegion).toBe(EAST);
    expect(report.regions.map((r) => [r.region, r.answered])).toEqual([
      [EAST, true],
      [WEST, true],
    ]);
    expect(report.cooldown.active).toBe(true);
    expect(
      (
        report as unknown as { readiness: { region: string; evaluation: { overall: string } }[] }
      ).readiness.map((r) => [r.region, r.evaluation.overall]),
    ).toEqual([
      [EAST, "ok"],
      [WEST, "fail"],
    ]);
  });
});

describe("payments-dr history", () => {
  const entry = (runId: string, kind: string, startedAt: string, extra = {}) => ({
    id: `${kind}/${WEST}/${runId}`,
    kind,
    runId,
    region: WEST,
    environment: "prod",
    outcome: "succeeded",
    summary: "ok",
    startedAt,
    endedAt: startedAt,
    trigger: "drill",
    rtoSeconds: 97.4,
    rpoSeconds: 0.18,
    targets: { rtoTargetSeconds: 180, rtoGoalSeconds: 120, rpoTargetSeconds: 1 },
    warnings: 0,
    reportUri: `s3://payments-dr-reports-usw2-prod/reports/${kind}/2026-03/${runId}.html`,
    consoleUrl: `https://console.aws.amazon.com/s3/object/${runId}`,
    ledger: "run",
    at: startedAt,
    ...extra,
  });
  const query = {
    TableName: "payments-dr-ledger-prod",
    IndexName: "by-time",
    KeyConditionExpression: "#p = :p",
    ExpressionAttributeNames: { "#p": "ledger" },
    ExpressionAttributeValues: { ":p": "run" },
    ScanIndexForward: false,
  };

  it("lists the ledger's runs and drills, newest first, with outcome, RTO, RPO and the report", async () => {
    mocks.dynamo.on(QueryCommand).callsFake(
      byRegion((region) =>
        region === WEST
          ? {
              Items: [
                entry("reprotect-7", "reprotect", "2026-03-10T02:00:00Z", {
                  trigger: "console",
                  rtoSeconds: null,
                }),
                entry("drill-auto-9", "failover-drill", "2026-03-09T15:00:00Z"),
              ],
            }
          : { Items: [] },
      ),
    );
    const result = await run(["history", "--limit", "5", "--json"], terminal());
    expect(result.code).toBe(0);
    const report = JSON.parse(result.out) as {
      ledgerRegion: string;
      runs: Record<string, unknown>[];
    };
    expect(report.ledgerRegion).toBe(WEST);
    expect(report.runs.map((r) => [r.kind, r.runId, r.outcome, r.rtoSeconds, r.trigger])).toEqual([
      ["reprotect", "reprotect-7", "succeeded", null, "console"],
      ["failover-drill", "drill-auto-9", "succeeded", 97.4, "drill"],
    ]);
    // One query of the ledger's by-time index, in the standby (secondary) region only.
    const calls = mocks.dynamo.commandCalls(QueryCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({ ...query, Limit: 5 });
    expect(mocks.sfn.calls()).toHaveLength(0);
    expect(mocks.ssm.calls()).toHaveLength(0);
  });

  it("reads the other region's replica when the first does not answer, and says so", async () => {
    mocks.dynamo.on(QueryCommand).callsFake(
      byRegion((region) => {
        if (region === WEST) throw awsError("TimeoutError", "connect ETIMEDOUT");
        return { Items: [entry("alarm-1", "failover", "2026-03-10T01:00:00Z")] };
      }),
    );
    const result = await run(["history"], terminal());
    expect(result.code).toBe(0);
    expect(result.out).toContain(`${WEST} did not answer: read the ledger in ${EAST}`);
    expect(result.out).toMatch(/failover\s+us-west-2\s+succeeded RTO 97.4 s/);
    const regions = await Promise.all(
      mocks.dynamo
        .commandCalls(QueryCommand)
        .map((c) => (c.thisValue as { config: { region: () => Promise<string> } }).config.region()),
    );
    expect(regions).toEqual(expect.arrayContaining([WEST, EAST]));
    expect(regions.at(-1)).toBe(EAST);
  });
});
describe("payments-dr with the writer moved (WRITER_REGION)", () => {
  it("takes the writer's region as the deployed primary, where a failback returns to", () => {
    const moved = resolveDeployment({ writerRegion: WEST }, {});
    expect({ primary: moved.primary, secondary: moved.secondary }).toEqual({
      primary: WEST,
      secondary: EAST,
    });
    expect(moved.names.detectionAlarms).toEqual([
      "payments-primary-unhealthy-use1-dev",
      "payments-writer-unavailable-use1-dev",
      "payments-prober-silent-use1-dev",
    ]);
    const topology = validationTopology(moved, "123456789012");
    expect(topology.regions[WEST]!.role).toBe("primary");
    expect(() => resolveDeployment({ writerRegion: "eu-west-1" }, {})).toThrow(
      /--writer-region "eu-west-1" is not allowed/,
    );
  });
});
