// The watchdog of a chaos run: how much world time a run may take before "it did not end" is a
// finding, derived from the workflows' own bounds rather than picked. A workflow execution cannot
// outlast the sum of
// - every Task at its TimeoutSeconds on every attempt its Retry allows (Step Functions counts each
//   retrier's MaxAttempts separately, so 1 + the sum of them), plus each retry's interval
//   (IntervalSeconds × BackoffRate^n, capped by MaxDelaySeconds; jitter only shortens it),
//   "Retrying after an error" (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html);
// - every Wait at its longest (a SecondsPath wait at the most its core asks for);
// - every poll loop at its bound: a Choice that leaves the loop once `polls` reaches N runs the
//   loop's body (its Wait and its Task) at most N times; one that leaves once `elapsedSeconds`
//   reaches E runs it for at most E seconds and one more body, as the core counts the seconds
//   from its first poll.
// A cycle that passes through no such bound is a loop the product cannot leave by itself: the
// derivation refuses the definition instead of guessing (a real defect, not a watchdog number).
// A run then adds on-call's resumes (the runner's on-call policy) and the tail of world time the
// runner waits after the last execution.
import { nextPollSeconds } from "../../functions/dr/check-promotion/core";
import { LOOK_INTERVAL_SECONDS } from "../../functions/dr/check-old-writer/core";
import { CAPACITY_POLL_SECONDS } from "../../functions/dr/restore-capacity/core";

interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
}

interface ChoiceRule {
  readonly Variable?: string;
  readonly NumericGreaterThanEquals?: number;
  readonly Next?: string;
}

interface State {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly TimeoutSeconds?: number;
  readonly Retry?: readonly Retrier[];
  readonly Catch?: readonly { readonly Next: string }[];
  readonly Seconds?: number;
  readonly SecondsPath?: string;
  readonly Choices?: readonly ChoiceRule[];
  readonly Default?: string;
}

export interface Definition {
  readonly StartAt: string;
  readonly States: Record<string, State>;
}

export class UnboundedWorkflowError extends Error {
  override name = "UnboundedWorkflowError";
}

/**
 * The longest each SecondsPath wait can be: what the core behind it can ask for. A new
 * SecondsPath must be added here with its core's maximum, or the derivation refuses it.
 */
const SECONDS_PATH_MAX: Record<string, number> = {
  // check-old-writer/core.ts: max(1, min(LOOK_INTERVAL_SECONDS, time to the soonest proof)).
  "$.steps.CheckOldWriter.nextCheckSeconds": LOOK_INTERVAL_SECONDS,
  // check-promotion/core.ts: 5 s while young, 15 s after two minutes.
  "$.steps.CheckPromotion.nextPollSeconds": Math.max(nextPollSeconds(0), nextPollSeconds(1e9)),
  // restore-capacity/core.ts: always CAPACITY_POLL_SECONDS.
  "$.steps.RestoreCapacity.nextPollSeconds": CAPACITY_POLL_SECONDS,
};

/** A Task's worst case: every attempt its retriers allow at its timeout, and every retry wait. */
export function taskWorstSeconds(name: string, state: State): number {
  if (typeof state.TimeoutSeconds !== "number") {
    throw new UnboundedWorkflowError(`${name}: a Task without TimeoutSeconds has no bound`);
  }
  let attempts = 1;
  let waits = 0;
  for (const r of state.Retry ?? []) {
    // ASL defaults: IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0.
    const max = r.MaxAttempts ?? 3;
    attempts += max;
    for (let n = 0; n < max; n += 1) {
      const wait = (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** n;
      waits += Math.min(wait, r.MaxDelaySeconds ?? Infinity);
    }
  }
  return attempts * state.TimeoutSeconds + waits;
}

function waitMaxSeconds(name: string, state: State): number {
  if (typeof state.Seconds === "number") return state.Seconds;
  const max = state.SecondsPath === undefined ? undefined : SECONDS_PATH_MAX[state.SecondsPath];
  if (max === undefined) {
    throw new UnboundedWorkflowError(
      `${name}: Wait ${state.SecondsPath ?? "(no Seconds)"} has no known maximum`,
    );
  }
  return max;
}

function successors(state: State): string[] {
  return [
    ...(state.Next ? [state.Next] : []),
    ...(state.Default ? [state.Default] : []),
    ...(state.Choices ?? []).flatMap((c) => (c.Next ? [c.Next] : [])),
    ...(state.Catch ?? []).map((c) => c.Next),
  ];
}

function predecessors(states: Record<string, State>, name: string): string[] {
  return Object.entries(states)
    .filter(([, s]) => successors(s).includes(name))
    .map(([other]) => other);
}

export interface PollLoop {
  readonly choice: string;
  readonly wait: string;
  readonly task: string;
  /** Tasks reached only from the Choice that lead back to the Wait. */
  readonly side: readonly string[];
  /** At most this many polls, or ... */
  readonly polls?: number;
  /** ... polls until this many seconds after the first one. */
  readonly elapsedSeconds?: number;
  readonly bodySeconds: number;
}

/** The poll loops of a definition: a bounded Choice whose Default waits and polls again. */
export function pollLoops(definition: Definition): PollLoop[] {
  const states = definition.States;
  const loops: PollLoop[] = [];
  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== "Choice" || !state.Default) continue;
    const wait = states[state.Default];
    if (wait?.Type !== "Wait" || !wait.Next) continue;
    const task = states[wait.Next];
    if (task?.Type !== "Task") continue;
    const bound = (suffix: string) =>
      state.Choices?.find(
        (c) => c.Variable?.endsWith(suffix) && typeof c.NumericGreaterThanEquals === "number",
      )?.NumericGreaterThanEquals;
    const polls = bound(".polls");
    const elapsedSeconds = bound(".elapsedSeconds");
    if (polls === undefined && elapsedSeconds === undefined) continue;
    // Side branches of the loop: a Task only the Choice leads to, which goes on to the Wait
    // (PageSlowPromotion). Counted in every pass, although its own guard runs it once.
    const side = Object.entries(states).filter(
      ([other, s]) =>
        s.Type === "Task" &&
        successors(s).includes(state.Default!) &&
        predecessors(states, other).every((p) => p === name),
    );
    loops.push({
      choice: name,
      wait: state.Default,
      task: wait.Next,
      side: side.map(([other]) => other),
      ...(polls !== undefined ? { polls } : {}),
      ...(elapsedSeconds !== undefined ? { elapsedSeconds } : {}),
      bodySeconds:
        waitMaxSeconds(state.Default, wait) +
        taskWorstSeconds(wait.Next, task) +
        side.reduce((sum, [other, s]) => sum + taskWorstSeconds(other, s), 0),
    });
  }
  return loops;
}

/**
 * Edges back into a poll loop's Task that the ASL alone does not bound, with the argument that
 * bounds them. Promote's re-check (shared/guard.ts requireOldWriterStopped) throws
 * OldWriterActiveError when a heartbeat newer than CheckOldWriter's proof reached the target, and
 * its Catch looks again. That look reads the same or a newer beat from the same replica, seen
 * now by this run (the prober stops recording once the flag names the target), so the database
 * proof cannot hold again before rds.global_db_rpo (at least 20 s: "Valid values for
 * rds.global_db_rpo range from 20 seconds", aurora-global-database-disaster-recovery) has passed:
 * every round spends that long in the loop whose elapsedSeconds bound then ends it. Confirmed and
 * operator proofs are not re-checked, so they do not come back.
 */
const RE_ENTRIES: readonly { from: string; to: string; minRoundSeconds: number }[] = [
  { from: "Promote", to: "CheckOldWriter", minRoundSeconds: 20 },
];

/** Throws when a cycle does not pass through a bounded poll loop's Choice → Wait edge. */
function assertLoopsBounded(workflow: string, definition: Definition, loops: PollLoop[]): void {
  // The back edges: into each bounded loop's Wait, from its Choice or a side branch of it; and
  // the argued re-entries into an elapsed-bounded loop's Task.
  const cut = new Set([
    ...loops.flatMap((l) => [l.choice, ...l.side].map((from) => `${from}->${l.wait}`)),
    ...reEntries(definition, loops).map((r) => `${r.from}->${r.to}`),
  ]);
  const states = definition.States;
  const colour = new Map<string, "open" | "done">();
  const visit = (name: string, path: string[]): void => {
    if (colour.get(name) === "done") return;
    if (colour.get(name) === "open") {
      const cycle = [...path.slice(path.indexOf(name)), name].join(" → ");
      throw new UnboundedWorkflowError(`${workflow}: a loop without a bound: ${cycle}`);
    }
    colour.set(name, "open");
    const state = states[name];
    if (!state) throw new UnboundedWorkflowError(`${workflow}: no state ${name}`);
    for (const next of successors(state)) {
      if (!cut.has(`${name}->${next}`)) visit(next, [...path, name]);
    }
    colour.set(name, "done");
  };
  visit(definition.StartAt, []);
}

function reEntries(definition: Definition, loops: PollLoop[]) {
  return RE_ENTRIES.filter(
    (r) =>
      (definition.States[r.from]?.Catch ?? []).some((c) => c.Next === r.to) &&
      loops.some((l) => l.task === r.to && l.elapsedSeconds !== undefined),
  );
}

/** World seconds one execution of `definition` can take at most. */
export function executionBoundSeconds(workflow: string, definition: Definition): number {
  // Parallel and Map states hold states of their own that this sum would not see.
  for (const [name, state] of Object.entries(definition.States)) {
    if (!["Task", "Wait", "Choice", "Pass", "Succeed", "Fail"].includes(state.Type))
      throw new UnboundedWorkflowError(`${workflow}: ${name} is a ${state.Type}, not modelled`);
  }
  const loops = pollLoops(definition);
  assertLoopsBounded(workflow, definition, loops);
  let seconds = 0;
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === "Task") seconds += taskWorstSeconds(name, state);
    if (state.Type === "Wait") seconds += waitMaxSeconds(name, state);
  }
  for (const loop of loops) {
    const byCount = loop.polls === undefined ? Infinity : loop.polls * loop.bodySeconds;
    const byTime =
      loop.elapsedSeconds === undefined ? Infinity : loop.elapsedSeconds + loop.bodySeconds;
    seconds += Math.min(byCount, byTime);
  }
  for (const r of reEntries(definition, loops)) {
    const loop = loops.find((l) => l.task === r.to)!;
    const rounds = Math.ceil(loop.elapsedSeconds! / r.minRoundSeconds) + 1;
    const states = definition.States;
    seconds +=
      rounds * (taskWorstSeconds(r.from, states[r.from]!) + taskWorstSeconds(r.to, states[r.to]!));
  }
  return Math.ceil(seconds);
}

/** On-call as the runner plays it: how often it resumes a chain, and how long it waits first. */
export interface OnCallPolicy {
  readonly resumes: number;
  readonly resumeDelaySeconds: number;
}

/** World seconds a chain (a run and on-call's resumes of it) can take at most. */
export function chainBoundSeconds(executionSeconds: number, onCall: OnCallPolicy): number {
  return (1 + onCall.resumes) * executionSeconds + onCall.resumes * onCall.resumeDelaySeconds;
}
