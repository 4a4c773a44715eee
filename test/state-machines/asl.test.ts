import aslValidator from "asl-validator";
import * as errors from "../../functions/dr/shared/errors";
import {
  AslRenderError,
  pollBounds,
  readAsl,
  renderAsl,
  WORKFLOWS,
  workflowPlaceholders,
} from "../../infra/lib/asl";
import type { WorkflowName } from "../../infra/lib/asl";
import { renderedDefinition } from "./support/render";
import { PROFILES } from "../../functions/dr/shared/aws/clients";
import {
  DEFAULT_SETTINGS,
  HOLD_INTERVAL_SECONDS,
  HOLD_LOOKS,
} from "../../functions/dr/shared/settings";
import { notApprovedCause, taskTimeouts } from "../../infra/constructs/orchestration";
import { writerStopBoundSeconds } from "../../infra/lib/fence-bound";
import { CAPACITY_BOUND_SECONDS } from "../../functions/common/contract";

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds: number;
  MaxAttempts: number;
  BackoffRate: number;
  MaxDelaySeconds: number;
}

interface State {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next: string }[];
  Retry?: { ErrorEquals: string[] }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  [key: string]: unknown;
}

function states(workflow: WorkflowName): Record<string, State> {
  return (JSON.parse(readAsl(workflow)) as { States: Record<string, State> }).States;
}

function successors(state: State): string[] {
  return [
    ...(state.Next ? [state.Next] : []),
    ...(state.Default ? [state.Default] : []),
    ...(state.Choices ?? []).map((c) => c.Next),
    ...(state.Catch ?? []).map((c) => c.Next),
  ];
}

/** States reachable from StartAt without passing through `without`. */
function reachable(workflow: WorkflowName, without?: string): Set<string> {
  const all = states(workflow);
  const seen = new Set<string>();
  const queue = ["ValidateInput"];
  while (queue.length > 0) {
    const name = queue.shift() as string;
    if (seen.has(name) || name === without) continue;
    seen.add(name);
    queue.push(...successors(all[name] as State));
  }
  return seen;
}

const FUNCTIONS_COMMON = [
  "AcquireLockFunctionArn",
  "CheckOldWriterFunctionArn",
  "CheckPromotionFunctionArn",
  "FenceFunctionArn",
  "NotifyFunctionArn",
  "PreflightFunctionArn",
  "ReleaseLockFunctionArn",
  "ShiftTrafficFunctionArn",
  "UnfenceFunctionArn",
  "RestoreCapacityFunctionArn",
  "UpdateParametersFunctionArn",
  "ValidateInputFunctionArn",
  "VerifyFunctionArn",
  "RecordTimelineFunctionArn",
];

describe("renderAsl", () => {
  const template = JSON.stringify({
    StartAt: "A",
    States: { A: { Type: "Task", Resource: "${AFunctionArn}", End: true } },
  });

  it("replaces every placeholder and keeps the JSON valid", () => {
    const rendered = renderAsl(template, {
      AFunctionArn: "arn:aws:lambda:us-west-2:123456789012:function:a",
    });
    expect(JSON.parse(rendered).States.A.Resource).toBe(
      "arn:aws:lambda:us-west-2:123456789012:function:a",
    );
  });

  it("passes a Terraform token through unchanged", () => {
    const rendered = renderAsl(template, { AFunctionArn: "${TfToken[TOKEN.42]}" });
    expect(JSON.parse(rendered).States.A.Resource).toBe("${TfToken[TOKEN.42]}");
  });

  it("escapes a value for JSON", () => {
    const rendered = renderAsl(template, { AFunctionArn: 'a"b\\c' });
    expect(JSON.parse(rendered).States.A.Resource).toBe('a"b\\c');
  });

  it("accepts a parsed object as well as text", () => {
    expect(JSON.parse(renderAsl(JSON.parse(template), { AFunctionArn: "x" })).StartAt).toBe("A");
  });

  it("fails naming a placeholder left over", () => {
    expect(() => renderAsl(template, {})).toThrow(
      new AslRenderError("placeholder(s) left over without a substitution: AFunctionArn"),
    );
  });

  it("fails naming a substitution that is not used", () => {
    expect(() => renderAsl(template, { AFunctionArn: "x", BTopicArn: "y" })).toThrow(
      "substitution(s) not used by the definition: BTopicArn",
    );
  });

  it("fails naming both problems at once", () => {
    expect(() => renderAsl(template, { AFunctionArnn: "x" })).toThrow(
      /left over without a substitution: AFunctionArn; substitution\(s\) not used by the definition: AFunctionArnn/,
    );
  });

  it("fails on a malformed placeholder", () => {
    const bad = template.replace("${AFunctionArn}", "${A-Function}");
    expect(() => renderAsl(bad, {})).toThrow("malformed placeholder(s) ${A-Function}");
  });

  it("fails on an empty substitution", () => {
    expect(() => renderAsl(template, { AFunctionArn: "" })).toThrow(
      "substitution(s) with an empty value: AFunctionArn",
    );
  });

  it("fails on a definition that is not JSON", () => {
    expect(() => renderAsl("{ States: ", {})).toThrow(AslRenderError);
  });
});

describe("workflowPlaceholders", () => {
  it("lists the failover's function ARNs, with the approval function", () => {
    expect(workflowPlaceholders("failover")).toEqual(
      [...FUNCTIONS_COMMON, "PromoteFunctionArn", "RequestApprovalFunctionArn"].sort(),
    );
  });

  it.each([
    ["switchover", []],
    ["failback", ["CheckRejoinFunctionArn"]],
  ] as const)("lists the %s's function ARNs", (workflow, extra) => {
    expect(workflowPlaceholders(workflow)).toEqual(
      [...FUNCTIONS_COMMON, "SwitchoverFunctionArn", ...extra].sort(),
    );
  });
});

describe.each(WORKFLOWS)("%s.asl.json", (workflow) => {
  const all = states(workflow);

  it("is valid ASL once rendered, per asl-validator", () => {
    const { isValid, errors: found } = aslValidator(renderedDefinition(workflow), {
      checkPaths: true,
      checkArn: true,
    });
    expect(found).toEqual([]);
    expect(isValid).toBe(true);
  });

  it("uses JSONPath only, with PascalCase state names", () => {
    const text = readAsl(workflow);
    expect(text).not.toMatch(/"QueryLanguage"|"Assign"|"Arguments"|"Output"|\{%/);
    for (const name of Object.keys(all)) expect(name).toMatch(/^[A-Z][A-Za-z0-9]*$/);
  });

  it("gives every task a Retry for transient errors and a Catch into a named state", () => {
    for (const [name, state] of Object.entries(all)) {
      if (state.Type !== "Task") continue;
      const retried = (state.Retry ?? []).flatMap((r) => r.ErrorEquals);
      expect({ name, retried }).toEqual({
        name,
        retried: expect.arrayContaining(["TransientError", "Lambda.ServiceException"]),
      });
      const caught = state.Catch ?? [];
      expect({ name, catchAll: caught.some((c) => c.ErrorEquals.includes("States.ALL")) }).toEqual({
        name,
        catchAll: true,
      });
      for (const c of caught) expect(all[c.Next]).toBeDefined();
    }
  });

  if (workflow === "reprotect") {
    it("fences and promotes nothing, and bounds its polls with literals", () => {
      expect(Object.keys(all)).not.toEqual(expect.arrayContaining(["Fence"]));
      for (const moving of ["Fence", "Promote", "Switchover", "Unfence"]) {
        expect(all[moving]).toBeUndefined();
      }
      expect(all.WaitForRebuild).toMatchObject({ Seconds: 30 });
      expect(all.WaitForRejoin).toMatchObject({ Seconds: 60 });
      const bound = (choice: string, variable: string) =>
        (
          all[choice] as unknown as {
            Choices: { Variable: string; NumericGreaterThanEquals?: number }[];
          }
        ).Choices.find((c) => c.Variable === variable)?.NumericGreaterThanEquals;
      expect(bound("IsRebuilt", "$.steps.Rebuild.polls")).toBe(1440);
      expect(bound("IsRejoined", "$.steps.CheckRejoin.polls")).toBe(720);
    });
    it("reaches every state", () => {
      expect([...reachable(workflow)].sort()).toEqual(Object.keys(all).sort());
    });
    return;
  }

  it("never reaches a promotion without passing through Fence", () => {
    const role = workflow === "failover" ? "Promote" : "Switchover";
    expect(reachable(workflow).has(role)).toBe(true);
    expect(reachable(workflow, "Fence").has(role)).toBe(false);
    // Fence's own failure leads only to the page and the terminal safe states.
    const fence = all.Fence as State;
    expect(fence.Catch?.map((c) => c.Next)).toEqual(["PageOnCall"]);
    expect(reachable(workflow, "CheckOldWriter").has(role)).toBe(false);
    expect(successors(all.PageOnCall as State).sort()).toEqual(["Halted", "HaltedWithoutPage"]);
  });

  it("reaches every state", () => {
    expect([...reachable(workflow)].sort()).toEqual(Object.keys(all).sort());
  });

  it("keeps its bounds as literals: 20 minutes of promotion, a slow page at 90 s, 335 s for the proof", () => {
    expect(pollBounds(workflow)).toMatchObject({
      writerStopBoundSeconds: 335,
      promotionTimeoutSeconds: 1200,
      promotionSlowSeconds: 90,
    });
    expect((all.Fence as State).Next).toBe("CheckOldWriter");
    expect(writerStopBoundSeconds(60, 5, 10)).toBe(315);
  });

  // The config refuses a cooldown shorter than this bound (infra/config.ts), so the literal
  // and the constant must not drift apart.
  it("bounds the capacity loop at CAPACITY_BOUND_SECONDS and pages when it ends short", () => {
    if (!all.IsCapacityDone) return;
    const choice = all.IsCapacityDone as State & {
      Choices: { Variable: string; NumericGreaterThanEquals?: number; Next: string }[];
    };
    expect(choice.Choices).toContainEqual({
      Variable: "$.steps.RestoreCapacity.elapsedSeconds",
      NumericGreaterThanEquals: CAPACITY_BOUND_SECONDS,
      Next: "CapacityTimedOut",
    });
    expect((all.CapacityTimedOut as State).Next).toBe("PageCapacity");
    const catches = (all.RestoreCapacity as State & { Catch: { Next: string }[] }).Catch;
    expect(catches.map((c) => c.Next)).toEqual(["PageCapacity"]);
    expect((all.PageCapacity as State).Next).toBe("Completed");
  });

  it("promotes only after CheckOldWriter says the old writer stopped", () => {
    const role = workflow === "failover" ? "Promote" : "Switchover";
    expect(reachable(workflow, "IsOldWriterStopped").has(role)).toBe(false);
    const choice = all.IsOldWriterStopped as State & {
      Choices: { Variable: string; BooleanEquals?: boolean; Next: string }[];
    };
    expect(choice.Choices[0]).toEqual({
      Variable: "$.steps.CheckOldWriter.stopped",
      BooleanEquals: true,
      Next: role,
    });
    expect(choice.Default).toBe("WaitForOldWriter");
  });

  // "A retrier's parameters apply across all visits to the retrier in the context of a
  // single-state execution" (concepts-error-handling): the budget is per state.
  it("gives every task from Fence on a retry budget of minutes for transient errors", () => {
    const afterFence = [
      "Fence",
      "CheckOldWriter",
      workflow === "failover" ? "Promote" : "Switchover",
      "CheckPromotion",
      "UpdateParameters",
      "Verify",
      "Unfence",
      "ReleaseLock",
      "PageOnCall",
      "PageSlowPromotion",
    ];
    for (const name of afterFence) {
      const retrier = ((all[name] as State).Retry as Retrier[]).find((r) =>
        r.ErrorEquals.includes("TransientError"),
      )!;
      let total = 0;
      for (let attempt = 0; attempt < retrier.MaxAttempts; attempt += 1) {
        total += Math.min(
          retrier.IntervalSeconds * retrier.BackoffRate ** attempt,
          retrier.MaxDelaySeconds,
        );
      }
      // FULL jitter draws each wait from 0 to its full length: half of it on average.
      expect({ name, minutes: total / 2 / 60 >= 5 }).toEqual({ name, minutes: true });
      expect(retrier.ErrorEquals).toEqual(expect.arrayContaining(["States.Timeout"]));
    }
  });

  it("matches only error names the tasks throw, AWS service errors or States.*", () => {
    const thrown = new Set(
      Object.values(errors)
        .filter((e) => typeof e === "function")
        .map((E) => (E as { name: string }).name),
    );
    const names = Object.values(all).flatMap((s) => [
      ...(s.Retry ?? []).flatMap((r) => r.ErrorEquals),
      ...(s.Catch ?? []).flatMap((c) => c.ErrorEquals),
    ]);
    for (const name of names) {
      const known =
        thrown.has(name) || /^(States|Lambda|Sandbox)\./.test(name) || name === "ApprovalRejected";
      expect({ name, known }).toEqual({ name, known: true });
    }
  });
});

describe("asl-validator", () => {
  it("rejects a workflow whose transition is broken (so the validity check can fail)", () => {
    const broken = renderedDefinition("failover") as { States: Record<string, State> };
    (broken.States.Fence as State).Next = "NoSuchState";
    expect(aslValidator(broken, { checkPaths: true, checkArn: true }).isValid).toBe(false);
  });
});

describe("error classes", () => {
  it("carry their class name as a literal, so minified bundles keep it", () => {
    for (const [exported, E] of Object.entries(errors)) {
      if (typeof E !== "function" || exported === "DrError") continue;
      const error = new (E as new (m: string, c?: string) => Error)("m", "code");
      expect(error.name).toBe(exported);
    }
  });
});

describe("failover approval", () => {
  it("waits at most 600 seconds for on-call, and says so when nobody answered", () => {
    expect(pollBounds("failover").approvalTimeoutSeconds).toBe(600);
    expect((states("failover").NotApproved as State).Cause).toBe(notApprovedCause(600));
  });
});

describe("task timeouts and SDK clients", () => {
  // The SDK's standard retry strategy waits up to 2 x its base delay before the second attempt
  // (500 ms base for throttling errors): a 1 s allowance per retry covers both.
  const RETRY_DELAY_ALLOWANCE_MS = 1000;
  const worstCall = (profile: keyof typeof PROFILES) => {
    const p = PROFILES[profile];
    return (
      p.maxAttempts * (p.connectionTimeout + p.requestTimeout) +
      (p.maxAttempts - 1) * RETRY_DELAY_ALLOWANCE_MS
    );
  };

  it("fits one SDK call's attempts x timeouts inside every task's Lambda timeout", () => {
    const timeouts = taskTimeouts(WORKFLOWS.map((w) => readAsl(w)));
    for (const [task, seconds] of Object.entries(timeouts)) {
      if (task === "request-approval") continue; // publishes once: its state waits for on-call
      expect({ task, fits: seconds * 1000 >= worstCall("critical") }).toEqual({ task, fits: true });
      expect({ task, fits: seconds * 1000 >= DEFAULT_SETTINGS.bestEffortTimeoutMs }).toEqual({
        task,
        fits: true,
      });
    }
    expect(worstCall("bestEffort")).toBeGreaterThanOrEqual(DEFAULT_SETTINGS.bestEffortTimeoutMs);
  });
});

// Review 24-18 M3: the page and the veto's error describe the hold with HOLD_INTERVAL_SECONDS and
// HOLD_LOOKS; the ASL runs it. Change one without the other and this fails.
describe("failover's flood-veto hold", () => {
  const failover = states("failover");
  it("is a Choice/Wait loop with the interval and look count the messages give", () => {
    expect(failover.HoldWait).toMatchObject({
      Type: "Wait",
      Seconds: HOLD_INTERVAL_SECONDS,
      Next: "Preflight",
    });
    // The counter exists before the first look (HoldInit), so no Choice compares a missing field.
    expect(failover.ValidateInput!.Next).toBe("HoldInit");
    expect(failover.HoldInit).toMatchObject({ Result: { polls: 0 }, Next: "Preflight" });
    expect(failover.HoldCounted!.Choices).toEqual([
      { Variable: "$.hold.polls", NumericGreaterThanEquals: HOLD_LOOKS, Next: "HoldExpired" },
    ]);
    expect(failover.HoldCounted!.Default).toBe("HoldWait");
    expect(failover.Preflight!.Catch).toContainEqual(
      expect.objectContaining({
        ErrorEquals: ["PrimaryStillCommittingError"],
        Next: "HoldCount",
      }),
    );
    // Never a Retry on the veto: its counter would share the whole hold (review 24-18 M1).
    expect(
      failover.Preflight!.Retry!.some((r) => r.ErrorEquals.includes("PrimaryStillCommittingError")),
    ).toBe(false);
  });
});

// Review 24b-18 M1: AWS's Choice state documents no short-circuit for And, and a comparison on a
// field that is missing fails the execution (States.Runtime)
// (https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html). The local interpreter
// stops at the first false member, so a rule that guards a comparison with IsPresent inside the
// same And passes every local test and may fail in AWS. Guard with a Choice of its own instead.
describe("Choice rules never rely on And short-circuiting", () => {
  type Rule = { Variable?: string; IsPresent?: boolean; And?: Rule[]; Or?: Rule[]; Not?: Rule };
  const guarded = (rule: Rule): string[] => {
    const inner = [...(rule.And ?? []), ...(rule.Or ?? []), ...(rule.Not ? [rule.Not] : [])];
    const here =
      rule.And?.flatMap((r) =>
        r.IsPresent !== undefined &&
        rule.And!.some((o) => o !== r && o.Variable === r.Variable && o.IsPresent === undefined)
          ? [r.Variable!]
          : [],
      ) ?? [];
    return [...here, ...inner.flatMap(guarded)];
  };
  it.each(WORKFLOWS.map((w) => [w]))("%s", (name) => {
    const found = Object.entries(states(name)).flatMap(([state, s]) =>
      ((s.Choices as unknown as Rule[] | undefined) ?? []).flatMap((rule) =>
        guarded(rule).map((v) => `${state}: ${v}`),
      ),
    );
    expect(found).toEqual([]);
  });
});
