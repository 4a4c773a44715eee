// The two-region lab: every part started, wired and torn down here. Region A (the deployed
// primary) and region B each have a PostgreSQL server (Aurora cluster), an AWS endpoint
// (DynamoDB global tables, SSM, EventBridge), a payment API process, an alert topic and metrics;
// between them a network of TCP links. Route 53, the prober, its alarm and Step Functions run in
// the lab process. Everything it starts is registered for cleanup, also on Ctrl-C.
import { fork, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import {
  chmodSync,
  cpSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Client } from "pg";
import {
  CONTROL,
  DR_SYNTHETIC_MERCHANT,
  FENCE_PHASE,
  IDEMPOTENCY,
  PARAMETERS,
  PAYMENTS_ENV,
  PAYMENTS_LOCAL_ENV,
  SESSIONS,
} from "../functions/common/contract";
import type { DrTopology } from "../functions/common/contract";
import { WRITER_HEARTBEAT } from "../functions/common/contract";
import { staleAfterSeconds } from "../functions/dr/shared/heartbeat-watch";
import { enforcedTimeouts } from "../functions/common/sdk-timeouts";
import { clientSettings } from "../functions/dr/shared/aws/clients";
import { DynamoControlTable } from "../functions/dr/shared/aws/control-table";
import { EventBridgeEvents } from "../functions/dr/shared/aws/events";
import { SsmParameters } from "../functions/dr/shared/aws/parameters";
import type { DrDeps } from "../functions/dr/shared/deps";
import { TransientError } from "../functions/dr/shared/errors";
import { fetchHttp } from "../functions/dr/shared/http-client";
import type { HttpPort, Log, Profile, RegionPorts } from "../functions/dr/shared/ports";
import { HealthReplica } from "../functions/dr/shared/aws/replica";
import { DEFAULT_SETTINGS } from "../functions/dr/shared/settings";
import type { RunReportInput } from "../functions/reports/shared/model";
import { reportLocation, validateReportInput } from "../functions/reports/shared/model";
import { parseTopology } from "../functions/dr/shared/topology";
import { apiKeyEntry } from "../functions/payments/shared/api-keys";
import { loadMigrations, migrate } from "../functions/payments/shared/migrator";
import { readMigrationFiles } from "../scripts/migrate";
import { describeBudget, labBudget } from "./budget";
import type { LabBudget } from "./budget";
import type { LabConfig } from "./config";
import { LAB_ENVIRONMENTS_PER_FUNCTION } from "./config";
import { Orchestrator } from "./orchestrator";
import { startReaper } from "./reaper";
import { labFunctionTimeoutMs, labWriteBounds } from "./write-path";
import type { BudgetsInUse } from "./write-path";
import type { LeaseLapse } from "./lease-clock";
import type { LabWriteBounds } from "./write-path";
import { PAYMENT_FUNCTIONS, writeTimeoutSeconds } from "../infra/constructs/payments-api";
import type { Reaper } from "./reaper";
import { AuroraGlobalDatabase, LabRds } from "./world/aurora";
import type { ClusterRegion } from "./world/aurora";
import { LabClock, RandomStreams } from "./world/clock";
import { LabMetrics, MetricStore, ProbeAlarm, REPLICATION_LAG } from "./world/cloudwatch";
import { dynamoDbApi, GlobalTables } from "./world/dynamodb";
import { AwsEndpoint } from "./world/endpoint";
import { EventBus } from "./world/eventbridge";
import { Network } from "./world/network";
import type { Link } from "./world/network";
import { giveToServer, PgNode } from "./world/postgres";
import { apiDomainTarget, healthCheckId, Route53 } from "./world/route53";
import { WriterHeartbeat } from "./world/heartbeat";
import { LabNotifier } from "./world/sns";
import type { Page } from "./world/sns";
import { ParameterStore } from "./world/ssm";

export const LAB = {
  suffix: "lab",
  database: "payments",
  parameterPrefix: "/payments/lab",
  tables: {
    control: "payments-control-lab",
    sessions: "payments-sessions-lab",
    idempotency: "payments-idempotency-lab",
  },
  globalCluster: "payments-global-lab",
  /**
   * The lab's merchants and the API key each one's clients present (issue 11: a key is bound to
   * one merchant; api/keys holds only their SHA-256).
   */
  apiKeys: {
    "lab-merchant-1": "lab-key-merchant-1-0123456789abcdef0123456789",
    "lab-merchant-2": "lab-key-merchant-2-0123456789abcdef0123456789",
    "lab-merchant-3": "lab-key-merchant-3-0123456789abcdef0123456789",
  } as Readonly<Record<string, string>>,
  /** The DR Verify task's key (api/dr-verify-key), bound to DR_SYNTHETIC_MERCHANT. */
  drVerifyKey: "lab-dr-verify-key-0123456789abcdef0123456789",
  domain: "api.pay.lab.test",
} as const;

/**
 * The least real time a call to a reachable local service gets, whatever its modelled timeout
 * scales to: its round trip is real work on a shared box (load 10-25 here), not an AWS timing.
 */
export const LOCAL_CALL_FLOOR_MS = 2000;

/** Concurrent execution environments the lab's API process plays per function (see startApi). */
export { LAB_ENVIRONMENTS_PER_FUNCTION };

const SHORT: Record<string, string> = { "us-east-1": "use1", "us-west-2": "usw2" };

export interface LabRegion extends ClusterRegion {
  readonly role: "primary" | "secondary";
  readonly endpoint: AwsEndpoint;
  readonly ssm: ParameterStore;
  readonly bus: EventBus;
  api?: { process: ChildProcess; port: number };
}

export interface TimelineEvent {
  /** Lab epoch ms. */
  readonly at: number;
  readonly kind: string;
  readonly message: string;
}

let template: Promise<string> | undefined;

/**
 * The lab's PostgreSQL folder as the deployment leaves it: initdb, the payments database and the
 * project's migrations, the server stopped cleanly. Made once per process (the tests run
 * region-down, switchover and the planted second writer in one process) in its own folder under
 * the OS temp dir, which a reaper removes when the process ends, however it ends.
 */
export function labTemplate(): Promise<string> {
  template ??= makeTemplate().catch((error: unknown) => {
    template = undefined;
    throw error;
  });
  return template;
}

async function makeTemplate(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "payments-lab-template-"));
  chmodSync(root, 0o777);
  // Never stopped: the pipe closes when the process exits, and the folder goes with it.
  startReaper(root);
  const dataDir = join(root, "data");
  PgNode.initialise(dataDir);
  const node = new PgNode({
    name: "template",
    dataDir,
    port: await freePort(),
    logFile: join(root, "postgres.log"),
  });
  try {
    await node.start();
    await node.sql(`CREATE DATABASE ${LAB.database}`);
    const client = new Client({ connectionString: node.url(LAB.database) });
    await client.connect();
    try {
      await migrate(client, loadMigrations(readMigrationFiles()));
    } finally {
      await client.end();
    }
  } finally {
    await node.stop();
  }
  return dataDir;
}

/** A region's own folder from the template: a whole copy (WAL included), owned by the server. */
export function copyTemplate(templateDir: string, dataDir: string): void {
  cpSync(templateDir, dataDir, { recursive: true });
  rmSync(join(dataDir, "postmaster.pid"), { force: true });
  chmodSync(dataDir, 0o700);
  giveToServer(dataDir);
}

/**
 * Removes a lab's folder without waiting for it: renamed at once (nothing of the lab is left at
 * its path), deleted by a detached `rm` (three ~100 MB PostgreSQL folders took 2-3 s of the
 * run's wall time on a loaded box). Detached so that the Ctrl-C that stops the lab does not stop
 * the removal; a removal that dies anyway is swept by the next lab (sweepLeftovers).
 */
export function removeSoon(path: string, remover = REMOVER): void {
  const doomed = `${path}${REMOVING}`;
  try {
    renameSync(path, doomed);
  } catch {
    rmSync(path, { recursive: true, force: true });
    return;
  }
  removeInBackground(doomed, remover);
}

/** The background remover's command (a test names one that does not exist). */
const REMOVER = "rm";
/** The suffix of a lab folder being removed (removeSoon). */
const REMOVING = "-removing";
/**
 * A folder being removed that nobody renamed or changed for this long is a leftover. Judged by
 * the later of its ctime and mtime (review 23 L3): the rename into `-removing` changes the
 * folder's ctime, not its mtime, and a working `rm -rf`, depth first, changes the folder's own
 * mtime only when one of its direct children goes, at the end of each subtree (a PostgreSQL data
 * folder: minutes at production timings). On mtime alone a removal started just now looked old.
 */
export const LEFTOVER_AFTER_MS = 60_000;

/** `remover`: the command (REMOVER; a test names one that does not exist). */
function removeInBackground(doomed: string, remover: string): void {
  const inline = () => {
    try {
      rmSync(doomed, { recursive: true, force: true });
    } catch {
      // Another remover got there first, or a file the lab does not own: sweepLeftovers retries.
    }
  };
  try {
    const rm = spawn(remover, ["-rf", doomed], { detached: true, stdio: "ignore" });
    // spawn reports ENOENT, EAGAIN and EMFILE through an asynchronous 'error' event, not a throw;
    // unhandled, it would crash the lab at teardown (review L1).
    rm.on("error", inline);
    rm.unref();
  } catch {
    inline();
  }
}

/**
 * Removes the folders earlier labs were removing when their `rm` died (a reboot, a kill, a
 * failed spawn): every `payments-lab-*-removing` under `dir` untouched for LEFTOVER_AFTER_MS.
 * Returns what it started removing.
 */
export function sweepLeftovers(dir: string = tmpdir(), now: number = Date.now()): string[] {
  const swept: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return swept;
  }
  for (const name of names) {
    if (!name.startsWith("payments-lab-") || !name.endsWith(REMOVING)) continue;
    const path = join(dir, name);
    try {
      const stat = statSync(path);
      if (now - Math.max(stat.mtimeMs, stat.ctimeMs) < LEFTOVER_AFTER_MS) continue;
    } catch {
      continue;
    }
    removeInBackground(path, REMOVER);
    swept.push(path);
  }
  return swept;
}

/**
 * A port below the kernel's ephemeral range that nothing listens on. A port the kernel hands
 * out for `listen(0)` comes from the ephemeral range (ip_local_port_range, 32768-60999 by
 * default), the range every outgoing connection's local port comes from too: between the probe
 * closing and the server binding, a client connection of this or a parallel jest worker (the
 * lab and the payment tests open thousands) could take it and keep it for its life, and the
 * server's five retries on the same port all failed (CI, session 24: "could not bind ...
 * Address already in use" on 38487). Below the range only another listener can take it, and a
 * probe that finds one tries another port.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow() - 1;
  const floor = Math.min(10_000, low - 1_000);
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${floor} and ${low}`);
}

function ephemeralLow(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low !== undefined && Number.isInteger(low) && low > 2_000) return low;
  } catch {
    // Not Linux: the IANA dynamic range starts at 49152; Linux's default is lower.
  }
  return 32_768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export class Lab {
  readonly clock: LabClock;
  /** The seed's streams, one per concern (see RandomStreams): the seed reproduces the draws. */
  readonly random: RandomStreams;
  readonly network: Network;
  readonly root: string;
  readonly regions = new Map<string, LabRegion>();
  readonly metrics: MetricStore;
  readonly pages: Page[] = [];
  readonly timeline: TimelineEvent[] = [];
  tables!: GlobalTables;
  aurora!: AuroraGlobalDatabase;
  route53!: Route53;
  alarm!: ProbeAlarm;
  orchestrator!: Orchestrator;
  heartbeat!: WriterHeartbeat;
  /** Run reports the workflows handed to the report writer (validated as the writer does). */
  readonly runReports: RunReportInput[] = [];
  topology!: DrTopology;
  readonly proberResults: { at: number; region: string; healthy: boolean; detail: string }[] = [];
  /**
   * The connection budget the lab's PostgreSQL servers are sized from: the synth check's, scaled
   * to the environments the lab plays (lab/budget.ts), or a planted max_connections.
   */
  readonly budget: LabBudget;
  /**
   * The payment functions' timeouts as the lab enforces them (scaled in fast mode) and the DR
   * settle times that follow from them (lab/write-path.ts).
   */
  readonly writeBounds: LabWriteBounds;
  /**
   * Invocations that ran into their function's timeout, as the region APIs report each one
   * (lab/region-api.ts; API Gateway answered 500): lab epoch ms, the enforced timeout in real ms.
   */
  readonly functionTimeouts: {
    region: string;
    function: string;
    at: number;
    timeoutMs: number;
  }[] = [];
  /**
   * Writes the handlers refused on a lapsed peer lease, as the region APIs report each one
   * (lab/lease-clock.ts): lab epoch ms and the renewal age the guard saw, lab seconds.
   */
  readonly leaseLapses: (LeaseLapse & { region: string })[] = [];
  /** The budgets each region's handlers run with, as its API process read them back. */
  readonly handlerBudgets = new Map<string, BudgetsInUse>();
  /**
   * When the standby's prober (the lease's renewer) ran, and when the regions were first cut
   * apart (lab ms): the lease check tells a lapse the lab made up from one the lease owed.
   */
  readonly renewer: { startedAt?: number; stoppedAt?: number; partitionedAt?: number } = {};
  private readonly awsLinks = new Map<string, Link>();
  private readonly apiLinks = new Map<string, Link>();
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private proberAbort = new AbortController();
  private stopped = false;
  private readonly reaper: Reaper;
  onEvent?: (event: TimelineEvent) => void;
  onAlarm?: (name: string, at: string) => void;

  constructor(readonly config: LabConfig) {
    this.clock = new LabClock(config.fast);
    this.random = new RandomStreams(config.seed);
    // The inter-region latency is a modelled AWS figure, so it runs on the lab clock like every
    // other: unscaled, 35 ms per chunk at --fast 20 was 0.7 s of lab time per round trip, and the
    // standby's replay lag (which the lag model multiplies into lab time) alone passed failback's
    // 1 s readiness limit.
    // A connection through a cut link fails after the SDK's 1 s connection timeout
    // (functions/dr/shared/aws/clients.ts), in lab time, as reach() fails the lab adapters' calls.
    this.network = new Network(
      this.clock.real(config.timings.linkLatencyMs),
      Math.max(50, this.clock.real(1000)),
    );
    this.metrics = new MetricStore(this.clock);
    // A fresh folder under the OS temp dir, writable by the `postgres` user: unique per run, so
    // parallel runs (other engineers' tests) never share one.
    this.budget = labBudget({
      environments: LAB_ENVIRONMENTS_PER_FUNCTION,
      // Every unplanned scenario lands on the secondary; the figures barely differ the other way.
      writer: "secondary",
      maxConnections: config.maxConnections,
    });
    this.writeBounds = labWriteBounds(
      config.fast,
      config.timings.flagCacheMs,
      writeTimeoutSeconds(),
      config.timings.probeIntervalSeconds,
      config.handlerBudgets,
    );
    sweepLeftovers();
    this.root = mkdtempSync(join(tmpdir(), "payments-lab-"));
    chmodSync(this.root, 0o777);
    this.cleanups.push(() => removeSoon(this.root));
    this.reaper = startReaper(this.root);
  }

  get primary(): LabRegion {
    return this.regions.get(this.config.primary)!;
  }

  get secondary(): LabRegion {
    return this.regions.get(this.config.secondary)!;
  }

  region(name: string): LabRegion {
    const r = this.regions.get(name);
    if (!r) throw new Error(`no region ${name}`);
    return r;
  }

  other(name: string): string {
    return name === this.config.primary ? this.config.secondary : this.config.primary;
  }

  event(kind: string, message: string): void {
    const e = { at: this.clock.nowMs(), kind, message };
    this.timeline.push(e);
    this.onEvent?.(e);
  }

  /** Brings every part up with `writer` as the Aurora primary and the flag naming it. */
  async start(writer: string): Promise<void> {
    const { config } = this;
    const t = config.timings;
    const names = [config.primary, config.secondary];
    this.tables = new GlobalTables(
      names,
      {
        [LAB.tables.control]: CONTROL.partitionKey,
        [LAB.tables.sessions]: SESSIONS.partitionKey,
        [LAB.tables.idempotency]: IDEMPOTENCY.partitionKey,
      },
      {
        delayMs: () =>
          this.clock.real(
            this.random
              .get("ddb-replication")
              .between(t.ddbReplicationMs[0], t.ddbReplicationMs[1]),
          ),
        canDeliver: (from, to) =>
          this.region(from).alive && this.region(to).alive && this.network.connected(from, to),
      },
    );
    this.cleanups.push(() => this.tables.close());

    // PostgreSQL: both folders copied from the process's one initialised, migrated and stopped
    // folder (labTemplate), the reader's made a standby of the writer. A copy of a stopped
    // primary is what the lab built each time before; initdb and the migrations ran per lab
    // (4-8 s of a fast run on a loaded box) and now run once per process.
    const readerName = this.other(writer);
    const templateDir = await labTemplate();
    const ports = { [writer]: await freePort(), [readerName]: await freePort() };
    const nodes: Record<string, PgNode> = {};
    for (const name of names) {
      const dataDir = join(this.root, `${name}-data`);
      copyTemplate(templateDir, dataDir);
      nodes[name] = new PgNode({
        name,
        dataDir,
        port: ports[name]!,
        logFile: join(this.root, `${name}-postgres.log`),
        maxConnections: this.budget.maxConnections,
      });
      const node = nodes[name]!;
      this.cleanups.push(() => node.kill());
    }
    const writerNode = nodes[writer]!;
    const replication = await this.network.link(
      readerName,
      writer,
      "pg-replication",
      writerNode.port,
    );
    nodes[readerName]!.configureStandby(replication.port);
    // The servers start while the endpoints, links and API processes come up (the APIs connect
    // on their first request): on a loaded box each of the two took seconds, one after the other.
    const databases = Promise.all([writerNode.start(), nodes[readerName]!.start()]);
    databases.catch(() => undefined);

    for (const name of names) {
      const ssm = new ParameterStore();
      const bus = new EventBus();
      const endpoint = new AwsEndpoint(name, {
        dynamodb: dynamoDbApi(this.tables, name),
        ssm: (op, req) => ssm.api(op, req),
        events: (op, req) => bus.api(op, req),
      });
      await endpoint.start();
      this.cleanups.push(() => endpoint.stop());
      const appLink = await this.network.link(name, name, "app-database", nodes[name]!.port);
      const short = SHORT[name] ?? name;
      this.regions.set(name, {
        region: name,
        role: name === config.primary ? "primary" : "secondary",
        clusterArn: `arn:aws:rds:${name}:123456789012:cluster:payments-db-${short}-lab`,
        clusterIdentifier: `payments-db-${short}-lab`,
        alive: true,
        node: nodes[name]!,
        appLink,
        rpoGuard: name === config.primary,
        endpoint,
        ssm,
        bus,
      });
    }
    this.cleanups.push(() => this.network.close());
    // Cross-region links of the AWS endpoints and the APIs (the prober's and Verify's path).
    for (const from of names) {
      for (const to of names) {
        if (from === to) continue;
        this.awsLinks.set(
          `${from}>${to}`,
          await this.network.link(from, to, "aws", this.region(to).endpoint.port),
        );
      }
    }

    this.topology = parseTopology(JSON.stringify(this.buildTopology()));
    this.seed(writer);

    const apis = Promise.all(names.map((n) => this.startApi(n)));
    apis.catch(() => undefined);
    await databases;
    this.event("setup", `PostgreSQL 16: ${writer} primary, ${readerName} streaming standby`);

    this.aurora = new AuroraGlobalDatabase({
      identifier: LAB.globalCluster,
      regions: names.map((n) => this.region(n)),
      writer,
      network: this.network,
      clock: this.clock,
      random: this.random,
      timings: {
        failoverMs: t.failoverMs,
        switchoverMs: t.switchoverMs,
        detachMs: t.detachMs,
        rejoinMs: t.rejoinMs,
        rpoGuardSeconds: t.rpoGuardSeconds,
        promotionOutageMs: t.promotionOutageMs,
      },
      dataRoot: this.root,
      publishLag: (secondary, lagMs, at) =>
        this.metrics.put(secondary.region, REPLICATION_LAG.namespace, {
          name: REPLICATION_LAG.name,
          value: lagMs,
          unit: "Milliseconds",
          dimensions: { [REPLICATION_LAG.dimension]: secondary.clusterIdentifier },
          timestamp: at,
        }),
      log: (message) => this.event("rds", message),
    });
    this.aurora.setReplicationLink(readerName, replication);
    this.aurora.start();
    this.cleanups.push(() => this.aurora.cancel());

    // Migration 010's pg_cron job, which embedded PostgreSQL cannot run (lab/world/heartbeat.ts).
    this.heartbeat = new WriterHeartbeat(
      this.clock,
      names.map((n) => ({
        region: n,
        alive: () => this.region(n).alive,
        url: () => `postgres://postgres@127.0.0.1:${this.region(n).appLink.port}/${LAB.database}`,
      })),
    );
    this.heartbeat.start();
    this.cleanups.push(() => this.heartbeat.stop());

    await apis;
    for (const name of names) {
      this.apiLinks.set(
        `${this.other(name)}>${name}`,
        await this.network.link(this.other(name), name, "api", this.region(name).api!.port),
      );
    }

    this.route53 = new Route53(
      this.clock,
      {
        intervalSeconds: t.healthCheckIntervalSeconds,
        failureThreshold: t.healthCheckFailureThreshold,
        ttlSeconds: t.dnsTtlSeconds,
      },
      { primary: writer, secondary: readerName },
      (region) => this.apiUrl(region) && `${this.apiUrl(region)}/health`,
    );
    await this.route53.prime();
    this.route53.start();
    this.cleanups.push(() => this.route53.stop());

    this.orchestrator = new Orchestrator({
      clock: this.clock,
      deps: (region) => this.deps(region),
      onState: (execution, state, what) => {
        if (what === "entered" && state.type !== "Choice") {
          this.event(
            "workflow",
            `${execution.workflow} ${execution.name} (${execution.region}): ${state.name}`,
          );
        }
        if (what === "retried")
          this.event("workflow", `${execution.workflow} ${execution.name}: ${state.name} retried`);
      },
      onEnd: (execution) =>
        this.event(
          "workflow-end",
          `${execution.workflow} ${execution.name} ${execution.status} at ${execution.endState}${execution.error ? ` (${execution.error}: ${execution.cause?.slice(0, 160)})` : ""}`,
        ),
    });
    this.cleanups.push(() => this.orchestrator.abortAll());

    // The prober and its alarm run in the secondary region, as deployed.
    this.alarm = new ProbeAlarm(this.metrics, this.clock, {
      region: config.secondary,
      name: `payments-dr-primary-unhealthy-${LAB.suffix}`,
      probedRegion: config.primary,
      periodSeconds: t.probeIntervalSeconds,
      datapointsToAlarm: t.alarmDatapoints,
      evaluationPeriods: t.alarmPeriods,
      onAlarm: (name, at) => {
        this.event("alarm", `${name} entered ALARM`);
        this.onAlarm?.(name, at);
      },
    });
    this.alarm.start();
    this.cleanups.push(() => this.alarm.stop());
    this.renewer.startedAt = this.clock.nowMs();
    void this.runProber(config.secondary);
    this.cleanups.push(() => this.proberAbort.abort());
    this.event("setup", `lab up in ${this.root} (seed ${config.seed}, fast ${config.fast})`);
    this.event("setup", describeBudget(this.budget));
  }

  private buildTopology(): DrTopology {
    const regions = Object.fromEntries(
      [...this.regions.values()].map((r) => [
        r.region,
        {
          region: r.region,
          role: r.role,
          clusterArn: r.clusterArn,
          clusterIdentifier: r.clusterIdentifier,
          apiUrl: `https://api-${r.region}.lab.test`,
          eventBusName: `payments-${LAB.suffix}`,
          alertTopicArn: `arn:aws:sns:${r.region}:123456789012:payments-alerts-${LAB.suffix}`,
          healthCheckId: healthCheckId(r.region),
          apiDomainTarget: { dnsName: apiDomainTarget(r.region), hostedZoneId: "ZLABAPIGW" },
        },
      ]),
    );
    return {
      environmentSuffix: LAB.suffix,
      globalClusterIdentifier: LAB.globalCluster,
      parameterPrefix: LAB.parameterPrefix,
      controlTable: LAB.tables.control,
      dns: { hostedZoneId: "ZLABZONE", recordName: LAB.domain },
      regions,
    };
  }

  /** What the deployment seeds: SSM parameters in both regions, the flag in the control table. */
  private seed(writer: string): void {
    for (const r of this.regions.values()) {
      const put = (key: string, value: string, type = "String") =>
        r.ssm.put(`${LAB.parameterPrefix}/${key}`, value, type);
      put(PARAMETERS.writerEndpoint, `${LAB.globalCluster}.global-lab.global.rds.amazonaws.com`);
      put(
        PARAMETERS.readerEndpoint,
        `${r.clusterIdentifier}.cluster-ro-lab.${r.region}.rds.amazonaws.com`,
      );
      put(
        PARAMETERS.clusterEndpoint,
        `${r.clusterIdentifier}.cluster-lab.${r.region}.rds.amazonaws.com`,
      );
      put(PARAMETERS.databaseName, LAB.database);
      put(PARAMETERS.username, "postgres");
      put(PARAMETERS.password, "lab", "SecureString");
      put(PARAMETERS.activeRegion, writer);
      // What the deployment writes (infra: api_keys as merchantId:key pairs, stored hashed).
      const entries = [
        ...Object.entries(LAB.apiKeys).map(([merchant, key]) => apiKeyEntry(merchant, key)),
        apiKeyEntry(DR_SYNTHETIC_MERCHANT, LAB.drVerifyKey),
      ];
      put(PARAMETERS.apiKeys, JSON.stringify(entries), "SecureString");
      put(PARAMETERS.drVerifyApiKey, LAB.drVerifyKey, "SecureString");
      put(PARAMETERS.apiUrl, `https://api-${r.region}.lab.test`);
    }
    // The infrastructure seeds the flag naming the deployed primary; a lab that starts after an
    // earlier failover (failback) seeds it as that failover left it.
    const failedOver = writer !== this.config.primary;
    const flag = {
      [CONTROL.partitionKey]: { S: CONTROL.activeRegionItem },
      activeRegion: { S: writer },
      fencingToken: { N: failedOver ? "1" : "0" },
      updatedAt: { S: new Date(this.clock.nowMs()).toISOString() },
      updatedBy: { S: failedOver ? "lab-earlier-failover" : "deploy" },
      phase: { S: FENCE_PHASE.open },
      // An unplanned failover leaves the peer lease off; the deployed primary's seed has none,
      // and the prober's first renewal arms it (PEER_LEASE), as in a real deployment.
      ...(failedOver
        ? { previousRegion: { S: this.config.primary }, leaseRequired: { BOOL: false } }
        : {}),
    };
    for (const name of this.regions.keys()) {
      this.tables
        .table(name, LAB.tables.control)
        .items.set(JSON.stringify({ S: CONTROL.activeRegionItem }), { item: flag, at: 0 });
    }
  }

  /** A region's payment API: the real handlers in their own process. */
  async startApi(name: string): Promise<void> {
    const r = this.region(name);
    const t = this.config.timings;
    const log = openSync(join(this.root, `${name}-api.log`), "a");
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_OPTIONS: "",
      AWS_REGION: name,
      AWS_ACCESS_KEY_ID: "lab",
      AWS_SECRET_ACCESS_KEY: "lab",
      AWS_ENDPOINT_URL_DYNAMODB: r.endpoint.url,
      AWS_ENDPOINT_URL_SSM: r.endpoint.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: r.endpoint.url,
      AWS_EC2_METADATA_DISABLED: "true",
      [PAYMENTS_ENV.parameterPrefix]: LAB.parameterPrefix,
      [PAYMENTS_ENV.controlTable]: LAB.tables.control,
      [PAYMENTS_ENV.sessionsTable]: LAB.tables.sessions,
      [PAYMENTS_ENV.idempotencyTable]: LAB.tables.idempotency,
      [PAYMENTS_ENV.eventBusName]: `payments-${LAB.suffix}`,
      // The flag cache scales with the lab clock, so it keeps its relation to WaitForFence.
      [PAYMENTS_ENV.activeRegionCacheMs]: String(Math.floor(this.clock.real(t.flagCacheMs))),
      [PAYMENTS_ENV.parameterCacheSeconds]: String(
        Math.max(1, Math.round(this.clock.real(60_000) / 1000)),
      ),
      [PAYMENTS_LOCAL_ENV.databaseUrl]: `postgres://postgres@127.0.0.1:${r.appLink.port}/${LAB.database}`,
      // One process plays every execution environment of the region's functions at once. Lambda
      // gives each concurrent request its own environment ("For each concurrent request, Lambda
      // provisions a separate instance of your execution environment",
      // https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html), each with its one
      // connection (DATABASE_POOL_MAX = 1). With the deployed pool of 1 here, every
      // concurrent request queued for the process's single connection and gave up after its 3 s
      // connect timeout: the target answered 503 to Verify after every switchover under load.
      // 16 is the most DATABASE_POOL_MAX accepts (functions/payments/shared/runtime.ts); the
      // lab's load (10 payments/s and their retries) rarely keeps more than a few busy at once.
      [PAYMENTS_ENV.databasePoolMax]: String(LAB_ENVIRONMENTS_PER_FUNCTION),
      // The fast factor: region-api.ts ends each invocation at its function's timeout, scaled
      // (lab/write-path.ts), as Lambda ends one at its timeout.
      LAB_FAST: String(this.config.fast),
      // The lab clock's origin: the handlers judge the peer lease in lab time (lab/lease-clock.ts).
      LAB_CLOCK_STARTED_AT: String(this.clock.startedAt),
      // The lease's term with its real-time floor (lab/write-path.ts labLeaseSeconds), lab ms.
      LAB_LEASE_MS: String(this.writeBounds.leaseSeconds * 1000),
      // The handlers' own budgets, scaled with --fast (lab/write-path.ts labHandlerBudgets): the
      // settle times above count these, so region-api.ts deploys them before loading a handler.
      LAB_HANDLER_BUDGETS: JSON.stringify(this.writeBounds.handlerBudgets),
      [PAYMENTS_ENV.databaseConnectJitterMs]: String(this.writeBounds.connectJitterMs),
      // What region-api.ts counts a function's concurrency against (the surge report).
      LAB_ENVIRONMENTS: String(LAB_ENVIRONMENTS_PER_FUNCTION),
      POWERTOOLS_SERVICE_NAME: "payments-lab",
      POWERTOOLS_LOG_LEVEL: "WARN",
      POWERTOOLS_DEV: "false",
      POWERTOOLS_METRICS_NAMESPACE: "PaymentsDR",
    };
    // The lab's folder on its command line: the reaper finds it there if the lab dies.
    const child = fork(join(__dirname, "region-api.ts"), [`--lab-root=${this.root}/`], {
      env,
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", log, log, "ipc"],
      detached: true,
    });
    this.cleanups.push(() => killGroup(child));
    child.on("message", (m: { leaseLapse?: LeaseLapse; handlerBudgets?: BudgetsInUse }) => {
      if (m?.leaseLapse) this.leaseLapses.push({ region: name, ...m.leaseLapse });
      if (m?.handlerBudgets) this.handlerBudgets.set(name, m.handlerBudgets);
    });
    child.on("message", (m: { timedOut?: { function: string; at: number; timeoutMs: number } }) => {
      if (!m?.timedOut) return;
      this.functionTimeouts.push({
        region: name,
        function: m.timedOut.function,
        at: this.clock.toLab(m.timedOut.at),
        timeoutMs: m.timedOut.timeoutMs,
      });
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `the ${name} API did not start within 60 s; see ${join(this.root, `${name}-api.log`)}`,
            ),
          ),
        60_000,
      );
      child.once("message", (m: { ready?: boolean; port?: number }) => {
        clearTimeout(timer);
        if (m.ready && m.port) resolve(m.port);
        else reject(new Error(`the ${name} API failed to start`));
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(
          new Error(
            `the ${name} API exited with ${code}; see ${join(this.root, `${name}-api.log`)}`,
          ),
        );
      });
    });
    r.api = { process: child, port };
  }

  /**
   * The function timeouts the lab enforced (real ms, the deployed ones over --fast, never below
   * the floor: lab/write-path.ts) and how many invocations ran into them, per region and function
   * (report.json): a run full of Lambda-timeout 500s must not read as a slow outage.
   */
  functionTimeoutReport(): Record<
    string,
    Record<string, { enforcedMs: number; deployedSeconds: number; timedOut: number }>
  > {
    return Object.fromEntries(
      [...this.regions.keys()].map((region) => [
        region,
        Object.fromEntries(
          PAYMENT_FUNCTIONS.filter((f) => f.route).map((f) => [
            f.source,
            {
              enforcedMs: labFunctionTimeoutMs(f.timeoutSeconds, this.config.fast),
              deployedSeconds: f.timeoutSeconds,
              timedOut: this.functionTimeouts.filter(
                (t) => t.region === region && t.function === f.source,
              ).length,
            },
          ]),
        ),
      ]),
    );
  }

  apiUrl(region: string): string | undefined {
    const r = this.region(region);
    return r.alive && r.api ? `http://127.0.0.1:${r.api.port}` : undefined;
  }

  /** A modelled timeout in real ms: scaled with the lab clock, never below what a local call needs. */
  scaled(labMs: number): number {
    return Math.max(250, Math.floor(this.clock.real(labMs)));
  }

  /** Calls from `from` into `to`'s services: fail like an unreachable endpoint when cut or down. */
  reach(from: string, to: string, profile: Profile): () => Promise<void> {
    return async () => {
      const target = this.region(to);
      const cut = from !== to && this.network.isPartitioned(from, to);
      if (target.alive && !cut) return;
      // The SDK's connection timeout, per attempt (functions/dr/shared/aws/clients.ts).
      const attempts = profile === "critical" ? 2 : 1;
      await new Promise((r) => setTimeout(r, attempts * this.scaled(1000)));
      throw new TransientError(`${to} is unreachable from ${from}: connect ETIMEDOUT`);
    };
  }

  private endpointFor(from: string, to: string): string {
    if (from === to) return this.region(to).endpoint.url;
    return `http://127.0.0.1:${this.awsLinks.get(`${from}>${to}`)!.port}`;
  }

  /** The DR task functions deployed in `executionRegion`: the real adapters where AWS speaks JSON. */
  deps(executionRegion: string): DrDeps {
    const cache = new Map<string, RegionPorts>();
    const log: Log = {
      info: () => undefined,
      warn: (message, extra) =>
        this.event("dr-warn", `${message} ${extra ? JSON.stringify(extra).slice(0, 200) : ""}`),
      error: () => undefined,
    };
    const ports = (region: string, profile: Profile): RegionPorts => {
      const key = `${region}/${profile}`;
      let p = cache.get(key);
      if (!p) {
        const base = clientSettings(region, profile);
        const settings = {
          ...base,
          // The profile's timeouts run on the lab clock, like every other modelled duration.
          // Never below what a local call needs on a loaded machine: the timeouts are enforced
          // (throwOnRequestTimeout), and a 250 ms floor turned a busy box into transient errors.
          requestHandler: enforcedTimeouts({
            connectionTimeout: Math.max(1000, this.scaled(base.requestHandler.connectionTimeout)),
            requestTimeout: Math.max(2000, this.scaled(base.requestHandler.requestTimeout)),
          }),
          endpoint: this.endpointFor(executionRegion, region),
          credentials: { accessKeyId: "lab", secretAccessKey: "lab" },
        };
        const reach = this.reach(executionRegion, region, profile);
        p = {
          region,
          database: new LabRds(this.aurora, region, reach),
          control: new DynamoControlTable(
            DynamoDBDocumentClient.from(new DynamoDBClient(settings), {
              marshallOptions: { removeUndefinedValues: true },
            }),
            LAB.tables.control,
          ),
          parameters: new SsmParameters(new SSMClient(settings)),
          metrics: new LabMetrics(this.metrics, region, reach),
          events: new EventBridgeEvents(new EventBridgeClient(settings), `payments-${LAB.suffix}`),
          notifier: new LabNotifier(this.pages, region, () => this.clock.nowMs(), reach),
          replica: this.replica(region, profile, http),
        };
        cache.set(key, p);
      }
      return p;
    };
    const http: HttpPort = {
      request: (method, url, options) => {
        const host = new URL(url).hostname;
        const region = [...this.regions.keys()].find((n) => host === `api-${n}.lab.test`);
        if (!region) return fetchHttp.request(method, url, options);
        const port =
          region === executionRegion
            ? this.region(region).api?.port
            : this.apiLinks.get(`${executionRegion}>${region}`)?.port;
        const local = new URL(url);
        const path = `${local.pathname}${local.search}`;
        // A region that is down or cut off does not answer: the caller waits out its own
        // timeout, a modelled duration (the prober's PROBE_TIMEOUT scaled with the lab clock).
        // A reachable one answers after a local round trip, which the lab does not model and
        // which a loaded box stretches past a scaled timeout (150 ms at --fast 20 for the probe):
        // every probe failed before any fault and the alarm rose on that, not on the fault.
        const reachable =
          this.region(region).alive &&
          (region === executionRegion || !this.network.isPartitioned(executionRegion, region));
        return fetchHttp.request(method, `http://127.0.0.1:${port ?? 9}${path}`, {
          ...options,
          timeoutMs: reachable
            ? Math.max(options.timeoutMs, LOCAL_CALL_FLOOR_MS)
            : options.timeoutMs,
        });
      },
    };
    return {
      topology: this.topology,
      settings: {
        ...DEFAULT_SETTINGS,
        // Modelled (scaled); the HTTP port gives a reachable local API at least LOCAL_CALL_FLOOR_MS.
        httpTimeoutMs: this.scaled(DEFAULT_SETTINGS.httpTimeoutMs),
        // A best-effort call into a reachable region is a local round trip through the lab's
        // process (scaled to 250 ms, CheckOldWriter's read of a reachable old region's flag timed
        // out on a loaded box and a failback never got its confirmation: OldWriterNotStopped); an
        // unreachable region's call fails sooner, at the modelled connect timeout of the cut link
        // or of reach().
        bestEffortTimeoutMs: Math.max(
          LOCAL_CALL_FLOOR_MS,
          this.scaled(DEFAULT_SETTINGS.bestEffortTimeoutMs),
        ),
        replicaTimeoutMs: this.scaled(DEFAULT_SETTINGS.replicaTimeoutMs),
        // The settle times of the lab's write path, as the synth derives the deployed ones: the
        // handlers' timeouts and flag reads run in real time, `fast` times longer in lab time.
        // The deployed 20 s settle at --fast 20 was 1 s of real time while a handler could still
        // commit for its whole unscaled, unenforced 10 s.
        fenceSettleSeconds: this.writeBounds.fenceSettleSeconds,
        leaseSettleSeconds: this.writeBounds.leaseSettleSeconds,
        // The guard the lab's Aurora model applies to the deployed primary (DR_DB_RPO_SECONDS).
        dbRpoSeconds: this.config.timings.rpoGuardSeconds,
      },
      ports,
      // Route 53's control plane is in us-east-1.
      dns: () => this.route53.port(this.reach(executionRegion, "us-east-1", "bestEffort")),
      http,
      reports: {
        // The region's report writer, invoked asynchronously: it validates what it is handed.
        submit: async (report) => {
          await this.reach(executionRegion, executionRegion, "critical")();
          this.runReports.push(validateReportInput(report));
          this.event(
            "report",
            `run report of ${report.runId} (${report.kind}) handed to the writer`,
          );
          return reportLocation(
            `payments-dr-reports-lab`,
            executionRegion,
            report.kind,
            report.runId,
            report.startedAt,
          );
        },
      },
      now: () => this.clock.now(),
      log,
      executionRegion,
    };
  }

  /**
   * The writer heartbeat `region`'s cluster holds, read by the real adapter through that region's
   * own /health. The database stamps beat_at with its (real) clock; the DR cores compare it with
   * lab time, so it is moved onto the lab clock here, at the port, like every commit timestamp
   * the checks read (identity at production timings).
   */
  private replica(region: string, profile: Profile, http: HttpPort): RegionPorts["replica"] {
    const inner = new HealthReplica(
      http,
      this.topology.regions[region]!.apiUrl,
      this.scaled(DEFAULT_SETTINGS.replicaTimeoutMs),
    );
    void profile;
    return {
      writerHeartbeat: async () => {
        const beat = await inner.writerHeartbeat();
        return (
          beat && { beatAt: new Date(this.clock.toLab(Date.parse(beat.beatAt))).toISOString() }
        );
      },
    };
  }

  /** The prober's real core, in `region`, one 60 s window after another (the schedule). */
  private async runProber(region: string): Promise<void> {
    const { probe } = await import("../functions/monitoring/prober/core");
    const deps = this.deps(region);
    const t = this.config.timings;
    const targets = [...this.regions.keys()]
      .filter((r) => r !== region)
      .map((r) => ({ region: r, url: `https://api-${r}.lab.test/health` }));
    const control = deps.ports(region, "critical").control;
    while (!this.proberAbort.signal.aborted) {
      try {
        const results = await probe(
          {
            targets,
            intervalMs: t.probeIntervalSeconds * 1000,
            // PROBE_TIMEOUT_MS, scaled with the lab clock (it must stay below the interval).
            timeoutMs: Math.max(200, Math.floor(this.clock.real(t.probeTimeoutMs))),
            windowMs: 60_000,
            heartbeatRegion: region,
            // The heartbeat watch CheckOldWriter's database proof needs (as the prober's handler
            // configures it from DB_RPO_SECONDS).
            heartbeatStaleAfterSeconds: staleAfterSeconds(
              t.rpoGuardSeconds,
              WRITER_HEARTBEAT.intervalSeconds,
            ),
          },
          {
            activeRegion: async () => (await control.getActiveRegion())?.activeRegion ?? null,
            http: deps.http,
            metrics: deps.ports(region, "critical").metrics,
            now: () => this.clock.now(),
            sleep: (ms) => this.clock.sleep(ms, this.proberAbort.signal),
            log: deps.log,
            replica: deps.ports(region, "critical").replica,
            control,
            // The peer lease (PEER_LEASE), renewed by the real core. Stamped on the lab clock,
            // as the Fence arms it and the payment handlers judge it (lab/lease-clock.ts): the
            // prober's, the DR tasks' and the functions' clocks agree, as they do in AWS.
            lease: {
              control: {
                getActiveRegion: () => control.getActiveRegion(),
                renewPeerLease: (activeRegion, token) =>
                  control.renewPeerLease(activeRegion, token, this.clock.now().toISOString()),
              },
            },
          },
        );
        for (const r of results)
          this.proberResults.push({
            at: Date.parse(r.at),
            region: r.region,
            healthy: r.healthy,
            detail: r.detail,
          });
      } catch (error) {
        this.event("prober", `prober invocation failed: ${(error as Error).message}`);
        await this.clock.sleep(1000, this.proberAbort.signal);
      }
    }
  }

  proberStop(): void {
    this.renewer.stoppedAt ??= this.clock.nowMs();
    this.proberAbort.abort();
    this.alarm.stop();
  }

  /** Region outage: its API, database and AWS endpoint die at once. */
  async killRegion(name: string): Promise<void> {
    const r = this.region(name);
    r.alive = false;
    if (r.api) killGroup(r.api.process);
    await Promise.all([r.node.kill(), r.endpoint.stop()]);
    for (const link of this.network.links) {
      if (link.to === name || link.from === name) link.cut();
    }
    this.event("fault", `${name} is down: API, database and AWS endpoint killed`);
  }

  partition(a: string, b: string): void {
    this.network.partition(a, b);
    this.renewer.partitionedAt ??= this.clock.nowMs();
    this.event("fault", `network partition between ${a} and ${b}`);
  }

  heal(a: string, b: string): void {
    this.network.heal(a, b);
    this.event("fault", `partition between ${a} and ${b} healed`);
  }

  /** Stops everything this lab started and removes its folder. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Keep cleaning.
      }
    }
    this.reaper.stop();
  }

  /** Keeps the data folder (for inspection) instead of deleting it. */
  keepFolder(): void {
    const index = this.cleanups.findIndex((c) => c.toString().includes("removeSoon"));
    if (index >= 0) this.cleanups.splice(index, 1);
    this.reaper.keepFolder();
  }
}

function killGroup(child: ChildProcess): void {
  if (child.exitCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}
