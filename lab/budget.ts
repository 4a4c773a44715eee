// The lab's connection budget: the synth check's own numbers (infra/lib/connection-budget.ts,
// from the same configuration `npm run budget` reads), scaled to the environments the lab plays.
//
// How it scales: production reserves R environments for each payment API function
// (PAYMENTS_RESERVED_CONCURRENCY, 72 by default); the lab's API process plays E of each
// (LAB_ENVIRONMENTS_PER_FUNCTION, 16). The lab is an E:R model of one region's API, so its
// PostgreSQL gets the same fraction of the instance class's documented max_connections
// (db.r5.large: 1600 x 16/72 = 356, "Maximum connections to an Aurora PostgreSQL DB instance",
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Managing.html#AuroraPostgreSQL.Managing.MaxConnections),
// the same AWS-automation reserve and the same safe share (DB_CONNECTION_BUDGET_PERCENT).
// Every environment can be there at once: Lambda adds up to 1,000 environments per function
// every 10 seconds ("Lambda scaling behavior",
// https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html), far above a reservation
// of 72, so a surge meets the whole reservation within seconds; the lab's 16 are all warm. The lab's worst case is counted the way synth counts it, on what
// the lab really runs: every function its API serves at E environments, one connection each per
// pool (the lab's one pool of E per function is E environments of DATABASE_POOL_MAX = 1), the
// own-cluster pools synth counts too (health's two, the writers' identity-check reference, which
// the lab's plain PostgreSQL never opens: the lab's worst case is above what it can open). Only the surviving region's functions
// connect to the new writer after a region-down (the lab's APIs reach their own region's
// database), which is also what the writer sees in production once the old region is gone.
import { loadConfig } from "../infra/config";
import type { Config } from "../infra/config";
import { AWS_AUTOMATION_CONNECTIONS, writerBudgets } from "../infra/lib/connection-budget";
import type { BudgetLine, WriterBudget } from "../infra/lib/connection-budget";
import { paymentDatabaseClients } from "../infra/constructs/payments-api";
import { connectionBudgetInput } from "../infra/stacks/payments-dr-stack";

export interface LabBudget {
  readonly instanceClass: string;
  /** The synth check's budget with the lab's target region as the writer. */
  readonly production: WriterBudget;
  /** Environments the lab plays per function, and production's for the widest API function. */
  readonly scale: { readonly lab: number; readonly production: number };
  /** max_connections of the lab's PostgreSQL servers. */
  readonly maxConnections: number;
  /** Whether maxConnections was planted (--max-connections) instead of scaled. */
  readonly planted: boolean;
  readonly safe: number;
  /** The lab's worst case on the writer: every environment of every served function connected. */
  readonly demand: number;
  readonly lines: readonly BudgetLine[];
  readonly sharePercent: number;
}

export interface LabBudgetOptions {
  /** Environments the lab's API plays per function. */
  readonly environments: number;
  /** Which of the configuration's regions the lab's surge lands on (the budget's writer). */
  readonly writer: "primary" | "secondary";
  /** A planted max_connections (tests, --max-connections), instead of the scaled one. */
  readonly maxConnections?: number;
  /** Production configuration. @default loadConfig() (the environment, as `npm run budget`) */
  readonly config?: Config;
}

/** The lab's budget. Throws the synth check's own error when the configuration cannot synth. */
export function labBudget(options: LabBudgetOptions): LabBudget {
  const config = options.config ?? loadConfig();
  const input = connectionBudgetInput(config);
  // Production as synth counts it, with the target as the writer (the writer's own region's
  // reader pools count on it too).
  const prodRegion = config[options.writer].region;
  const production = writerBudgets(input).find((b) => b.writerRegion === prodRegion)!;
  const served = paymentDatabaseClients(config.payments, prodRegion).filter((c) =>
    ["authorize", "get-payment", "list-payments", "capture", "refund", "void", "health"].includes(
      c.name,
    ),
  );
  const widest = Math.max(
    ...production.lines
      .filter(
        (l) => l.region === prodRegion && served.some((c) => l.name.split("+").includes(c.name)),
      )
      .map((l) => l.environments),
  );
  const scaled = Math.max(
    AWS_AUTOMATION_CONNECTIONS + 1,
    Math.round((production.maxConnections * options.environments) / widest),
  );
  const maxConnections = options.maxConnections ?? scaled;
  const lab = writerBudgets({
    ...input,
    // The lab's server is not an instance class: its max_connections is given.
    instanceClass: "lab",
    measuredMaxConnections: maxConnections,
    regions: [prodRegion],
    accountConcurrency: Math.max(input.accountConcurrency, options.environments * served.length),
    clients: served.map((c) => ({ ...c, reservedConcurrency: options.environments })),
  })[0]!;
  return {
    instanceClass: config.database.instanceClass,
    production,
    scale: { lab: options.environments, production: widest },
    maxConnections,
    planted: options.maxConnections !== undefined,
    safe: lab.safe,
    demand: lab.demand,
    lines: lab.lines,
    sharePercent: input.sharePercent,
  };
}

/** One line for the timeline and the report: where the lab's max_connections comes from. */
export function describeBudget(b: LabBudget): string {
  const origin = b.planted
    ? `planted ${b.maxConnections}`
    : `${b.maxConnections} = ${b.production.maxConnections} (${b.instanceClass}) x ${b.scale.lab}/${b.scale.production} environments`;
  return `lab max_connections ${origin}; worst case ${b.demand} of ${b.safe} safe (${b.sharePercent}% after ${AWS_AUTOMATION_CONNECTIONS} for AWS automation); production writer ${b.production.demand} of ${b.production.safe}`;
}
