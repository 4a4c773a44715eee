// A fake terminal and region-aware SDK mocks for the CLI tests. Every call is recorded with its
// command name, the region of the client that sent it and its exact input, so the tests can
// assert the complete list of AWS calls a command makes.
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import type { Io } from "../../cli/io";
import { main } from "../../cli/main";

export const ACCOUNT = "123456789012";
export const EAST = "us-east-1";
export const WEST = "us-west-2";
export const T0 = new Date("2026-03-10T03:04:05.000Z");

export const mocks = {
  sfn: mockClient(SFNClient),
  ssm: mockClient(SSMClient),
  sts: mockClient(STSClient),
  cloudwatch: mockClient(CloudWatchClient),
  dynamo: mockClient(DynamoDBDocumentClient),
  lambda: mockClient(LambdaClient),
};

export function resetMocks(): void {
  for (const m of Object.values(mocks)) m.reset();
  mocks.sts.onAnyCommand().resolves({
    Account: ACCOUNT,
    Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/payments-dr-operator-prod/alice`,
  });
}

export interface Call {
  readonly command: string;
  readonly region: string;
  readonly input: Record<string, unknown>;
}

/** Every call the mocks received, in order, with the region of the client that made it. */
export async function callsOf(stub: {
  calls(): { args: unknown[]; thisValue: unknown }[];
}): Promise<Call[]> {
  return Promise.all(
    stub.calls().map(async (call) => {
      const command = call.args[0] as {
        constructor: { name: string };
        input: Record<string, unknown>;
      };
      const client = call.thisValue as { config: { region: () => Promise<string> } };
      return {
        command: command.constructor.name,
        region: await client.config.region(),
        input: command.input,
      };
    }),
  );
}

/** A region-aware behaviour: `fake(region, input)` answers or throws. */
export function byRegion<I>(fake: (region: string, input: I) => unknown) {
  return async (input: I, getClient: () => unknown) =>
    fake(
      await (getClient() as { config: { region: () => Promise<string> } }).config.region(),
      input,
    );
}

export function awsError(name: string, message = name, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name, $metadata: {}, ...extra });
}

export interface FakeTerminal extends Io {
  readonly stdout: string[];
  readonly stderr: string[];
  readonly questions: string[];
}

export function terminal(
  options: { interactive?: boolean; answer?: boolean; health?: Record<string, number> } = {},
): FakeTerminal {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const questions: string[] = [];
  let clock = T0.getTime();
  return {
    stdout,
    stderr,
    questions,
    out: (line) => stdout.push(line),
    err: (line) => stderr.push(line),
    interactive: options.interactive ?? false,
    confirm: async (q) => {
      questions.push(q);
      return options.answer ?? false;
    },
    sleep: async (ms) => {
      clock += ms;
    },
    now: () => new Date(clock),
    fetch: async (url) => {
      const status = Object.entries(options.health ?? {}).find(([host]) => url.includes(host))?.[1];
      if (status === undefined)
        throw Object.assign(new Error("connect ETIMEDOUT"), { name: "TimeoutError" });
      return { status, body: status === 200 ? '{"status":"ok"}' : '{"status":"passive"}' };
    },
  };
}

export const ENV = { ENVIRONMENT_SUFFIX: "prod" };

export async function run(args: string[], io: FakeTerminal, env: Record<string, string> = ENV) {
  const code = await main(args, { io, env });
  return { code, out: io.stdout.join("\n"), err: io.stderr.join("\n") };
}

export const machineArn = (region: string, workflow: string) =>
  `arn:aws:states:${region}:${ACCOUNT}:stateMachine:payments-${workflow}-prod`;
export const executionArn = (region: string, workflow: string, name: string) =>
  `arn:aws:states:${region}:${ACCOUNT}:execution:payments-${workflow}-prod:${name}`;

/** History events as Step Functions returns them (ids ascending, timestamps as Dates). */
export function history(
  start: Date,
  steps: readonly (readonly [string, string, number, Record<string, unknown>?])[],
) {
  let id = 1;
  let t = start.getTime();
  const events: Record<string, unknown>[] = [
    { id: id++, type: "ExecutionStarted", timestamp: new Date(t) },
  ];
  for (const [type, name, seconds, extra] of steps) {
    const kind = type.replace(/(Entered|Exited)$/, "");
    const entered = type.endsWith("Entered");
    if (type === "TaskScheduled") {
      events.push({ id: id++, type, timestamp: new Date(t), taskScheduledEventDetails: extra });
      continue;
    }
    t += seconds * 1000;
    events.push({
      id: id++,
      type,
      timestamp: new Date(t),
      ...(entered
        ? { stateEnteredEventDetails: { name, input: "{}" } }
        : kind === type
          ? (extra ?? {})
          : { stateExitedEventDetails: { name, output: JSON.stringify(extra ?? {}) } }),
    });
  }
  return events;
}
