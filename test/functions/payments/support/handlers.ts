// The setup every payment API test file shared (lifecycle, recorded-refusals, merchant-
// isolation): its own migrated database, the handlers' environment pointing at it, the payment
// API's handlers loaded once that environment is set (they read it at module load, as in
// Lambda), the AWS SDK fakes reset before each test, and everything closed at the end.
import { closeAllDatabases } from "../../../../functions/payments/shared/database";
import type { ApiHandler } from "../../../../functions/payments/shared/runtime";
import { FakeAws, setHandlerEnvironment } from "./aws";
import { createTestDatabase } from "./database";
import type { TestDatabase } from "./database";

export type PaymentHandlerName = "authorize" | "get" | "capture" | "refund" | "void";

export interface PaymentHandlers {
  /** The SDK fakes; reset before each test. */
  readonly aws: FakeAws;
  /** Loaded in beforeAll, after the environment points at this file's database. */
  readonly handlers: Partial<Record<PaymentHandlerName, ApiHandler>>;
  /** This file's database (after beforeAll). */
  readonly db: TestDatabase;
}

/** Registers the hooks (call at the top level of a test file) and returns what they set up. */
export function paymentHandlers(): PaymentHandlers {
  const aws = new FakeAws();
  const handlers: Partial<Record<PaymentHandlerName, ApiHandler>> = {};
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    setHandlerEnvironment(db.url);
    handlers.authorize = (await import("../../../../functions/payments/authorize/handler")).handler;
    handlers.get = (await import("../../../../functions/payments/get-payment/handler")).handler;
    handlers.capture = (await import("../../../../functions/payments/capture/handler")).handler;
    handlers.refund = (await import("../../../../functions/payments/refund/handler")).handler;
    handlers.void = (await import("../../../../functions/payments/void/handler")).handler;
  });

  afterAll(async () => {
    await closeAllDatabases();
    await db?.drop();
  });

  beforeEach(() => aws.reset());

  return {
    aws,
    handlers,
    get db(): TestDatabase {
      if (!db) throw new Error("the test database exists only from beforeAll on");
      return db;
    },
  };
}
