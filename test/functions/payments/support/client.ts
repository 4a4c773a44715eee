// The payment API as a merchant calls it, over the real handlers: one object per test file.
import { randomUUID } from "node:crypto";
import type { ApiHandler } from "../../../../functions/payments/shared/runtime";
import { API_KEY, lambdaContext } from "./aws";
import { apiEvent, json } from "./http";
import type { JsonResult } from "./http";

export type Write = "capture" | "refund" | "void";

export interface CallOptions {
  /** Idempotency-Key. @default a fresh UUID */
  readonly key?: string;
  /** x-api-key. @default API_KEY (merchant-1) */
  readonly apiKey?: string;
}

export class PaymentsClient {
  private readonly handlers: Record<string, ApiHandler> = {};

  /** Imports the handlers: call after setHandlerEnvironment. */
  async load(): Promise<this> {
    const root = "../../../../functions/payments";
    this.handlers.authorize = (await import(`${root}/authorize/handler`)).handler;
    this.handlers.get = (await import(`${root}/get-payment/handler`)).handler;
    this.handlers.list = (await import(`${root}/list-payments/handler`)).handler;
    this.handlers.capture = (await import(`${root}/capture/handler`)).handler;
    this.handlers.refund = (await import(`${root}/refund/handler`)).handler;
    this.handlers.void = (await import(`${root}/void/handler`)).handler;
    return this;
  }

  async authorize(body: unknown, options: CallOptions = {}): Promise<JsonResult> {
    return json(
      await this.handlers.authorize!(
        apiEvent({
          path: "/payments",
          routeKey: "POST /payments",
          headers: {
            "x-api-key": options.apiKey ?? API_KEY,
            "idempotency-key": options.key ?? randomUUID(),
          },
          body,
        }),
        lambdaContext(),
      ),
    );
  }

  async write(
    operation: Write,
    id: string,
    body?: unknown,
    options: CallOptions = {},
  ): Promise<JsonResult> {
    return json(
      await this.handlers[operation]!(
        apiEvent({
          path: `/payments/${id}/${operation}`,
          routeKey: `POST /payments/{id}/${operation}`,
          pathParameters: { id },
          headers: {
            "x-api-key": options.apiKey ?? API_KEY,
            "idempotency-key": options.key ?? randomUUID(),
          },
          body,
        }),
        lambdaContext(),
      ),
    );
  }

  async get(id: string, options: CallOptions = {}): Promise<JsonResult> {
    return json(
      await this.handlers.get!(
        apiEvent({
          method: "GET",
          path: `/payments/${id}`,
          routeKey: "GET /payments/{id}",
          pathParameters: { id },
          headers: { "x-api-key": options.apiKey ?? API_KEY },
        }),
        lambdaContext(),
      ),
    );
  }

  async list(query: Record<string, string> = {}, options: CallOptions = {}): Promise<JsonResult> {
    return json(
      await this.handlers.list!(
        apiEvent({
          method: "GET",
          path: "/payments",
          routeKey: "GET /payments",
          query,
          headers: { "x-api-key": options.apiKey ?? API_KEY },
        }),
        lambdaContext(),
      ),
    );
  }
}

const REAL_TIMERS = [
  "nextTick",
  "setImmediate",
  "clearImmediate",
  "setInterval",
  "clearInterval",
  "setTimeout",
  "clearTimeout",
  "queueMicrotask",
  "hrtime",
  "performance",
] as const;

/**
 * Moves the clock the functions read (`new Date()` and `Date.now()`) to `at`, and lets it run on
 * from there; timers stay real, so the database client works. Undo with jest.useRealTimers().
 */
export function travelTo(at: Date): void {
  jest.useFakeTimers({ now: at, advanceTimers: true, doNotFake: [...REAL_TIMERS] });
}
