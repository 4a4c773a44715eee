// The injector's watchdog: a run that does not end fails with its evidence instead of running for
// ever, and its bound comes from the workflows themselves (watchdog.ts).
import { pollBoundsOf } from "../../infra/lib/asl";
import type { WorkflowName } from "../../infra/lib/asl";
import { renderedDefinition } from "../state-machines/support/render";
import { checkSchedules, describeFailure } from "./check";
import { describeRun, runSchedule } from "./runner";
import type { Schedule } from "./schedule";
import { executionBoundSeconds, taskWorstSeconds, UnboundedWorkflowError } from "./watchdog";
import type { Definition } from "./watchdog";

const WORKFLOWS: WorkflowName[] = ["failover", "switchover", "failback", "reprotect"];
/** A copy to break on purpose. */
interface Editable {
  StartAt: string;
  States: Record<string, { Choices?: { Variable?: string }[]; TimeoutSeconds?: number }>;
}
const definition = (workflow: WorkflowName) =>
  structuredClone(renderedDefinition(workflow)) as unknown as Editable;
const boundOf = (workflow: string, edited: Editable) =>
  executionBoundSeconds(workflow, edited as unknown as Definition);

describe("the watchdog's bound on a workflow execution", () => {
  it("counts every attempt a Task's retriers allow, at its timeout, and the capped backoff between them", () => {
    // 1 + 25 + 3 attempts of 20 s; 25 waits of 2, 4, ... capped at 30 s; 3 waits of 30 s.
    const capped = [2, 4, 8, 16, ...Array.from({ length: 21 }, () => 30)];
    expect(
      taskWorstSeconds("Promote", {
        Type: "Task",
        TimeoutSeconds: 20,
        Retry: [
          {
            ErrorEquals: ["ManagedFailoverRefusedError"],
            IntervalSeconds: 30,
            MaxAttempts: 3,
            BackoffRate: 1,
          },
          {
            ErrorEquals: ["TransientError"],
            IntervalSeconds: 2,
            MaxAttempts: 25,
            BackoffRate: 2,
            MaxDelaySeconds: 30,
          },
        ],
      }),
    ).toBe(29 * 20 + 90 + capped.reduce((a, b) => a + b, 0));
  });

  it.each(WORKFLOWS)("is finite for the %s workflow and covers its own poll bounds", (workflow) => {
    const seconds = boundOf(workflow, definition(workflow));
    expect(Number.isFinite(seconds)).toBe(true);
    if (workflow === "reprotect") {
      // 1440 rebuild polls 30 s apart and 720 rejoin polls 60 s apart (the ASL's comments).
      expect(seconds).toBeGreaterThan(1440 * 30 + 720 * 60);
    } else {
      const bounds = pollBoundsOf(renderedDefinition(workflow), workflow);
      expect(seconds).toBeGreaterThan(
        bounds.writerStopBoundSeconds + bounds.promotionTimeoutSeconds,
      );
    }
  });

  it("rejects a promotion poll that lost its timeout (a loop the product cannot leave)", () => {
    const failover = definition("failover");
    const choice = failover.States.IsPromotionComplete!;
    choice.Choices = choice.Choices!.filter(
      (c) => c.Variable !== "$.steps.CheckPromotion.elapsedSeconds",
    );
    expect(() => boundOf("failover", failover)).toThrow(UnboundedWorkflowError);
    expect(() => boundOf("failover", failover)).toThrow(
      /failover: a loop without a bound: CheckPromotion → IsPromotionComplete → .*WaitForPromotion → CheckPromotion/,
    );
  });

  it("rejects a rejoin poll without its poll count, and a Task without a timeout", () => {
    const reprotect = definition("reprotect");
    const choice = reprotect.States.IsRejoined!;
    choice.Choices = choice.Choices!.filter((c) => c.Variable !== "$.steps.CheckRejoin.polls");
    expect(() => boundOf("reprotect", reprotect)).toThrow(
      /a loop without a bound: CheckRejoin → IsRejoined → WaitForRejoin → CheckRejoin/,
    );
    const switchover = definition("switchover");
    delete switchover.States.Switchover!.TimeoutSeconds;
    expect(() => boundOf("switchover", switchover)).toThrow(
      "Switchover: a Task without TimeoutSeconds has no bound",
    );
  });
});

describe("the watchdog of a chaos run", () => {
  const manual: Schedule = {
    seed: 5,
    story: "manual",
    incidentAt: 60,
    incidentSeconds: null,
    trigger: "console",
    mode: "approval",
    // On-call answers after 500 s: longer than the bound this test gives the chain.
    approval: { afterSeconds: 500, approved: true },
    rpoSeconds: 60,
    ddbMaxDelaySeconds: 1,
    paymentsPerSecond: { "us-east-1": 0.2, "us-west-2": 0.1 },
    quietShare: 0,
    lagMetricWhileCut: "grows",
    faults: [],
    refusal: null,
    death: null,
    secondTrigger: null,
    consoleDelay: 30,
  };

  it("fails a run that outlasts its chain's bound, with the states it was in", async () => {
    // The derived bound of a failover chain is days of world time; 1 s (plus the 300 s tail)
    // stands in for a run that outlasts it, so the test shows the evidence in seconds.
    const report = await runSchedule(manual, { chainSeconds: () => 1 });
    expect(report.unended).toBe(true);
    expect(report.violations[0]).toMatch(
      /^t=\d+\.\ds watchdog: the run did not end within 391 s of world time, .*still running: failover-1 in RequestApproval/,
    );
    expect(describeRun(report)).toMatch(
      /failover-1 RUNNING in RequestApproval .* last states: ValidateInput > HoldInit > Preflight > AcquireLock > ApprovalRequired > RequestApproval/,
    );
    // The same run, watched by its derived bound, completes.
    expect(await runSchedule(manual)).toMatchObject({ violations: [], unended: false });
  }, 60_000);

  it("fails a run whose world time stands still (a loop at no delay)", async () => {
    const report = await runSchedule(
      { ...manual, mode: "automatic" },
      {
        mutate: (world) => {
          const again = (): void => void world.clock.at(0, again);
          world.clock.at(90_000, again);
        },
      },
    );
    expect(report.unended).toBe(true);
    expect(report.violations).toEqual([
      expect.stringMatching(/watchdog: 100000 timers fired without world time moving/),
      expect.stringMatching(/did not converge/),
    ]);
  }, 60_000);

  it("reports the seed, the schedule's index and the last states, and does not shrink a run it stopped", async () => {
    const failure = await checkSchedules({
      runs: 5,
      seed: 42,
      shrinkSeconds: 60,
      runOptions: {
        mutate: (world) => {
          const again = (): void => void world.clock.at(0, again);
          world.clock.at(1000, again);
        },
      },
    });
    expect(failure).not.toBeNull();
    expect(failure).toMatchObject({ seed: 42, index: 0, path: "0", shrinks: 0 });
    const text = describeFailure(failure!);
    expect(text).toMatch(/^chaos FAILED: seed 42, schedule 0 of 5 \(fast-check path 0\)/);
    expect(text).toMatch(/watchdog: 100000 timers fired without world time moving/);
    expect(text).toMatch(/not shrunk: the watchdog stopped it/);
    expect(text).toContain("npm run chaos -- --runs 5 --seed 42 --path 0");
  }, 60_000);
});
