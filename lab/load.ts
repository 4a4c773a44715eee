// The payment load: clients that authorize (and capture a share of) payments through
// api.<domain> as a well-behaved client does (Stripe's and Adyen's documented conventions,
// /work/notes/payments-api.md): one Idempotency-Key per payment, reused on every retry; retries
// on network errors, 5xx, 429 (Stripe: "Too many requests hit the API too quickly. We recommend an
// exponential backoff of your requests"; API Gateway's stage throttle answers it before any
// function runs, so the key was never used) and 409 idempotency_key_in_use (Stripe: the key is
// "currently being used" by a concurrent request) with exponential backoff and full jitter,
// honouring Retry-After; a DNS answer kept for its TTL (a client does not re-resolve because a
// request failed). Every attempt and every acknowledgement is recorded.
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { LabClock, Random } from "./world/clock";

/**
 * What a request did: the payment flow's authorize and capture, and with `routes: "all"` the
 * other served routes too (read, list, refund, void).
 */
export type Op = "authorize" | "capture" | "get" | "list" | "refund" | "void";

export interface Attempt {
  readonly key: string;
  readonly op: Op;
  /** Lab epoch ms the answer (or the client's timeout) came. */
  readonly at: number;
  /** Lab epoch ms the request was sent: when the client met the failure, for the RTO. */
  readonly sentAt: number;
  readonly region: string;
  readonly status: number;
  readonly code?: string;
  readonly ms: number;
}

export interface Ack {
  readonly key: string;
  readonly op: Op;
  readonly paymentId: string;
  readonly merchantId: string;
  readonly amount: number;
  readonly currency: string;
  readonly region: string;
  /** Lab epoch ms of the acknowledgement. */
  readonly at: number;
  readonly attempts: number;
  readonly status: number;
}

export interface LoadOptions {
  readonly clock: LabClock;
  readonly random: Random;
  readonly rate: number;
  readonly captureShare: number;
  /** Each merchant's API key (a key acts for the merchant it is bound to). */
  readonly apiKeys: Readonly<Record<string, string>>;
  /** Route 53's answer for api.<domain>. */
  readonly resolve: () => string;
  readonly dnsTtlMs: number;
  /** Base URL of a region's API as clients reach it. */
  readonly apiUrl: (region: string) => string | undefined;
  readonly backoffMs: readonly [number, number];
  readonly deadlineMs: number;
  /** DNS caches: clients that each resolve api.<domain> on their own. @default 8 */
  readonly clients?: number;
  /**
   * Payments worked on at once; a new one waits in the clients' queue until one ends (a
   * merchant's bounded worker pool, an HTTP client's socket limit: the AWS SDK for JavaScript v3
   * opens at most 50 sockets per host by default, "Configuring maxSockets in Node.js",
   * https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/node-configuring-maxsockets.html).
   * Unbounded, a production-timing outage piled up ~1 800 payments retrying at once on the
   * lab's one process, which also serves the emulated DynamoDB, and starved it. A payment that
   * waited past the deadline is never sent (`unsent`); one sent gets its own deadline from then.
   * @default unbounded
   */
  readonly maxInFlight?: number;
  /**
   * Which routes a payment's flow calls: "payments" authorizes and captures a share; "all" also
   * reads the payment, voids what it does not capture, refunds half of what it captures and
   * lists the merchant's payments, so every served function meets the load (the surge's stress
   * run, which fills every function's environments).
   * @default "payments"
   */
  readonly routes?: "payments" | "all";
}

/** The clients' state at one instant (the surge report's queueing). */
export interface LoadSample {
  /** Payments being worked on (a request out, or a retry's backoff). */
  readonly payments: number;
  /** Requests sent and not yet answered. */
  readonly requests: number;
  /** Payments waiting in the clients' own queue for a free slot. */
  readonly queued: number;
}

export class LoadGenerator {
  readonly attempts: Attempt[] = [];
  readonly acks: Ack[] = [];
  readonly abandoned: { key: string; op: string; since: number }[] = [];
  /**
   * Payments the clients never sent: still queued when the load stopped, or queued past the
   * deadline (lab epoch ms each was created). The clients' backlog, not a failure of ours.
   */
  readonly unsent: number[] = [];
  readonly unexpected: Attempt[] = [];
  private timer?: NodeJS.Timeout;
  private readonly inflight = new Set<Promise<void>>();
  private readonly dns: { region: string; until: number }[];
  private next = 0;
  private stopping = false;
  private readonly queue: { client: number; at: number }[] = [];
  private requestsOut = 0;
  private readonly abort = new AbortController();

  constructor(private readonly options: LoadOptions) {
    this.dns = Array.from({ length: options.clients ?? 8 }, () => ({ region: "", until: 0 }));
    // Every request in flight listens to the one stop signal.
    setMaxListeners(0, this.abort.signal);
  }

  start(): void {
    this.timer = setInterval(() => {
      const client = this.next++ % this.dns.length;
      this.queue.push({ client, at: this.options.clock.nowMs() });
      this.pump();
    }, 1000 / this.options.rate);
    // A scenario that fails before stop() (no steady state) must not keep the process alive.
    this.timer.unref();
  }

  sample(): LoadSample {
    return { payments: this.inflight.size, requests: this.requestsOut, queued: this.queue.length };
  }

  /** Starts queued payments while a slot is free; drops those that waited past the deadline. */
  private pump(): void {
    const limit = this.options.maxInFlight ?? Infinity;
    while (this.queue.length > 0 && this.inflight.size < limit && !this.stopping) {
      const { client, at } = this.queue.shift()!;
      if (this.options.clock.nowMs() - at > this.options.deadlineMs) {
        this.unsent.push(at);
        continue;
      }
      const flow = this.payment(client).catch(() => undefined);
      this.inflight.add(flow);
      void flow.finally(() => {
        this.inflight.delete(flow);
        this.pump();
      });
    }
  }

  /** No new payments; payments in flight finish (or give up) before it resolves. */
  async stop(drainLabMs: number): Promise<void> {
    clearInterval(this.timer);
    this.stopping = true;
    // Payments never started are not sent now: they are the clients' backlog, reported.
    for (const q of this.queue.splice(0)) this.unsent.push(q.at);
    const deadline = new Promise<void>((r) => setTimeout(r, this.options.clock.real(drainLabMs)));
    await Promise.race([Promise.allSettled([...this.inflight]), deadline]);
    this.abort.abort();
    await Promise.allSettled([...this.inflight]);
  }

  private region(client: number): string {
    const entry = this.dns[client]!;
    const now = this.options.clock.nowMs();
    if (now >= entry.until) {
      entry.region = this.options.resolve();
      entry.until = now + this.options.dnsTtlMs;
    }
    return entry.region;
  }

  private async payment(client: number): Promise<void> {
    const { random } = this.options;
    const key = randomUUID();
    const merchants = Object.keys(this.options.apiKeys);
    const merchantId = merchants[Math.floor(random.next() * merchants.length)]!;
    const amount = 100 + Math.floor(random.next() * 99_900);
    const currency = random.next() < 0.7 ? "USD" : "EUR";
    const body = { amount, currency, merchantId, cardToken: `tok_lab_${key.slice(0, 8)}` };
    const facts = () => ({ merchantId, amount, currency });
    const auth = await this.call(client, "authorize", key, "/payments", body, facts());
    if (!auth) return;
    const all = this.options.routes === "all";
    const id = auth.paymentId;
    if (all)
      await this.call(
        client,
        "get",
        `${key}-get`,
        `/payments/${id}`,
        undefined,
        { ...facts(), paymentId: id },
        "GET",
      );
    if (random.next() >= this.options.captureShare) {
      if (all)
        await this.call(
          client,
          "void",
          `${key}-void`,
          `/payments/${id}/void`,
          {},
          { ...facts(), paymentId: id },
        );
      return;
    }
    await this.options.clock.sleep(200 + random.next() * 800, this.abort.signal);
    const captured = await this.call(
      client,
      "capture",
      `${key}-capture`,
      `/payments/${id}/capture`,
      {},
      { ...facts(), paymentId: id },
    );
    if (!all || !captured) return;
    if (random.next() < 0.5)
      await this.call(
        client,
        "refund",
        `${key}-refund`,
        `/payments/${id}/refund`,
        { amount },
        { ...facts(), paymentId: id },
      );
    await this.call(
      client,
      "list",
      `${key}-list`,
      `/payments?limit=10`,
      undefined,
      { ...facts(), paymentId: id },
      "GET",
    );
  }

  private async call(
    client: number,
    op: Op,
    key: string,
    path: string,
    body: unknown,
    facts: { merchantId: string; amount: number; currency: string; paymentId?: string },
    method: "POST" | "GET" = "POST",
  ): Promise<Ack | undefined> {
    const { clock, random } = this.options;
    const started = clock.nowMs();
    let wait = this.options.backoffMs[0];
    for (let attempt = 1; ; attempt++) {
      if (this.abort.signal.aborted || clock.nowMs() - started > this.options.deadlineMs) {
        this.abandoned.push({ key, op, since: started });
        return undefined;
      }
      const region = this.region(client);
      const base = this.options.apiUrl(region);
      const t0 = Date.now();
      const sentAt = clock.nowMs();
      let status = 0;
      let code: string | undefined;
      let retryAfterMs: number | undefined;
      let parsed: Record<string, unknown> | undefined;
      // The request's own signal: its timeout, or the load's stop. Not AbortSignal.any, which
      // keeps every composite signal registered on the long-lived stop signal.
      const request = new AbortController();
      const timeout = setTimeout(
        () => request.abort(new DOMException("timeout", "TimeoutError")),
        10_000,
      );
      const onStop = () => request.abort(this.abort.signal.reason);
      this.abort.signal.addEventListener("abort", onStop, { once: true });
      this.requestsOut += 1;
      try {
        if (!base) throw new Error("no route");
        const response = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(method === "POST" ? { "content-type": "application/json" } : {}),
            "x-api-key": this.options.apiKeys[facts.merchantId]!,
            ...(method === "POST" ? { "Idempotency-Key": key } : {}),
          },
          body: method === "POST" ? JSON.stringify(body) : undefined,
          // A client's own request timeout; a timed-out request is retried with the same key.
          signal: request.signal,
        });
        status = response.status;
        const text = await response.text();
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
          code = typeof parsed.code === "string" ? parsed.code : undefined;
        } catch {
          parsed = undefined;
        }
        const ra = Number(response.headers.get("retry-after"));
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000;
      } catch (error) {
        // A request the load's own stop cut short is not the API's failure: "aborted".
        code = this.abort.signal.aborted
          ? "aborted"
          : (error as Error).name === "TimeoutError"
            ? "timeout"
            : "network";
      } finally {
        this.requestsOut -= 1;
        clearTimeout(timeout);
        this.abort.signal.removeEventListener("abort", onStop);
      }
      const record: Attempt = {
        key,
        op,
        at: clock.nowMs(),
        sentAt,
        region,
        status,
        code,
        ms: Date.now() - t0,
      };
      this.attempts.push(record);
      if (status >= 200 && status < 300 && parsed) {
        const paymentId = String(parsed.id ?? facts.paymentId ?? "");
        const ack: Ack = {
          key,
          op,
          paymentId,
          merchantId: facts.merchantId,
          amount: facts.amount,
          currency: facts.currency,
          region,
          at: clock.nowMs(),
          attempts: attempt,
          status,
        };
        this.acks.push(ack);
        return ack;
      }
      const retryable =
        status === 0 ||
        status >= 500 ||
        status === 429 ||
        (status === 409 && code === "idempotency_key_in_use");
      if (!retryable) {
        this.unexpected.push(record);
        return undefined;
      }
      if (this.stopping && clock.nowMs() - started > this.options.deadlineMs) continue;
      const backoff = random.next() * wait;
      wait = Math.min(wait * 2, this.options.backoffMs[1]);
      await clock.sleep(Math.max(backoff, retryAfterMs ?? 0), this.abort.signal);
    }
  }
}
