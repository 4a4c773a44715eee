// The failover surge against a real PostgreSQL: every execution environment the connection
// budget admits connects to a fresh writer at the same moment. The writer is scaled down: 40
// max_connections instead of db.r5.large's 1600, of which 37 are open to an ordinary role (the
// payment functions' role is not a superuser, so PostgreSQL's superuser_reserved_connections, 3
// by default, are out of its reach, as on Aurora). The shared test server has more, so the
// ordinary slots are the app role's CONNECTION LIMIT, which PostgreSQL enforces with the same
// SQLSTATE 53300 (too_many_connections). The budget is computed by the code synth runs.
import { randomBytes } from "node:crypto";
import { checkConnectionBudget } from "../../../infra/lib/connection-budget";
import type { BudgetInput } from "../../../infra/lib/connection-budget";
import { Database } from "../../../functions/payments/shared/database";
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";

const MAX_CONNECTIONS = 40;
const ORDINARY_SLOTS = MAX_CONNECTIONS - 3;
const APP_ROLE = `payments_app_${randomBytes(4).toString("hex")}`;
const PASSWORD = "surge-test-password";

let db: TestDatabase;
let appUrl: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  await db.sql.query(
    `CREATE ROLE ${APP_ROLE} LOGIN PASSWORD '${PASSWORD}' CONNECTION LIMIT ${ORDINARY_SLOTS}`,
  );
  const url = new URL(db.url);
  url.username = APP_ROLE;
  url.password = PASSWORD;
  appUrl = url.toString();
});

afterAll(async () => {
  await db.sql.query(`DROP ROLE IF EXISTS ${APP_ROLE}`);
  await db.drop();
});

/** A writer like db.r5.large, scaled: the same formula, this server's max_connections. */
function budgetFor(perRegion: number): BudgetInput {
  return {
    instanceClass: "db.surge-test",
    measuredMaxConnections: MAX_CONNECTIONS,
    sharePercent: 80,
    accountConcurrency: 1000,
    regions: ["us-east-1", "us-west-2"],
    clients: ["us-east-1", "us-west-2"].map((region) => ({
      name: "authorize",
      region,
      reservedConcurrency: perRegion,
      writerConnections: 1,
      ownClusterConnections: 0,
    })),
  };
}

interface SurgeResult {
  readonly served: number;
  readonly refused: number;
  readonly otherErrors: unknown[];
  readonly peakConnections: number;
}

/**
 * `environments` Lambda environments (one Database, pool of one, each) start at once against the
 * new writer and each serves `requests` payments one after the other, each holding its
 * connection 5 to 30 ms (a short write transaction), while the server's connection count of the
 * app role is sampled.
 */
async function surge(environments: number, requests: number): Promise<SurgeResult> {
  const dbs = Array.from(
    { length: environments },
    () =>
      new Database({
        settings: async () => ({ kind: "url", connectionString: appUrl }),
        applicationName: `surge-${randomBytes(3).toString("hex")}`,
      }),
  );
  let served = 0;
  let refused = 0;
  const otherErrors: unknown[] = [];
  let peakConnections = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await db.sql.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1",
        [APP_ROLE],
      );
      peakConnections = Math.max(peakConnections, rows[0]!.n);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    await Promise.all(
      dbs.map(async (db) => {
        for (let i = 0; i < requests; i++) {
          try {
            await db.transaction((client) =>
              client.query("SELECT pg_sleep($1)", [(5 + Math.random() * 25) / 1000]),
            );
            served += 1;
          } catch (error) {
            if ((error as Error).name === "DatabaseUnavailableError") refused += 1;
            else otherErrors.push(error);
          }
        }
      }),
    );
  } finally {
    sampling = false;
    await sampler;
    await Promise.all(dbs.map((db) => db.end()));
  }
  return { served, refused, otherErrors, peakConnections };
}

describe("the failover surge on a fresh writer", () => {
  it("serves every environment the budget admits, all connecting at once, without a refusal", async () => {
    const [budget] = checkConnectionBudget(budgetFor(14));
    const environments = 2 * 14; // both regions' environments reach the one writer

    const result = await surge(environments, 5);

    expect(result.otherErrors).toEqual([]);
    expect(result.refused).toBe(0);
    expect(result.served).toBe(environments * 5);
    // One connection per environment, never more than the budget counted.
    expect(result.peakConnections).toBeLessThanOrEqual(budget!.demand);
    expect(result.peakConnections).toBeLessThanOrEqual(budget!.safe);
  });

  it("refuses connections past the writer's limit, as the documented 503: what the budget prevents", async () => {
    // Unbudgeted: 25 environments per region, 50 against 37 ordinary slots.
    expect(() => checkConnectionBudget(budgetFor(25))).toThrow(/connection budget exceeded/);

    const result = await surge(50, 2);

    // too_many_connections (53300) becomes DatabaseUnavailableError (503 with Retry-After),
    // never a 500; the server never admits more than its ordinary slots.
    expect(result.otherErrors).toEqual([]);
    expect(result.refused).toBeGreaterThan(0);
    expect(result.peakConnections).toBeLessThanOrEqual(ORDINARY_SLOTS);
  });
});
