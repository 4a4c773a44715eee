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
// 7. Re-protect: after every control-plane change at most one cluster (Terraform's or one it
//    kept) is the writer of the global cluster, and never the old region's once the failover
//    moved writing away; no commit is left without a copy (a cluster's volume, a replica it
//    reached, or a snapshot): nothing is destroyed; a completed re-protect leaves the other
//    region a caught-up secondary with its instances, the parameters and DNS naming the writer,
//    and a report in the ledger.
import type { ExecutionRecord } from "./workflow";
import type { ControlEvent } from "./world/aurora";
import type { CallRecord, ChaosWorld } from "./world/world";
import { PARAMETERS } from "../../functions/common/contract";
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

  /** 7. After every control-plane change of re-protect. */
  onControl(event: ControlEvent): void {
    const { aurora } = this.world;
    const writers = [...Object.values(aurora.clusters), ...aurora.retained].filter(
      (c) => c.exists && c.member && c.role === "writer",
    );
    if (aurora.globalExists && writers.length > 1) {
      this.violations.add(
        this.rel(event.at),
        `two writers in the global cluster after ${event.op}: ${writers.map((c) => c.identifier).join(", ")}`,
      );
    }
    const movedAway = aurora.changes.find((c) => c.kind !== "switchover");
    if (
      movedAway &&
      aurora.globalExists &&
      writers.some((c) => c.region === movedAway.from) &&
      event.op === "CreateGlobalCluster"
    ) {
      this.violations.add(
        this.rel(event.at),
        `re-protect made ${movedAway.from}'s cluster the writer again after writing moved to ${movedAway.to}`,
      );
    }
  }

  /** 7. Every commit still has a copy somewhere: nothing was destroyed. */
  checkNothingDestroyed(): void {
    const { aurora } = this.world;
    const held = new Set<number>();
    for (const c of [...Object.values(aurora.clusters), ...aurora.retained]) {
      if (c.exists) for (const commit of c.log) held.add(commit.id);
    }
    for (const snap of aurora.snapshots) for (const commit of snap.commits) held.add(commit.id);
    const gone = this.world.paymentCommits.filter(
      (p) => p.commit.arrivedAt === null && !held.has(p.commit.id),
    );
    if (gone.length > 0) {
      this.violations.add(
        this.world.clock.now - this.startedAt,
        `${gone.length} payment commits have no copy left (first: ${gone[0]!.region} at ${(this.rel(gone[0]!.commit.at) / 1000).toFixed(1)} s): a data store was destroyed`,
      );
    }
  }

  /** 7. What a completed re-protect leaves behind (its last execution `last`). */
  checkReprotected(last: ExecutionRecord, writer: string, rebuilt: string): void {
    const { aurora, topology } = this.world;
    const at = this.world.clock.now - this.startedAt;
    const reports = this.world.reports.filter((r) => r.kind === "reprotect");
    if (last.status === "SUCCEEDED") {
      const slot = aurora.clusters[rebuilt]!;
      const problems: string[] = [];
      if (!aurora.globalExists || aurora.writer !== writer)
        problems.push("the global cluster's writer is not the promoted cluster");
      if (!slot.exists || !slot.member || slot.role !== "secondary" || slot.source !== writer)
        problems.push(`${slot.identifier} is not a secondary following ${writer}`);
      if (slot.identifier !== topology.regions[rebuilt]!.clusterIdentifier)
        problems.push(`the secondary is not under Terraform's identifier (${slot.identifier})`);
      const ready = slot.instances.filter(
        (i) => aurora.instanceOf(rebuilt, i)?.status === "available",
      );
      if (ready.length === 0)
        problems.push(`${slot.identifier} has no available instance (headless)`);
      for (const region of [writer, rebuilt]) {
        const ssm = this.world.services[region]!.parameters;
        const active = ssm.get(`${topology.parameterPrefix}/${PARAMETERS.activeRegion}`);
        if (active !== writer) problems.push(`SSM in ${region} names ${active} active`);
      }
      if (this.world.route53.records.get(writer) !== "PRIMARY")
        problems.push("the PRIMARY failover record is not the writer's");
      if (!reports.some((r) => r.outcome === "succeeded"))
        problems.push("no succeeded reprotect report reached the ledger");
      for (const p of problems) this.violations.add(at, `re-protect completed but ${p}`);
    } else if (last.lastState === "Halted" && !reports.some((r) => r.outcome === "failed")) {
      this.violations.add(at, "a halted re-protect left no report");
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
