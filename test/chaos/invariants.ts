// The properties every chaos run must keep, checked as the world moves (each payment commit,
// each API call) and when each execution ends:
// 1. Never two writers: no payment commits on an old writer's cluster once the target stopped
//    taking its commits (a failover's or detach's divergence point), and the regions' payment
//    commits never interleave: once a region took over, the one before it commits nothing more
//    until a role change hands writing back to it.
// 2. Recover without the failed region: a failover calls the region it fails away from only
//    best-effort (1 attempt, capped), never with the critical client profile.
// 3. Every run ends Completed, refused with nothing changed, or Halted with a page in the target
//    region (never HaltedWithoutPage).
// 4. A resume converges: the run on-call resumes completes, and the end state is the one run's.
// 5. Acknowledged payments lost in a failover lie within rds.global_db_rpo of each other; a
//    switchover loses none.
// 6. A second trigger never doubles anything: at most one role change per story, and the
//    fencing token moves by at most one per completed run.
import type { ExecutionRecord } from "./workflow";
import type { CallRecord, ChaosWorld } from "./world/world";
import type { PaymentCommit } from "./world/payments";

export class Violations {
  readonly found: string[] = [];

  add(at: number, message: string): void {
    if (this.found.length < 20) this.found.push(`t=${(at / 1000).toFixed(1)}s ${message}`);
  }
}

export class Invariants {
  private readonly lastCommit: Record<string, number> = {};

  constructor(
    private readonly world: ChaosWorld,
    private readonly violations: Violations,
    private readonly startedAt: number,
  ) {}

  private rel(at: number): number {
    return at - this.startedAt;
  }

  /** 1. After every payment commit. */
  onCommit(commit: PaymentCommit): void {
    const { aurora } = this.world;
    for (const change of aurora.changes) {
      if (change.from !== commit.region || change.kind === "switchover") continue;
      if (commit.at >= change.at) {
        this.violations.add(
          this.rel(commit.at),
          `two writers: a payment committed on ${commit.region}'s cluster ${((commit.at - change.at) / 1000).toFixed(1)} s after the ${change.kind} to ${change.to} began (flag token the guard saw: ${commit.token})`,
        );
      }
    }
    // The latest hand-over of writing to this region before this commit.
    const handover = Math.max(
      0,
      ...aurora.changes
        .filter((c) => c.to === commit.region && c.at <= commit.at)
        .map((c) => (c.kind === "switchover" ? (c.readOnlyAt ?? c.at) : c.at)),
    );
    for (const [region, at] of Object.entries(this.lastCommit)) {
      // Another region committed since writing was last handed to this one.
      if (region !== commit.region && at > handover) {
        this.violations.add(
          this.rel(commit.at),
          `writers interleave: ${commit.region} committed a payment after ${region} did (at ${(this.rel(at) / 1000).toFixed(1)} s) with no role change to ${commit.region} since`,
        );
      }
    }
    this.lastCommit[commit.region] = commit.at;
  }

  /** 2. After every call of a DR task. */
  onCall(call: CallRecord): void {
    if (
      call.workflow === "failover" &&
      call.sourceRegion !== undefined &&
      call.region === call.sourceRegion &&
      call.profile === "critical"
    ) {
      this.violations.add(
        this.rel(call.at),
        `a failover called ${call.op} in the region it fails away from (${call.region}) with the critical profile (${call.execution})`,
      );
    }
  }

  /** 3. When an execution ends. */
  onEnd(execution: ExecutionRecord): void {
    if (execution.status === "DIED" || execution.status === "RUNNING") return;
    const at = this.rel(execution.endedAt ?? this.world.clock.now);
    const last = execution.lastState;
    if (execution.status === "SUCCEEDED") {
      if (last !== "Completed") this.violations.add(at, `${execution.name} succeeded in ${last}`);
      return;
    }
    if (last === "Halted") {
      const pages = this.world.services[execution.region]!.messages.filter(
        (m) => m.at >= execution.startedAt && /HALTED at /.test(m.subject),
      );
      if (pages.length === 0) {
        this.violations.add(at, `${execution.name} halted without a page in ${execution.region}`);
      }
      return;
    }
    if (last === "HaltedWithoutPage") {
      this.violations.add(at, `${execution.name} ended HaltedWithoutPage (${execution.cause})`);
      return;
    }
    if (!["Rejected", "InputRejected", "NotApproved"].includes(last ?? "")) {
      this.violations.add(
        at,
        `${execution.name} failed outside a safe state: ${last} ${execution.error}`,
      );
    }
  }

  /** 5. Data lost in each role change. */
  checkLoss(rpoSeconds: number): void {
    for (const change of this.world.aurora.changes) {
      const lost = change.lost.filter((c) => c.kind === "payment" && c.acknowledged);
      if (change.kind === "switchover" && lost.length > 0) {
        this.violations.add(
          this.rel(change.at),
          `a switchover lost ${lost.length} acknowledged payments`,
        );
        continue;
      }
      if (change.from !== "us-east-1" || lost.length < 2) continue;
      const span = (lost.at(-1)!.at - lost[0]!.at) / 1000;
      // Every lost commit waited behind the first lost one for at most the RPO bound.
      if (span > rpoSeconds + 1) {
        this.violations.add(
          this.rel(change.at),
          `the ${change.kind} lost acknowledged payments spanning ${span.toFixed(1)} s, beyond rds.global_db_rpo ${rpoSeconds} s`,
        );
      }
    }
  }
}
