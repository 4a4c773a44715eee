// A schedule: everything one chaos run leaves to chance, drawn by fast-check (so a failing one
// shrinks and its seed reproduces it). The world's own draws (latencies, promotion durations,
// replication delays, jitter) come from `seed`; the story and the faults are explicit.
import fc from "fast-check";
import type { Service } from "./world/network";

export type Story =
  /** us-east-1 goes down (for a while, or for good); the alarm or on-call fails over. */
  | "outage"
  /** Both regions up, nothing crosses between them. */
  | "partition"
  /** us-west-2's replication lags beyond the RPO bound: the guard stalls us-east-1. */
  | "lagging-target"
  /** On-call fails over while everything is healthy. */
  | "manual"
  /** The monthly drill: a switchover to us-west-2. */
  | "switchover"
  /** Back to us-east-1 after an earlier failover. */
  | "failback"
  /**
   * us-east-1 goes down for a while; the failover (managed, or detach-and-promote) completes;
   * once us-east-1 is back (or before: re-protect waits for it), on-call re-protects from
   * us-west-2, rebuilding the global database around the promoted cluster.
   */
  | "reprotect"
  /**
   * The way home (review 22, leftover): after an earlier failover us-west-2 is the writer; it
   * goes down, on-call fails over to us-east-1 (the deployed primary), then re-protects from
   * us-east-1, rebuilding us-west-2. This re-protect arms the peer lease (its writer is the
   * deployed primary), with DynamoDB replication towards us-east-1 slowed around that moment
   * (`reprotect.slowToWriter`).
   */
  | "reprotect-home";

export interface ExtraFault {
  readonly kind: "throttle" | "error" | "lost";
  readonly region: "us-east-1" | "us-west-2";
  readonly service: Service;
  readonly share: number;
  /** Seconds after the incident. */
  readonly at: number;
  readonly seconds: number;
}

export interface Schedule {
  readonly seed: number;
  readonly story: Story;
  /** Seconds of normal operation before the incident. */
  readonly incidentAt: number;
  /** How long the outage, partition or lag lasts; null: it does not end. */
  readonly incidentSeconds: number | null;
  readonly trigger: "alarm" | "console";
  readonly mode: "automatic" | "approval";
  /** On-call's answer when a run asks for approval. */
  readonly approval: { readonly afterSeconds: number; readonly approved: boolean };
  /** rds.global_db_rpo of the deployed primary (Aurora allows 20 s and up). */
  readonly rpoSeconds: number;
  /** Largest DynamoDB global-table replication delay, seconds (AWS: no upper bound). */
  readonly ddbMaxDelaySeconds: number;
  readonly paymentsPerSecond: { readonly "us-east-1": number; readonly "us-west-2": number };
  /** Share of gaps between payments that are quiet spells of 30 s to 3 minutes. */
  readonly quietShare: number;
  readonly lagMetricWhileCut: "grows" | "missing";
  readonly faults: readonly ExtraFault[];
  /** FailoverGlobalCluster refused (InvalidDBClusterStateFault) for a while after the incident. */
  readonly refusal: { readonly at: number; readonly seconds: number } | null;
  /** The first execution dies at its n-th task invocation. */
  readonly death: { readonly invocation: number; readonly afterWork: boolean } | null;
  /** A second failover execution started this many seconds after the incident. */
  readonly secondTrigger: { readonly at: number; readonly trigger: "alarm" | "console" } | null;
  /** Seconds between the incident and on-call starting the run by hand. */
  readonly consoleDelay: number;
  /** The reprotect story only. */
  readonly reprotect?: {
    /** RDS refuses the managed failover while us-east-1 is down: the failover detaches. */
    readonly detach: boolean;
    /** Seconds after the outage ends that on-call starts re-protect (negative: before). */
    readonly delay: number;
    /** The first re-protect execution dies at its n-th task invocation. */
    readonly death: { readonly invocation: number; readonly afterWork: boolean } | null;
    /**
     * reprotect-home only: the control table's replication from us-west-2 (where the prober
     * renews the lease and re-protect arms it) to us-east-1 (the writer, whose guard judges it)
     * slowed at the moment re-protect arms: from the re-protect's start until `seconds` after
     * its first attempt to arm (CheckRejoin's first read of the standby's flag, made once the
     * standby is a caught-up secondary), each write delayed up to `maxDelaySeconds`. DynamoDB
     * global tables replicate "typically within a second or less" with "no SLA on this
     * latency" (V2globaltables_HowItWorks), and ReplicationLatency is per direction: minutes
     * are possible right after a regional event, which is when re-protect runs.
     */
    readonly slowToWriter?: {
      /** Seconds the slowdown outlasts the first attempt to arm (re-protect waits up to 300). */
      readonly seconds: number;
      readonly maxDelaySeconds: number;
    } | null;
  };
}

const SERVICES: Service[] = ["rds", "dynamodb", "ssm", "cloudwatch", "events", "sns", "api"];

const extraFault: fc.Arbitrary<ExtraFault> = fc.record({
  kind: fc.constantFrom("throttle", "error", "lost"),
  region: fc.constantFrom("us-east-1", "us-west-2"),
  service: fc.constantFrom(...SERVICES),
  share: fc.double({ min: 0.1, max: 0.9, noNaN: true }),
  at: fc.integer({ min: 0, max: 900 }),
  // Short enough for the minutes-long retry budgets after the fence to ride out.
  seconds: fc.integer({ min: 5, max: 240 }),
});

export const scheduleArbitrary: fc.Arbitrary<Schedule> = fc
  .record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    story: fc.constantFrom<Story>(
      "outage",
      "outage",
      "partition",
      "partition",
      "lagging-target",
      "manual",
      "switchover",
      "failback",
      "reprotect",
      "reprotect",
      "reprotect-home",
    ),
    incidentAt: fc.integer({ min: 30, max: 180 }),
    incidentSeconds: fc.option(fc.integer({ min: 30, max: 3600 }), { nil: null, freq: 3 }),
    trigger: fc.constantFrom("alarm", "alarm", "console"),
    mode: fc.constantFrom("automatic", "automatic", "approval"),
    approval: fc.record({
      afterSeconds: fc.integer({ min: 10, max: 900 }),
      approved: fc.boolean(),
    }),
    rpoSeconds: fc.constantFrom(20, 30, 60, 60, 120),
    ddbMaxDelaySeconds: fc.double({ min: 0.05, max: 30, noNaN: true }),
    paymentsPerSecond: fc.record({
      "us-east-1": fc.double({ min: 0.05, max: 0.5, noNaN: true }),
      "us-west-2": fc.double({ min: 0.05, max: 0.5, noNaN: true }),
    }),
    quietShare: fc.double({ min: 0, max: 0.3, noNaN: true }),
    lagMetricWhileCut: fc.constantFrom("grows", "missing"),
    faults: fc.array(extraFault, { maxLength: 4 }),
    refusal: fc.option(
      fc.record({
        at: fc.integer({ min: 0, max: 600 }),
        seconds: fc.integer({ min: 10, max: 600 }),
      }),
      { nil: null, freq: 4 },
    ),
    death: fc.option(
      fc.record({ invocation: fc.integer({ min: 1, max: 30 }), afterWork: fc.boolean() }),
      { nil: null, freq: 3 },
    ),
    secondTrigger: fc.option(
      fc.record({
        at: fc.integer({ min: 0, max: 1800 }),
        trigger: fc.constantFrom("alarm", "console"),
      }),
      { nil: null, freq: 3 },
    ),
    consoleDelay: fc.integer({ min: 30, max: 600 }),
    reprotect: fc.record({
      detach: fc.boolean(),
      delay: fc.integer({ min: -900, max: 3600 }),
      death: fc.option(
        fc.record({ invocation: fc.integer({ min: 1, max: 60 }), afterWork: fc.boolean() }),
        { nil: null, freq: 2 },
      ),
      slowToWriter: fc.option(
        fc.record({
          // Shorter and longer than re-protect's 300 s wait to arm.
          seconds: fc.integer({ min: 0, max: 600 }),
          // Below the 20 s arming bound, between it and the 30 s lease, and well past it.
          maxDelaySeconds: fc.double({ min: 2, max: 120, noNaN: true }),
        }),
        { nil: null, freq: 5 },
      ),
    }),
  })
  .map((s) => s as Schedule);
