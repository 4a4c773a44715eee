import fc from "fast-check";
import { testingApp } from "../../infra/lib/testing-app";
import { ConfigError, loadConfig } from "../../infra/config";
import {
  ConnectionBudgetError,
  checkConnectionBudget,
  maxConnections,
} from "../../infra/lib/connection-budget";
import type { BudgetInput, DatabaseClient } from "../../infra/lib/connection-budget";
import {
  PAYMENT_FUNCTIONS,
  paymentDatabaseClients,
  reservedConcurrencies,
} from "../../infra/constructs/payments-api";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CONNECT_JITTER_MARGIN_MS } from "../../functions/payments/shared/connect-jitter";
import { API_TIMEOUTS } from "../../functions/payments/shared/database";
import { stackName } from "../../infra/main";
import { PaymentsDrStack, connectionBudgetInput } from "../../infra/stacks/payments-dr-stack";
import { resourceList, synth } from "./helpers";

function budgetError(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    if (error instanceof ConnectionBudgetError || error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a connection budget error");
}

/** What synth checks, without building the rest of the stack (fast). */
function budgetsFor(env: Record<string, string>) {
  return checkConnectionBudget(connectionBudgetInput(loadConfig(env)));
}

function buildStack(env: Record<string, string>): PaymentsDrStack {
  const config = loadConfig(env);
  return new PaymentsDrStack(testingApp(), stackName(config), { config });
}

describe("max_connections of an instance class", () => {
  // AuroraPostgreSQL.Managing.html#AuroraPostgreSQL.Managing.MaxConnections: the table, not the
  // naive 16 GiB / 9531392 = 1802 (DBInstanceClassMemory is less than the nominal memory).
  it("takes AWS's documented table value", () => {
    expect(maxConnections("db.r5.large")).toBe(1600);
    expect(maxConnections("db.r6g.large")).toBe(1722);
    expect(maxConnections("db.r5.xlarge")).toBe(3300);
    expect(maxConnections("db.r5.24xlarge")).toBe(5000);
    expect(maxConnections("db.r8g.2xlarge")).toBe(5000);
  });

  it("rejects a class without a documented value unless its measured value is given", () => {
    expect(budgetError(() => maxConnections("db.r7g.large")).message).toMatch(
      /instance class db\.r7g\.large has no documented max_connections default: set DB_MAX_CONNECTIONS/,
    );
    expect(maxConnections("db.r7g.large", 1700)).toBe(1700);
  });

  it("rejects a measured value above the documented default of the deployed parameters", () => {
    expect(budgetError(() => maxConnections("db.r5.large", 3000)).message).toBe(
      "DB_MAX_CONNECTIONS=3000 is more than 1600, the documented max_connections default of db.r5.large: this stack deploys the default instance parameters",
    );
  });
});

describe("the connection budget at synth", () => {
  it("fits the default configuration in both regions, counting both regions' functions on each writer", () => {
    const budgets = budgetsFor({});

    expect(budgets.map((b) => b.writerRegion)).toEqual(["us-east-1", "us-west-2"]);
    for (const budget of budgets) {
      expect(budget.demand).toBeLessThanOrEqual(budget.safe);
      // The global writer endpoint: the old region's functions still reach the new writer.
      expect(new Set(budget.lines.map((l) => l.region))).toEqual(
        new Set(["us-east-1", "us-west-2"]),
      );
      expect(budget.lines.every((l) => l.reserved)).toBe(true);
    }
    // Health also holds a pool on its own cluster's reader endpoint, which is the writer when
    // that region's reader is gone, and one on its cluster endpoint (read while taking over):
    // counted on its own region's writer only.
    const health = (writer: string, region: string) =>
      budgets
        .find((b) => b.writerRegion === writer)!
        .lines.find((l) => l.name === "health" && l.region === region)!;
    expect(health("us-east-1", "us-east-1").connections).toBe(
      3 * health("us-east-1", "us-east-1").environments,
    );
    expect(health("us-east-1", "us-west-2").connections).toBe(
      health("us-east-1", "us-west-2").environments,
    );
  });

  it("fails synth when the reserved concurrency is too high for db.r5.large, naming the functions, the numbers and the fix", () => {
    const message = budgetError(() => buildStack({ PAYMENTS_RESERVED_CONCURRENCY: "120" })).message;

    // On the writer's region: 4 writers x 120 x 2 (the global writer endpoint and the own
    // cluster endpoint of the identity check) + 2 readers x 120, health 20 x 3, heartbeat reader
    // 3 x 2, relay 2 x 2, expiry 1 x 2, migrate 1; the other region: 6 x 120, health 20, 3, 2,
    // 1, 1: 2020 against floor((1600 - 3) x 0.8) = 1277.
    expect(message).toContain(
      "connection budget exceeded on the writer in us-east-1: worst case 2020 connections, 743 over the safe share 1277 (80% of max_connections 1600 of db.r5.large minus 3 for AWS automation)",
    );
    expect(message).toContain("authorize in us-east-1: 240 (120 reserved environments)");
    expect(message).toContain("lower PAYMENTS_RESERVED_CONCURRENCY");
    expect(message).toContain("choose a larger DB_INSTANCE_CLASS");
  });

  it("fits the same reservations on a larger class", () => {
    expect(() =>
      budgetsFor({ PAYMENTS_RESERVED_CONCURRENCY: "120", DB_INSTANCE_CLASS: "db.r5.xlarge" }),
    ).not.toThrow();
  });

  it("rejects unreserved API functions once the account quota could overrun the writer", () => {
    const message = budgetError(() =>
      buildStack({ PAYMENTS_RESERVED_CONCURRENCY: "unreserved" }),
    ).message;

    expect(message).toMatch(/^connection budget exceeded on the writer in us-east-1/);
    expect(message).toContain(
      "reserve concurrency for authorize+get-payment+list-payments+capture+refund+void in us-east-1",
    );
    // 1000 (the quota) minus the 27 reserved by health, the heartbeat reader, relay, expiry and
    // migrate.
    expect(message).toContain("973 unreserved environments");
  });

  it("accepts unreserved functions while the account quota itself keeps them in budget", () => {
    const budgets = budgetsFor({
      PAYMENTS_RESERVED_CONCURRENCY: "unreserved",
      LAMBDA_CONCURRENCY_LIMIT: "400",
    });

    const line = budgets[0]!.lines.find((l) => !l.reserved)!;
    expect(line.environments).toBe(400 - 27);
  });

  it("rejects reservations over what AWS lets an account reserve in a region", () => {
    const message = budgetError(() =>
      buildStack({ PAYMENTS_RESERVED_CONCURRENCY: "150", DB_INSTANCE_CLASS: "db.r5.2xlarge" }),
    ).message;

    // 6 x 150 + 20 + 3 + 2 + 1 + 1 = 927 > 1000 - 100.
    expect(message).toBe(
      "reserved concurrency of the database functions in us-east-1 adds up to 927, more than 900 (LAMBDA_CONCURRENCY_LIMIT 1000 minus the 100 AWS keeps unreserved): lower PAYMENTS_RESERVED_CONCURRENCY or PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION, or raise the account's quota and LAMBDA_CONCURRENCY_LIMIT",
    );
  });

  it("rejects a by-function reservation for a function that does not exist", () => {
    const error = budgetError(() =>
      buildStack({ PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION: "authorise=200" }),
    );

    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(
      /^PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION="authorise" is not allowed: function names among authorize, /,
    );
  });

  it("shapes reservations per function over the defaults", () => {
    const reserved = reservedConcurrencies(
      loadConfig({
        PAYMENTS_RESERVED_CONCURRENCY: "60",
        PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION: "authorize=300, list-payments=unreserved",
      }).payments,
    );

    expect(reserved).toMatchObject({
      authorize: 300,
      "list-payments": null,
      capture: 60,
      health: 20,
      "outbox-relay": 2,
      "expire-authorizations": 1,
      migrate: 1,
    });
  });

  it("deploys every payment function with its reservation and the pool size the budget counted", () => {
    const { json } = synth();
    const fns = resourceList(json, "aws_lambda_function").filter(
      (f) =>
        (f.vpc_config as unknown[] | undefined) && String(f.function_name).startsWith("payments-"),
    );
    const reserved = (component: string) =>
      fns
        .filter((f) => String(f.function_name).includes(`-${component}-`))
        .map((f) => f.reserved_concurrent_executions);

    expect(reserved("authorize")).toEqual([72, 72]);
    expect(reserved("health")).toEqual([20, 20]);
    expect(reserved("expire-authorizations")).toEqual([1, 1]);
    expect(reserved("restore-check")).toEqual([1]);
    for (const fn of fns.filter((f) => !String(f.function_name).includes("restore-check"))) {
      const { variables } = fn.environment as { variables: Record<string, string> };
      expect(variables.DATABASE_POOL_MAX).toBe("1");
    }
  });

  // Connect jitter (functions/payments/shared/connect-jitter.ts): each deployed function gets
  // what its timeout leaves after one connect, one statement and the margin, so a reconnection
  // spread over the jitter still answers within the function's timeout.
  it("deploys each payment function with a connect jitter its timeout can afford", () => {
    const { json } = synth();
    const fns = resourceList(json, "aws_lambda_function").filter(
      (f) =>
        (f.vpc_config as unknown[] | undefined) &&
        String(f.function_name).startsWith("payments-") &&
        !String(f.function_name).includes("restore-check"),
    );
    expect(fns.length).toBe(2 * PAYMENT_FUNCTIONS.length);
    const jitter = (f: (typeof fns)[number]) =>
      Number(
        (f.environment as { variables: Record<string, string> }).variables
          .DATABASE_CONNECT_JITTER_MS,
      );
    for (const f of fns) {
      const budget =
        jitter(f) + API_TIMEOUTS.connectMs + API_TIMEOUTS.statementMs + CONNECT_JITTER_MARGIN_MS;
      // Jitter never takes a budget the function does not have (/health has none: its 5 s
      // timeout is already below one connect plus one statement at their timeouts).
      if (jitter(f) > 0) {
        expect({ fn: f.function_name, fits: budget <= Number(f.timeout) * 1000 }).toEqual({
          fn: f.function_name,
          fits: true,
        });
      }
    }
    const of = (component: string) =>
      fns.filter((f) => String(f.function_name).includes(`-${component}-`)).map(jitter);
    // The write path spreads over the full second; /health (5 s) keeps its answer time.
    expect(of("authorize")).toEqual([1000, 1000]);
    expect(of("capture")).toEqual([1000, 1000]);
    expect(of("health")).toEqual([0, 0]);
  });

  it("checks the writer of each region: after a failover the secondary's own-cluster clients land on it", () => {
    const input: BudgetInput = {
      ...connectionBudgetInput(loadConfig({})),
      clients: [
        {
          name: "api",
          region: "us-east-1",
          reservedConcurrency: 600,
          writerConnections: 1,
          ownClusterConnections: 0,
        },
        {
          name: "api",
          region: "us-west-2",
          reservedConcurrency: 600,
          writerConnections: 1,
          ownClusterConnections: 0,
        },
        {
          name: "report",
          region: "us-west-2",
          reservedConcurrency: 100,
          writerConnections: 0,
          ownClusterConnections: 1,
        },
      ],
    };

    expect(budgetError(() => checkConnectionBudget(input)).message).toMatch(
      /^connection budget exceeded on the writer in us-west-2: worst case 1300 connections, 23 over the safe share 1277/,
    );
  });

  it("never passes a configuration whose reserved worst case exceeds the safe share (property)", () => {
    const client = (region: string) =>
      fc.record({
        name: fc.constantFrom("a", "b", "c"),
        region: fc.constant(region),
        reservedConcurrency: fc.integer({ min: 1, max: 400 }),
        writerConnections: fc.integer({ min: 0, max: 3 }),
        ownClusterConnections: fc.integer({ min: 0, max: 2 }),
      });
    fc.assert(
      fc.property(
        fc.array(client("us-east-1"), { maxLength: 4 }),
        fc.array(client("us-west-2"), { maxLength: 4 }),
        fc.constantFrom("db.r5.large", "db.r6g.large", "db.r5.xlarge"),
        fc.integer({ min: 50, max: 95 }),
        (east, west, instanceClass, sharePercent) => {
          const clients: DatabaseClient[] = [...east, ...west];
          const input: BudgetInput = {
            instanceClass,
            sharePercent,
            accountConcurrency: 100_000,
            regions: ["us-east-1", "us-west-2"],
            clients,
          };
          // Independent arithmetic: every environment of both regions holds its writer pools,
          // and those of the writer's own region also their own-cluster pools.
          const safe = Math.floor(((maxConnections(instanceClass) - 3) * sharePercent) / 100);
          const worst = Math.max(
            ...["us-east-1", "us-west-2"].map((writer) =>
              clients.reduce(
                (sum, c) =>
                  sum +
                  c.reservedConcurrency! *
                    (c.writerConnections + (c.region === writer ? c.ownClusterConnections : 0)),
                0,
              ),
            ),
          );
          let passed = true;
          try {
            checkConnectionBudget(input);
          } catch (error) {
            if (!(error instanceof ConnectionBudgetError)) throw error;
            passed = false;
          }
          return passed === worst <= safe;
        },
      ),
    );
  });
});

describe("the budget's pools and the handlers' pools", () => {
  // A pool a handler opens that the budget does not count makes the synth-time check a false
  // promise (session 24: the writers' identity check opened one on the own cluster endpoint, the
  // writer in its region, uncounted).
  it.each(PAYMENT_FUNCTIONS.map((f) => [f.source, f] as const))(
    "%s: the budget counts the own-cluster pools its handler asks baseRuntime for",
    (source, f) => {
      const handler = readFileSync(
        join(__dirname, "../../functions/payments", source, "handler.ts"),
        "utf8",
      );
      expect({
        ownCluster: /\bownCluster:\s*true\b/.test(handler),
        ownClusterEndpoint: /\bownClusterEndpoint:\s*true\b/.test(handler),
      }).toEqual({
        ownCluster: f.ownCluster === true,
        ownClusterEndpoint: f.ownClusterEndpoint === true,
      });
    },
  );

  it("counts one connection per environment for each pool on the writer's region", () => {
    const config = loadConfig({});
    const clients = paymentDatabaseClients(config.payments, "us-east-1");
    const authorize = clients.find((c) => c.name === "authorize")!;
    const health = clients.find((c) => c.name === "health")!;
    expect(authorize.writerConnections + authorize.ownClusterConnections).toBe(2);
    expect(health.writerConnections + health.ownClusterConnections).toBe(3);
  });
});
