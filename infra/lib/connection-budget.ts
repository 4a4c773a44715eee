// The connection budget of the writer, checked at synth: how many connections every function
// that talks to the database can hold at once, against what the writer accepts. Pure: numbers
// in, numbers (or a ConnectionBudgetError naming the functions and the figures) out.
//
// Why at synth: the writer's max_connections is the ceiling of a payment API on Lambda, and it
// bites hardest in a failover, when every execution environment of the new region (and, if it
// is still up, of the old one: both use the global writer endpoint) connects to a writer that
// was a reader seconds ago. A deploy that can exceed it is refused before anything is written.

/**
 * Aurora PostgreSQL's documented `max_connections` default per instance class ("Maximum
 * connections to an Aurora PostgreSQL DB instance",
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Managing.html#AuroraPostgreSQL.Managing.MaxConnections):
 * the default parameter group sets `LEAST({DBInstanceClassMemory/9531392},5000)`, and the page's
 * table gives the resulting value. DBInstanceClassMemory is less than the class's nominal memory
 * (16 GiB / 9531392 would be 1802 on db.r5.large; the table says 1600), so the table wins where
 * it has the class.
 */
export const DOCUMENTED_MAX_CONNECTIONS: Readonly<Record<string, number>> = {
  "db.r5.large": 1600,
  "db.r5.xlarge": 3300,
  "db.r6g.large": 1722,
  "db.r6g.xlarge": 3479,
  "db.x2g.large": 3479,
};

/** Sizes the documented table lists as 5000 ("2xlarge and larger"). */
const TABLE_5000 = /^db\.(r5|r6g)\.\d+xlarge$|^db\.x2g\.\d*xlarge$/;
/**
 * Memory-optimized classes of 64 GiB and more that the table omits: the formula caps them at 5000
 * too, since 5000 x 9531392 B is 47.7 GB, under three quarters of 64 GiB (db.r5.large keeps 89 %
 * of its nominal memory as DBInstanceClassMemory).
 */
const FORMULA_5000 = /^db\.(r6i|r7g|r7i|r8g)\.\d+xlarge$/;

/**
 * Connections AWS asks to leave for its own automation: "plus at least 3 more connections to
 * support AWS automation" (same page). They are taken off before the safe share.
 */
export const AWS_AUTOMATION_CONNECTIONS = 3;

/**
 * Concurrency AWS keeps unreserved in every region: "You can reserve up to the Unreserved account
 * concurrency value that is shown, minus 100 for functions that don't have reserved concurrency"
 * ("Configuring reserved concurrency for a function",
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
 */
export const UNRESERVED_MINIMUM = 100;

export class ConnectionBudgetError extends Error {
  override name = "ConnectionBudgetError";
}

/** `max_connections` of `instanceClass`; `measured` is what `SHOW max_connections` returned. */
export function maxConnections(instanceClass: string, measured?: number): number {
  const documented =
    DOCUMENTED_MAX_CONNECTIONS[instanceClass] ??
    (TABLE_5000.test(instanceClass) || FORMULA_5000.test(instanceClass) ? 5000 : undefined);
  if (documented === undefined) {
    if (measured !== undefined) return measured;
    const known = [...Object.keys(DOCUMENTED_MAX_CONNECTIONS), "db.r5/r6g/x2g 2xlarge and larger"];
    throw new ConnectionBudgetError(
      `instance class ${instanceClass} has no documented max_connections default: set DB_MAX_CONNECTIONS to what SHOW max_connections returns on it (documented: ${known.join(", ")}; db.r6i/r7g/r7i/r8g 2xlarge and larger)`,
    );
  }
  if (measured !== undefined && measured > documented) {
    throw new ConnectionBudgetError(
      `DB_MAX_CONNECTIONS=${measured} is more than ${documented}, the documented max_connections default of ${instanceClass}: this stack deploys the default instance parameters`,
    );
  }
  return measured ?? documented;
}

/** A function that holds database connections. */
export interface DatabaseClient {
  /** The function's component name, e.g. `authorize`. */
  readonly name: string;
  readonly region: string;
  /** Reserved concurrency, or null when unreserved. */
  readonly reservedConcurrency: number | null;
  /** Connections one environment holds to the global writer endpoint (the writer, wherever). */
  readonly writerConnections: number;
  /**
   * Connections one environment holds to its own region's reader endpoint. Counted on the writer
   * of that region too: with a single instance (or its reader down), the reader endpoint is the
   * writer.
   */
  readonly ownClusterConnections: number;
}

export interface BudgetInput {
  readonly instanceClass: string;
  /** What `SHOW max_connections` returned, for classes without a documented default. */
  readonly measuredMaxConnections?: number;
  /** Safe share of the writer's usable connections, percent. */
  readonly sharePercent: number;
  /** Lambda concurrency quota of the account in each region (AWS default: 1000). */
  readonly accountConcurrency: number;
  /** Regions whose cluster can be the writer. */
  readonly regions: readonly string[];
  readonly clients: readonly DatabaseClient[];
}

export interface BudgetLine {
  readonly name: string;
  readonly region: string;
  /** Environments at most: the reservation, or the region's unreserved concurrency. */
  readonly environments: number;
  readonly reserved: boolean;
  /** Connections these environments can hold on the writer at once. */
  readonly connections: number;
}

export interface WriterBudget {
  /** The region whose cluster is the writer (the primary, or the secondary after failover). */
  readonly writerRegion: string;
  readonly maxConnections: number;
  /** floor((max_connections - AWS automation) x share). */
  readonly safe: number;
  readonly demand: number;
  readonly lines: readonly BudgetLine[];
}

function unreservedConcurrency(input: BudgetInput, region: string): number {
  const reserved = input.clients
    .filter((c) => c.region === region && c.reservedConcurrency !== null)
    .reduce((sum, c) => sum + c.reservedConcurrency!, 0);
  return input.accountConcurrency - reserved;
}

/** The worst case on the writer in each region: every function at its concurrency at once. */
export function writerBudgets(input: BudgetInput): WriterBudget[] {
  if (!(input.sharePercent > 0 && input.sharePercent <= 100)) {
    throw new ConnectionBudgetError(`share must be 1 to 100 percent, got ${input.sharePercent}`);
  }
  const max = maxConnections(input.instanceClass, input.measuredMaxConnections);
  const safe = Math.floor(((max - AWS_AUTOMATION_CONNECTIONS) * input.sharePercent) / 100);
  return input.regions.map((writerRegion) => {
    const lines: BudgetLine[] = [];
    for (const region of input.regions) {
      const clients = input.clients.filter((c) => c.region === region);
      const perEnvironment = (c: DatabaseClient) =>
        c.writerConnections + (region === writerRegion ? c.ownClusterConnections : 0);
      for (const c of clients.filter((x) => x.reservedConcurrency !== null)) {
        const environments = c.reservedConcurrency!;
        lines.push({
          name: c.name,
          region,
          environments,
          reserved: true,
          connections: environments * perEnvironment(c),
        });
      }
      // Unreserved functions share what the reservations leave of the account's quota; at worst
      // it all goes to the hungriest of them.
      const unreserved = clients.filter((x) => x.reservedConcurrency === null);
      if (unreserved.length > 0) {
        const environments = Math.max(0, unreservedConcurrency(input, region));
        const widest = Math.max(...unreserved.map(perEnvironment));
        lines.push({
          name: unreserved.map((c) => c.name).join("+"),
          region,
          environments,
          reserved: false,
          connections: environments * widest,
        });
      }
    }
    const demand = lines.reduce((sum, l) => sum + l.connections, 0);
    return { writerRegion, maxConnections: max, safe, demand, lines };
  });
}

/**
 * The budgets, or a ConnectionBudgetError that says which functions, which numbers and what to
 * change. Also refuses reservations AWS itself would refuse (over the account quota minus 100).
 */
export function checkConnectionBudget(input: BudgetInput): WriterBudget[] {
  for (const region of input.regions) {
    const reserved = input.accountConcurrency - unreservedConcurrency(input, region);
    const allowed = input.accountConcurrency - UNRESERVED_MINIMUM;
    if (reserved > allowed) {
      throw new ConnectionBudgetError(
        `reserved concurrency of the database functions in ${region} adds up to ${reserved}, more than ${allowed} (LAMBDA_CONCURRENCY_LIMIT ${input.accountConcurrency} minus the ${UNRESERVED_MINIMUM} AWS keeps unreserved): lower PAYMENTS_RESERVED_CONCURRENCY or PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION, or raise the account's quota and LAMBDA_CONCURRENCY_LIMIT`,
      );
    }
  }
  const budgets = writerBudgets(input);
  for (const budget of budgets) {
    if (budget.demand <= budget.safe) continue;
    const byCost = [...budget.lines].sort((a, b) => b.connections - a.connections);
    const shown = byCost.slice(0, 6);
    const rest = byCost.slice(6);
    const detail = shown
      .map(
        (l) =>
          `${l.name} in ${l.region}: ${l.connections} (${l.environments} ${l.reserved ? "reserved" : "unreserved"} environments)`,
      )
      .join("; ")
      .concat(
        rest.length > 0
          ? `; ${rest.length} more: ${rest.reduce((sum, l) => sum + l.connections, 0)}`
          : "",
      );
    const unreserved = budget.lines.filter((l) => !l.reserved);
    const fix =
      unreserved.length > 0
        ? `reserve concurrency for ${unreserved.map((l) => `${l.name} in ${l.region}`).join(", ")} (unreserved, they can take the whole account quota), `
        : "";
    throw new ConnectionBudgetError(
      `connection budget exceeded on the writer in ${budget.writerRegion}: worst case ${budget.demand} connections, ${budget.demand - budget.safe} over the safe share ${budget.safe} (${input.sharePercent}% of max_connections ${budget.maxConnections} of ${input.instanceClass} minus ${AWS_AUTOMATION_CONNECTIONS} for AWS automation). ` +
        `Largest first: ${detail}. ` +
        `To fix: ${fix}lower PAYMENTS_RESERVED_CONCURRENCY or PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION (README, "Sizing the connection budget"), or choose a larger DB_INSTANCE_CLASS`,
    );
  }
  return budgets;
}

/** The budgets as a few lines of text (npm run budget, the README). */
export function formatBudgets(budgets: readonly WriterBudget[], instanceClass: string): string {
  const out: string[] = [];
  for (const b of budgets) {
    out.push(
      `writer in ${b.writerRegion} (${instanceClass}, max_connections ${b.maxConnections}): worst case ${b.demand} of ${b.safe} safe (${Math.round((100 * b.demand) / b.safe)}%)`,
    );
    for (const l of b.lines) {
      out.push(
        `  ${l.region} ${l.name.padEnd(24)} ${String(l.environments).padStart(5)} ${l.reserved ? "reserved  " : "unreserved"} ${String(l.connections).padStart(5)} connections`,
      );
    }
  }
  return out.join("\n");
}
