// Runs one schedule: builds the world, lets it run normally, brings on the incident and the extra
// faults, starts the workflows the way production would (the prober's alarm through EventBridge,
// on-call by hand, the drill), plays on-call (answers approvals, resumes halted or dead runs once
// the faults are over, as the page says), and checks the invariants as it goes. Everything runs on
// the virtual clock: a run of an hour of world time takes a fraction of a second.
import { CONTROL } from "../../functions/common/contract";
import type { WorkflowName } from "../../infra/lib/asl";
import { Invariants, Violations } from "./invariants";
import type { Schedule } from "./schedule";
import { startExecution } from "./workflow";
import type { ExecutionRecord } from "./workflow";
import { chainBoundSeconds, executionBoundSeconds } from "./watchdog";
import type { Definition, OnCallPolicy } from "./watchdog";
import { withVirtualTime } from "./world/clock";
import { renderedDefinition } from "../state-machines/support/render";
import { EAST, WEST, ChaosWorld } from "./world/world";

export interface RunReport {
  readonly schedule: Schedule;
  readonly violations: readonly string[];
  readonly simulatedSeconds: number;
  readonly executions: readonly {
    name: string;
    workflow: string;
    status: string;
    lastState?: string;
    error?: string;
    startedAt: number;
    endedAt?: number;
    /** The last states it entered, oldest first (the evidence when a run does not end). */
    recentStates: string[];
  }[];
  /** The watchdog stopped the run: it did not end within its derived bound (see watchdog.ts). */
  readonly unended: boolean;
  /** Seconds of world time the watchdog allowed when the run stopped. */
  readonly watchdogSeconds: number;
  readonly roleChanges: readonly {
    kind: string;
    to: string;
    at: number;
    completesAt: number | null;
  }[];
  readonly paymentCommits: Record<string, number>;
  /**
   * The peer lease as the writer's guard saw it: whether a re-protect armed it (it reached the
   * writer's replica), and the writes the writer's guard refused as lapsed afterwards.
   */
  readonly lease?: {
    readonly armedByReprotect: boolean;
    readonly lapsedRefusals: number;
    /** World seconds: the armed flag reaching the writer's replica, and the slow window. */
    readonly armedAt: number | null;
    readonly slowWindow: { readonly from: number; readonly to: number } | null;
  };
}

/** Seconds of world time after the last run ends, to let replication and demotions settle. */
const TAIL_SECONDS = 300;
/**
 * On-call as this runner plays it (onCall below): resumes a halted or dead chain up to 4 times,
 * after the faults it waits out, at most 2 h later.
 */
const ON_CALL: OnCallPolicy = { resumes: 4, resumeDelaySeconds: 2 * 3600 };
const MAX_RESUMES = ON_CALL.resumes;
/**
 * Timers that may fire while world time stands still. Every timer of the world and of the code
 * under test moves on by its delay; a few hundred share one instant at most (a burst of calls and
 * their retries). More means something reschedules itself at no delay: a loop that world time
 * cannot bound.
 */
const STANDSTILL_STEPS = 100_000;

/** World seconds one chain of `workflow` may take: its derived bound (watchdog.ts), cached. */
const chainBounds = new Map<WorkflowName, number>();
export function chainSeconds(workflow: WorkflowName): number {
  let seconds = chainBounds.get(workflow);
  if (seconds === undefined) {
    const definition = renderedDefinition(workflow) as unknown as Definition;
    seconds = chainBoundSeconds(executionBoundSeconds(workflow, definition), ON_CALL);
    chainBounds.set(workflow, seconds);
  }
  return seconds;
}

/** Only for the negative control: a world without the writer heartbeat. */
export interface RunOptions {
  /** pg_cron's heartbeat; off, /health reports the last commit the target received instead. */
  readonly heartbeat?: boolean;
  /** Seconds after the incident during which us-east-1 takes no payments (an idle primary). */
  readonly quietEastAfterIncident?: number;
  /** A weakened guard (test/chaos/mutations.test.ts): the world must show what it guards. */
  readonly mutate?: (world: ChaosWorld) => void;
  /** Only for the watchdog's own test: a chain's bound in world seconds instead of the derived one. */
  readonly chainSeconds?: (workflow: WorkflowName) => number;
}

export async function runSchedule(
  schedule: Schedule,
  options: RunOptions = {},
): Promise<RunReport> {
  const world = new ChaosWorld({
    seed: schedule.seed,
    start: Date.UTC(2026, 10, 30, 3, 0, 0),
    ddbMaxDelaySeconds: schedule.ddbMaxDelaySeconds,
    // Aurora: "within a few minutes", no upper bound: seconds to 20 minutes, log-uniform.
    promotionSeconds: (random) => random.logUniform(10, 20 * 60),
    rpoSeconds: schedule.rpoSeconds,
    afterFailover: schedule.story === "failback" || schedule.story === "reprotect-home",
    lagMetricWhileCut: schedule.lagMetricWhileCut,
  });
  options.mutate?.(world);
  const { clock, network } = world;
  const t0 = clock.now;
  const violations = new Violations();
  const invariants = new Invariants(world, violations, t0);
  world.commitListeners.push((c) => invariants.onCommit(c));
  world.aurora.onControl = (event) => invariants.onControl(event);

  const incident = t0 + schedule.incidentAt * 1000;
  const planned = schedule.story === "switchover" || schedule.story === "failback";
  // Planned moves need both regions: their incidents end (a drill is not run into an outage).
  // reprotect-home: the writer is us-west-2 (after an earlier failover), it fails, and the way
  // back is an unplanned failover to us-east-1 and a re-protect from there.
  const home = schedule.story === "reprotect-home";
  const failed = home ? WEST : EAST;
  const survivor = home ? EAST : WEST;
  const reprotect = schedule.story === "reprotect" || home ? schedule.reprotect : undefined;
  // Re-protect needs the old region back: its outage ends (or re-protect waits for ever).
  const incidentSeconds = planned
    ? (schedule.incidentSeconds ?? 600)
    : reprotect
      ? (schedule.incidentSeconds ?? 1800)
      : schedule.incidentSeconds;
  const incidentEnd = incidentSeconds === null ? Infinity : incident + incidentSeconds * 1000;
  switch (schedule.story) {
    case "outage":
    case "reprotect":
    case "reprotect-home":
      network.add({ kind: "down", region: failed, from: incident, to: incidentEnd });
      break;
    case "partition":
      network.add({ kind: "partition", from: incident, to: incidentEnd });
      break;
    case "lagging-target":
      world.aurora.lagSpikes.push({
        from: incident,
        to: Number.isFinite(incidentEnd) ? incidentEnd : incident + 3600_000,
        seconds: schedule.rpoSeconds * world.random.uniform(1.5, 4),
        rampSeconds: world.random.uniform(10, 600),
      });
      break;
    default:
      break;
  }
  for (const fault of schedule.faults) {
    const from = incident + fault.at * 1000;
    network.add({ ...fault, from, to: from + fault.seconds * 1000 });
  }
  // The detach path: RDS refuses the managed failover for as long as us-east-1 is down (AWS does
  // not say when it does; Promote then detaches, the old primary being unreachable).
  if (reprotect?.detach) world.aurora.refusals.push({ from: incident, to: incidentEnd });
  if (schedule.refusal) {
    const from = incident + schedule.refusal.at * 1000;
    world.aurora.refusals.push({ from, to: from + schedule.refusal.seconds * 1000 });
  }
  world.startBackground({
    paymentsPerSecond: schedule.paymentsPerSecond,
    quietShare: schedule.quietShare,
    heartbeat: options.heartbeat ?? true,
    ...(options.quietEastAfterIncident
      ? {
          pause: {
            region: EAST,
            from: incident - 10_000,
            to: incident + options.quietEastAfterIncident * 1000,
          },
        }
      : {}),
  });
  // The end of every fault that on-call would wait out before resuming.
  const faultsOverAt = Math.max(
    ...schedule.faults.map((f) => incident + (f.at + f.seconds) * 1000),
    schedule.refusal ? incident + (schedule.refusal.at + schedule.refusal.seconds) * 1000 : 0,
    planned ||
      schedule.story === "lagging-target" ||
      reprotect !== undefined ||
      Number.isFinite(incidentEnd)
      ? incidentEnd
      : 0,
    0,
  );

  const boundOf = options.chainSeconds ?? chainSeconds;
  // Until a chain starts, the run lasts as long as its story's scheduled events (the incident,
  // the faults, on-call's start and the second trigger), then the tail.
  let deadline =
    Math.max(
      incident + schedule.consoleDelay * 1000,
      incident + (schedule.secondTrigger?.at ?? 0) * 1000,
      faultsOverAt,
      Number.isFinite(incidentEnd) ? incidentEnd : incident,
    ) +
    TAIL_SECONDS * 1000;
  let unended = false;
  const executions: ExecutionRecord[] = [];
  const chains = new Map<string, { resumes: number; last: ExecutionRecord }>();
  let pending = 0;
  let names = 0;
  let firstStarted = false;

  const failoverInput = (trigger: "alarm" | "console", reason: string) => ({
    targetRegion: survivor,
    reason,
    trigger,
    ...(schedule.mode === "approval" ? { mode: "approval" } : {}),
  });

  let reprotectStarted = false;
  const start = (workflow: WorkflowName, input: Record<string, unknown>, chain?: string) => {
    names += 1;
    const name = `${workflow}-${names}`;
    const first = !firstStarted && chain === undefined;
    firstStarted ||= first;
    const firstReprotect = workflow === "reprotect" && !reprotectStarted;
    reprotectStarted ||= workflow === "reprotect";
    const region = String(input.targetRegion);
    const dieAt = first ? schedule.death : firstReprotect ? reprotect?.death : null;
    // The watchdog: a new chain may take its whole derived bound (its resumes included).
    if (chain === undefined)
      deadline = Math.max(deadline, clock.now + boundOf(workflow) * 1000 + TAIL_SECONDS * 1000);
    const execution = startExecution(world, {
      workflow,
      input: chain ? { ...input, resumeFailoverId: chain } : input,
      name,
      region,
      ...(dieAt ? { dieAt } : {}),
      approval: schedule.approval,
    });
    executions.push(execution);
    const id = chain ?? name;
    const state = chains.get(id) ?? { resumes: 0, last: execution };
    state.last = execution;
    chains.set(id, state);
    pending += 1;
    void execution.done.then(() => {
      pending -= 1;
      invariants.onEnd(execution);
      onCall(id, workflow, input, execution);
      // Once the failover completed, on-call re-protects when the page and the region say so.
      if (reprotect && workflow === "failover" && execution.status === "SUCCEEDED") {
        if (!reprotectStarted) {
          reprotectStarted = true;
          const reprotectAt = Math.max(clock.now + 60_000, incidentEnd + reprotect.delay * 1000);
          at(reprotectAt, () => {
            reprotectStarted = false;
            start("reprotect", {
              targetRegion: survivor,
              reason: `${failed} is back: re-protect`,
              trigger: "console",
            });
          });
        }
      }
    });
  };

  /** On-call reads the page and resumes once the faults it waited for are over. */
  const onCall = (
    id: string,
    workflow: WorkflowName,
    input: Record<string, unknown>,
    execution: ExecutionRecord,
  ) => {
    const state = chains.get(id)!;
    const halted = execution.status === "FAILED" && execution.lastState === "Halted";
    if (!(halted || execution.status === "DIED") || state.resumes >= MAX_RESUMES) return;
    // The page says "Nothing was changed" when the run took no lock: there is nothing to resume,
    // only a decision to start again, which this on-call does not take. A run that died (it
    // was stopped, the console shows it ABORTED) is always run again.
    const lock = world.table.read(String(input.targetRegion), CONTROL.lockItem);
    if (halted && lock?.owner !== id) return;
    state.resumes += 1;
    const delay = halted
      ? Math.min(
          Math.max(120_000, faultsOverAt + 60_000 - clock.now),
          ON_CALL.resumeDelaySeconds * 1000,
        )
      : world.random.uniform(30_000, 300_000);
    // What the page tells on-call to add.
    const advised =
      execution.error === "ReplicationLagUnknownError"
        ? { ...input, allowUnknownLag: true }
        : input;
    pending += 1;
    clock.at(delay, () => {
      pending -= 1;
      start(workflow, advised, id);
    });
  };

  // Production's triggers: every alarm that enters ALARM starts the failover in us-west-2,
  // through EventBridge (delivered within seconds).
  world.alarmListeners.push((alarm) => {
    pending += 1;
    clock.at(world.random.uniform(500, 5000), () => {
      pending -= 1;
      start("failover", failoverInput("alarm", `alarm ${alarm} entered ALARM`));
    });
  });
  const at = (when: number, fn: () => void) => {
    deadline = Math.max(deadline, when + TAIL_SECONDS * 1000);
    pending += 1;
    clock.at(when - clock.now, () => {
      pending -= 1;
      fn();
    });
  };
  switch (schedule.story) {
    case "switchover":
      at(incident, () =>
        start("switchover", { targetRegion: WEST, reason: "monthly drill", trigger: "drill" }),
      );
      break;
    case "failback":
      at(incident, () =>
        start("failback", {
          targetRegion: EAST,
          reason: "us-east-1 caught up",
          trigger: "console",
        }),
      );
      break;
    case "manual":
      at(incident + schedule.consoleDelay * 1000, () =>
        start("failover", failoverInput("console", "operator exercise")),
      );
      break;
    case "reprotect":
      if (schedule.trigger === "console") {
        at(incident + schedule.consoleDelay * 1000, () =>
          start("failover", failoverInput("console", "us-east-1 looks down")),
        );
      }
      break;
    case "reprotect-home":
      // The prober lives in us-west-2, the failed region: no alarm, on-call fails over.
      at(incident + schedule.consoleDelay * 1000, () =>
        start("failover", failoverInput("console", "us-west-2 looks down")),
      );
      break;
    default:
      if (schedule.trigger === "console") {
        at(incident + schedule.consoleDelay * 1000, () =>
          start("failover", failoverInput("console", "us-east-1 looks down")),
        );
      }
  }
  // A second trigger of the same operation: another alarm or a second person for a failover,
  // the drill's schedule or on-call again for a planned move.
  if (schedule.secondTrigger) {
    const trigger = schedule.secondTrigger.trigger;
    at(incident + schedule.secondTrigger.at * 1000, () => {
      if (schedule.story === "switchover") {
        start("switchover", { targetRegion: WEST, reason: "drill again", trigger: "drill" });
      } else if (schedule.story === "failback") {
        start("failback", { targetRegion: EAST, reason: "again", trigger: "console" });
      } else {
        start("failover", failoverInput(trigger, `second trigger (${trigger})`));
      }
    });
  }

  // reprotect-home: replication towards the writer is slow from the re-protect's start until
  // `seconds` after its first attempt to arm (CheckRejoin's first read of the standby's flag,
  // made once the standby is a caught-up secondary). The prober (us-west-2) renews, and
  // re-protect arms, in us-west-2's replica; the writer's guard reads us-east-1's.
  const slowToWriter = home ? (reprotect?.slowToWriter ?? null) : null;
  let slowWindow: (typeof world.table.slow)[number] | undefined;
  let scannedCalls = 0;
  const placeSlowWindow = () => {
    if (!slowToWriter) return;
    if (!slowWindow) {
      if (!executions.some((e) => e.workflow === "reprotect")) return;
      slowWindow = {
        from: failed,
        to: survivor,
        start: clock.now,
        end: Infinity,
        maxDelaySeconds: slowToWriter.maxDelaySeconds,
      };
      world.table.slow.push(slowWindow);
    }
    if (slowWindow.end !== Infinity) return;
    for (; scannedCalls < world.calls.length; scannedCalls++) {
      const call = world.calls[scannedCalls]!;
      if (
        call.workflow === "reprotect" &&
        call.region === failed &&
        call.op === "dynamodb:GetItem active-region"
      ) {
        slowWindow.end = call.at + slowToWriter.seconds * 1000;
        return;
      }
    }
  };

  let lastEnd = incident;
  const initialToken = Number(
    world.flag(schedule.story === "failback" || home ? WEST : EAST)?.fencingToken ?? 0,
  );
  await withVirtualTime(clock, world.random.next, async () => {
    const realImmediate = setImmediate;
    const flush = () => new Promise<void>((resolve) => realImmediate(resolve));
    let checkedCalls = 0;
    let standstill = 0;
    for (;;) {
      await flush();
      while (checkedCalls < world.calls.length) invariants.onCall(world.calls[checkedCalls++]!);
      const running = executions.some((e) => e.status === "RUNNING");
      if (!running && pending === 0) {
        lastEnd = Math.max(lastEnd, ...executions.map((e) => e.endedAt ?? 0));
        if (clock.now >= lastEnd + TAIL_SECONDS * 1000) break;
      }
      // After the last execution (nothing pending), the tail above ends the run.
      if ((running || pending > 0) && clock.now > deadline) {
        unended = true;
        violations.add(
          clock.now - t0,
          `watchdog: the run did not end within ${Math.round((deadline - t0) / 1000)} s of world time, the bound derived from its workflows' timeouts, retries, waits and poll bounds and on-call's resumes (test/chaos/watchdog.ts); still running: ${
            running
              ? executions
                  .filter((e) => e.status === "RUNNING")
                  .map((e) => `${e.name} in ${e.lastState}`)
                  .join(", ")
              : `none (${pending} world events pending)`
          }`,
        );
        break;
      }
      const before = clock.now;
      const timer = clock.next();
      if (!timer) {
        if (running) violations.add(clock.now - t0, "deadlock: executions wait on nothing");
        break;
      }
      standstill = clock.now === before ? standstill + 1 : 0;
      if (standstill > STANDSTILL_STEPS) {
        unended = true;
        violations.add(
          clock.now - t0,
          `watchdog: ${STANDSTILL_STEPS} timers fired without world time moving (a loop at no delay); still running: ${executions
            .filter((e) => e.status === "RUNNING")
            .map((e) => `${e.name} in ${e.lastState}`)
            .join(", ")}`,
        );
        break;
      }
      await timer.fn();
      placeSlowWindow();
      // The code under test continues once one of its timers fired (the world resolves what
      // it awaits on such timers too): let it run before the next event.
      if (!timer.internal) await flush();
    }
  });

  // 4. Each chain ended in Completed, or in a refusal when it had changed nothing (a refusal
  // after this run fenced would leave the system fenced and unpromoted).
  for (const [id, { last }] of chains) {
    if (last.status === "SUCCEEDED") continue;
    const fenced = world.table.history.some(
      (h) => h.key === CONTROL.activeRegionItem && h.item?.updatedBy === id,
    );
    const refused = ["Rejected", "InputRejected", "NotApproved"].includes(last.lastState ?? "");
    // Halted without the lock: it changed nothing and paged ("Nothing was changed"), the same
    // rule on-call follows (onCall above). The lock counts as it stands at the end, not whether
    // the chain ever held it: a chain refused at approval releases its lock, and its resume (the
    // execution had died after the release) may then halt at Preflight in a fault window, with
    // nothing to resume (schedule 3762 of seed 20261130).
    const holdsLock = [EAST, WEST].some(
      (region) => world.table.read(region, CONTROL.lockItem)?.owner === id,
    );
    const haltedEarly = last.lastState === "Halted" && !holdsLock;
    if (last.status === "FAILED" && (refused || haltedEarly) && !fenced) continue;
    violations.add(
      (last.endedAt ?? clock.now) - t0,
      `run ${id} did not converge: its last execution ${last.name} ended ${last.status} in ${last.lastState} (${last.error}: ${last.cause})`,
    );
  }
  // 5. Data loss within the RPO bound; no copy of a commit destroyed.
  invariants.checkLoss(schedule.rpoSeconds);
  invariants.checkNothingDestroyed();
  if (reprotect) {
    const chain = [...chains.values()].find((c) => c.last.workflow === "reprotect");
    if (chain) invariants.checkReprotected(chain.last, survivor, failed);
  }
  // 6. One role change per story, one token step per completed run.
  const changes = world.aurora.changes;
  // A detach cannot be undone: only with the old primary unreachable (defect 5). Promote's
  // evidence is the old region's RDS API and a minute of its /health probes, so a detach after
  // a minute in which the old region was reachable, with no fault injected into its RDS or API,
  // had no evidence.
  for (const change of changes.filter((c) => c.kind === "detach")) {
    const windowFrom = change.at - 60_000;
    let reachable = true;
    for (let t = windowFrom; t <= change.at && reachable; t += 1000)
      reachable = network.reachable(change.to, change.from, t);
    const faulted = network.faults.some(
      (f) =>
        (f.kind === "throttle" || f.kind === "error" || f.kind === "lost") &&
        f.region === change.from &&
        (f.service === "rds" || f.service === "api") &&
        f.from <= change.at &&
        f.to >= windowFrom,
    );
    if (reachable && !faulted) {
      violations.add(
        change.at - t0,
        `detached ${change.to}'s cluster from the global cluster while the old primary in ${change.from} had been reachable for a minute: a one-way step with no evidence that managed failover was impossible`,
      );
    }
  }
  if (changes.length > 1) {
    violations.add(
      clock.now - t0,
      `${changes.length} role changes: ${changes.map((c) => `${c.kind} to ${c.to}`).join(", ")}`,
    );
  }
  const target = schedule.story === "failback" || home ? EAST : WEST;
  const flag = world.flag(target);
  const token = Number(flag?.fencingToken ?? 0);
  if (token > initialToken + 1)
    violations.add(clock.now - t0, `the fencing token moved from ${initialToken} to ${token}`);
  const completed = [...chains.values()].some(
    (c) => c.last.status === "SUCCEEDED" && c.last.workflow !== undefined,
  );
  if (completed) {
    const writer = world.aurora.clusters[target]!;
    if (writer.role === "secondary")
      violations.add(clock.now - t0, `a run completed but ${target}'s cluster is not the writer`);
    if (flag?.activeRegion !== target || flag.phase !== "open") {
      violations.add(
        clock.now - t0,
        `a run completed but the flag in ${target} says ${JSON.stringify(flag)}`,
      );
    }
    if (world.table.read(target, CONTROL.lockItem))
      violations.add(clock.now - t0, "a run completed but its lock is still held");
  }

  function leaseReport(): NonNullable<RunReport["lease"]> {
    const firstReprotect = executions.find((e) => e.workflow === "reprotect");
    const armed = firstReprotect
      ? world.table.history.find(
          (h) =>
            h.region === survivor &&
            h.key === CONTROL.activeRegionItem &&
            h.at >= firstReprotect.startedAt &&
            h.item?.leaseRequired === true,
        )
      : undefined;
    const window = world.table.slow[0];
    return {
      armedByReprotect: armed !== undefined,
      lapsedRefusals: world.payments[survivor]!.refused.PeerLeaseLapsedError ?? 0,
      armedAt: armed ? Math.round((armed.at - t0) / 1000) : null,
      slowWindow: window
        ? { from: Math.round((window.start - t0) / 1000), to: Math.round((window.end - t0) / 1000) }
        : null,
    };
  }

  return {
    schedule,
    violations: violations.found,
    simulatedSeconds: Math.round((clock.now - t0) / 1000),
    executions: executions.map((e) => ({
      name: e.name,
      workflow: e.workflow,
      status: e.status,
      lastState: e.lastState,
      error: e.error,
      startedAt: Math.round((e.startedAt - t0) / 1000),
      endedAt: e.endedAt === undefined ? undefined : Math.round((e.endedAt - t0) / 1000),
      recentStates: e.states.slice(-8),
    })),
    unended,
    watchdogSeconds: Math.round((deadline - t0) / 1000),
    roleChanges: changes.map((c) => ({
      kind: c.kind,
      to: c.to,
      at: Math.round((c.at - t0) / 1000),
      completesAt: c.completesAt === null ? null : Math.round((c.completesAt - t0) / 1000),
    })),
    paymentCommits: {
      [EAST]: world.payments[EAST]!.commits.length,
      [WEST]: world.payments[WEST]!.commits.length,
    },
    ...(home ? { lease: leaseReport() } : {}),
  };
}

/** A report a person can read: the schedule, what ran, and what broke. */
export function describeRun(report: RunReport): string {
  return [
    report.violations.length === 0
      ? "violations: none"
      : `violations:\n  ${report.violations.join("\n  ")}`,
    `executions (seconds of world time):\n  ${report.executions
      .map(
        (e) =>
          `${e.name} ${e.status} in ${e.lastState ?? "?"} ${e.error ?? ""} [${e.startedAt}-${e.endedAt ?? "?"}]` +
          (e.status === "RUNNING" || report.unended
            ? ` last states: ${e.recentStates.join(" > ")}`
            : ""),
      )
      .join("\n  ")}`,
    `role changes: ${JSON.stringify(report.roleChanges)}`,
    `payments committed: ${JSON.stringify(report.paymentCommits)}; world time ${report.simulatedSeconds} s`,
    `schedule: ${JSON.stringify(report.schedule)}`,
  ].join("\n");
}
