// GET /payments (issue 11): the key's merchant's payments, newest first, cursor pagination and
// filters, served by the index that exists for it. Stripe's list conventions
// (docs.stripe.com/api/pagination): limit 1-100 (default 10), starting_after / ending_before
// "mutually exclusive", "reverse chronological order", has_more.
import { randomUUID } from "node:crypto";
import "aws-sdk-client-mock-jest";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import { listStatement } from "../../../functions/payments/shared/postgres-store";
import type { ListQuery } from "../../../functions/payments/shared/ports";
import { FakeAws, OTHER_API_KEY, setHandlerEnvironment } from "./support/aws";
import { PaymentsClient } from "./support/client";
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";
import type { JsonResult } from "./support/http";

const aws = new FakeAws();
let db: TestDatabase;
const api = new PaymentsClient();

interface Listed {
  readonly id: string;
  readonly status: string;
  readonly reference: string | null;
  readonly createdAt: string;
}

/** merchant-1's payments, created in the arrangement below. */
const mine: Listed[] = [];
let theirs: string[] = [];
let tiedAt: Date;

beforeAll(async () => {
  db = await createTestDatabase();
  setHandlerEnvironment(db.url);
  await api.load();
  const authorize = async (apiKey?: string, reference?: string) => {
    const response = await api.authorize(
      { cardToken: "tok_visa_4242abcd", amount: 100, currency: "EUR", reference },
      { apiKey },
    );
    expect(response.status).toBe(201);
    return response.body as unknown as Listed;
  };
  // Ten payments in one millisecond (the clock stands still): only the id orders them.
  tiedAt = new Date(Date.now() - 3_600_000);
  jest.useFakeTimers({
    now: tiedAt,
    doNotFake: ["nextTick", "setImmediate", "setInterval", "setTimeout", "queueMicrotask"],
  });
  for (let i = 0; i < 10; i++) mine.push(await authorize(undefined, `tied-${i % 3}`));
  jest.useRealTimers();
  for (let i = 0; i < 13; i++) {
    const payment = await authorize(undefined, i % 4 === 0 ? "order-7" : undefined);
    if (i % 5 === 0) {
      const captured = await api.write("capture", payment.id);
      mine.push({ ...payment, status: captured.body.status as string });
    } else mine.push(payment);
  }
  theirs = await Promise.all([1, 2, 3].map(async () => (await authorize(OTHER_API_KEY)).id));
});

afterAll(async () => {
  await closeAllDatabases();
  await db.drop();
});

beforeEach(() => aws.reset());

/** Stripe's order: newest first, and the id when two were created in the same instant. */
function newestFirst(a: Listed, b: Listed): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : -1;
}

function ids(response: JsonResult): string[] {
  return (response.body.data as Listed[]).map((p) => p.id);
}

describe("GET /payments", () => {
  it("pages through every payment of the merchant exactly once, newest first, and back", async () => {
    const expected = [...mine].sort(newestFirst).map((p) => p.id);
    const pages: string[][] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await api.list({ limit: "7", ...(cursor ? { startingAfter: cursor } : {}) });
      expect(page.status).toBe(200);
      pages.push(ids(page));
      cursor = pages.at(-1)!.at(-1);
      if (!page.body.hasMore) break;
    }

    expect(pages.flat()).toEqual(expected);
    expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 2]);

    // Back from the last page with endingBefore: the same pages, still newest first within each.
    const back: string[][] = [];
    let before = pages.at(-1)![0]!;
    for (;;) {
      const page = await api.list({ limit: "7", endingBefore: before });
      back.unshift(ids(page));
      before = ids(page)[0]!;
      if (!page.body.hasMore) break;
    }
    expect(back).toEqual(pages.slice(0, -1));
  });

  it("returns 10 by default with the full payment objects", async () => {
    const page = await api.list();

    expect(page.body.data).toHaveLength(10);
    expect(page.body.hasMore).toBe(true);
    expect((page.body.data as Record<string, unknown>[])[0]).toEqual(
      (await api.get(ids(page)[0]!)).body,
    );
  });

  it.each<[string, Record<string, string>, (p: Listed) => boolean]>([
    ["status", { status: "captured" }, (p) => p.status === "captured"],
    ["reference", { reference: "order-7" }, (p) => p.reference === "order-7"],
    [
      "status and reference",
      { status: "authorized", reference: "tied-1" },
      (p) => p.status === "authorized" && p.reference === "tied-1",
    ],
  ])("filters by %s", async (_label, query, keep) => {
    const page = await api.list({ ...query, limit: "100" });

    expect(ids(page)).toEqual(
      mine
        .filter(keep)
        .sort(newestFirst)
        .map((p) => p.id),
    );
    expect(ids(page).length).toBeGreaterThan(0);
  });

  it("filters by a created range, inclusive and exclusive bounds as asked", async () => {
    const at = tiedAt.toISOString();

    const from = await api.list({ createdGte: at, createdLte: at, limit: "100" });
    const after = await api.list({ createdGt: at, limit: "100" });
    const before = await api.list({ createdLt: at, limit: "100" });

    expect(ids(from)).toHaveLength(10);
    expect(ids(after)).toHaveLength(13);
    expect(ids(before)).toEqual([]);
  });

  it("keeps a filter across pages", async () => {
    const first = await api.list({ reference: "order-7", limit: "2" });
    const second = await api.list({
      reference: "order-7",
      limit: "2",
      startingAfter: ids(first)[1]!,
    });

    expect([...ids(first), ...ids(second)]).toEqual(
      mine
        .filter((p) => p.reference === "order-7")
        .sort(newestFirst)
        .map((p) => p.id),
    );
    expect(second.body.hasMore).toBe(false);
  });

  it("never lists another merchant's payments, and refuses their id as a cursor like an unknown one", async () => {
    const all = await api.list({ limit: "100" });
    const foreign = await api.list({ startingAfter: theirs[0]! });
    // An unknown id with no digit run: a random UUID can hold one that looks like a card number,
    // which the error message then redacts (never echo a PAN), and the messages would differ.
    const unknown = await api.list({ startingAfter: "ffffffff-ffff-4fff-bfff-ffffffffffff" });
    const theirList = await api.list({ limit: "100" }, { apiKey: OTHER_API_KEY });

    expect(ids(all)).toHaveLength(mine.length);
    expect(ids(all).some((id) => theirs.includes(id))).toBe(false);
    expect(foreign.status).toBe(400);
    expect(foreign.body).toMatchObject({ code: "invalid_parameter", field: "startingAfter" });
    // Their id is a random UUID too: shown as it is, or redacted when it holds a card-like run.
    const refused = (unknown.body.message as string).replace(/"[^"]+"$/, "");
    expect([`${refused}"${theirs[0]}"`, `${refused}a card-like value (not shown)`]).toContain(
      foreign.body.message,
    );
    expect(new Set(ids(theirList))).toEqual(new Set(theirs));
  });

  it.each<[string, Record<string, string>, string, string]>([
    ["a limit of 0", { limit: "0" }, "invalid_parameter", "limit"],
    ["a limit of 101", { limit: "101" }, "invalid_parameter", "limit"],
    ["a limit that is not a number", { limit: "ten" }, "invalid_parameter", "limit"],
    ["a fractional limit", { limit: "1.5" }, "invalid_parameter", "limit"],
    ["an unknown status", { status: "settled" }, "invalid_parameter", "status"],
    [
      "a date without a zone",
      { createdGte: "2026-01-01T00:00:00" },
      "invalid_parameter",
      "createdGte",
    ],
    [
      "a date that does not exist",
      { createdLt: "2026-02-30T00:00:00Z" },
      "invalid_parameter",
      "createdLt",
    ],
    [
      "a cursor that is not a payment id",
      { startingAfter: "pay_123" },
      "invalid_parameter",
      "startingAfter",
    ],
    [
      "both cursors",
      { startingAfter: randomUUID(), endingBefore: randomUUID() },
      "parameters_exclusive",
      "endingBefore",
    ],
    ["an unknown parameter", { created: "2026-01-01" }, "unknown_parameter", "created"],
    [
      "a reference of 81 characters",
      { reference: "r".repeat(81) },
      "invalid_parameter",
      "reference",
    ],
  ])(
    "rejects %s with 400, naming the parameter and the value",
    async (_label, query, code, field) => {
      const response = await api.list(query);

      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ type: "invalid_request", code, field });
      const value = query[field];
      if (value !== undefined && code !== "unknown_parameter" && code !== "parameters_exclusive") {
        expect(response.body.message).toContain(JSON.stringify(value).slice(0, 30));
      }
    },
  );

  it("never echoes a card number sent as a query parameter name or value", async () => {
    const asName = await api.list({ "4111111111111111": "1" });
    const asValue = await api.list({ reference: "4111111111111111" });

    expect(asName.status).toBe(400);
    expect(asValue.status).toBe(400);
    expect(JSON.stringify([asName, asValue])).not.toContain("4111111111111111");
  });

  it("rejects a request without an API key with 401", async () => {
    const { apiEvent, json } = await import("./support/http");
    const { handler } = await import("../../../functions/payments/list-payments/handler");
    const { lambdaContext } = await import("./support/aws");

    const response = json(
      await handler(
        apiEvent({ method: "GET", path: "/payments", anonymous: true }),
        lambdaContext(),
      ),
    );

    expect(response.status).toBe(401);
  });
});

describe("the list query plan", () => {
  // A table the size where a plan matters: 20,000 payments of 100 merchants, statistics fresh.
  beforeAll(async () => {
    await db.sql.query(`
      INSERT INTO payments (id, merchant_id, card_token, amount_minor, currency, status,
                            origin_region, created_at, updated_at, reference, capture_before)
      SELECT gen_random_uuid(), 'bulk-' || (g % 100), 'tok_bulk_abcdef', 100, 'EUR', 'authorized',
             'us-east-1', now() - g * interval '1 second', now() - g * interval '1 second',
             'ref-' || (g % 5000), now() + interval '7 days'
      FROM generate_series(1, 20000) AS g`);
    // A rare status, as voids are: about 1 in 200.
    await db.sql.query(
      "UPDATE payments SET status = 'voided' WHERE merchant_id LIKE 'bulk-%' AND random() < 0.005",
    );
    await db.sql.query("ANALYZE payments");
  });

  interface PlanNode {
    readonly "Node Type": string;
    readonly "Relation Name"?: string;
    readonly "Index Name"?: string;
    readonly Plans?: PlanNode[];
  }

  /** Every node of the plan the store's query gets. */
  async function plan(
    query: Partial<ListQuery>,
    cursor?: { id: string; createdAt: Date },
  ): Promise<PlanNode[]> {
    const statement = listStatement(
      { merchantId: "bulk-7", limit: 10, created: {}, ...query },
      cursor,
    );
    const { rows } = await db.sql.query(
      `EXPLAIN (FORMAT JSON) ${statement.text}`,
      statement.values,
    );
    const nodes: PlanNode[] = [];
    const walk = (node: PlanNode) => {
      nodes.push(node);
      node.Plans?.forEach(walk);
    };
    walk(rows[0]["QUERY PLAN"][0].Plan);
    return nodes;
  }

  const indexes = (nodes: PlanNode[]) => nodes.map((n) => n["Index Name"]).filter(Boolean);
  const scansOfPayments = (nodes: PlanNode[]) =>
    nodes.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "payments");

  it("reads a merchant's newest payments through payments_merchant_created, never scanning the table", async () => {
    const nodes = await plan({});

    expect(indexes(nodes)).toContain("payments_merchant_created");
    expect(scansOfPayments(nodes)).toEqual([]);
  });

  it("pages from a cursor through the same index", async () => {
    const nodes = await plan(
      { startingAfter: randomUUID() },
      { id: randomUUID(), createdAt: new Date(Date.now() - 3_600_000) },
    );

    expect(indexes(nodes)).toContain("payments_merchant_created");
    expect(scansOfPayments(nodes)).toEqual([]);
  });

  it("finds a rare status through payments_merchant_status_created, not a walk of the history", async () => {
    const nodes = await plan({ status: "voided" });

    expect(indexes(nodes)).toContain("payments_merchant_status_created");
    expect(indexes(nodes)).not.toContain("payments_merchant_created");
    expect(scansOfPayments(nodes)).toEqual([]);
  });

  it("finds a reference through payments_merchant_reference", async () => {
    const nodes = await plan({ reference: "ref-7" });

    expect(indexes(nodes)).toContain("payments_merchant_reference");
    expect(scansOfPayments(nodes)).toEqual([]);
  });
});
