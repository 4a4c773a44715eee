// A merchant's calls to one region's payment API in a running lab, and the lab's replica of the
// active-region flag, for the lab's tests of the region API (region-api, handler-budgets).
import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { CONTROL } from "../../../functions/common/contract";
import { LAB } from "../../../lab/lab";
import type { Lab } from "../../../lab/lab";
import { until } from "./wait";

export interface Answer {
  readonly status: number;
  readonly body: unknown;
  /** Real ms from the request to the whole answer. */
  readonly ms: number;
}

/** The active-region flag as `region`'s replica of the control table holds it. */
export function flagIn(
  lab: Lab,
  region: string,
): Record<string, { S?: string; BOOL?: boolean; N?: string }> {
  const entry = lab.tables
    .table(region, LAB.tables.control)
    .items.get(JSON.stringify({ S: CONTROL.activeRegionItem }));
  return (entry?.item ?? {}) as Record<string, { S?: string; BOOL?: boolean; N?: string }>;
}

/** The prober's first renewal arms the peer lease in `region`'s replica (as deployed). */
export async function leaseArmedIn(lab: Lab, region: string): Promise<void> {
  await until(
    `the peer lease to be armed in ${region}'s replica`,
    () => flagIn(lab, region).leaseRequired?.BOOL === true && !!flagIn(lab, region).peerSeenAt?.S,
  );
}

/** POST /payments to `region`'s API as a merchant's client would. */
export function authorize(
  lab: Lab,
  region: string,
  idempotencyKey: string = randomUUID(),
): Promise<Answer> {
  const [merchantId] = Object.keys(LAB.apiKeys);
  return post(
    lab,
    region,
    "/payments",
    { amount: 1234, currency: "USD", merchantId, cardToken: "tok_lab_api" },
    idempotencyKey,
  );
}

/** POST `path` with `payload` to `region`'s API, with the lab merchant's key. */
export async function post(
  lab: Lab,
  region: string,
  path: string,
  payload: unknown,
  idempotencyKey: string = randomUUID(),
): Promise<Answer> {
  const [, key] = Object.entries(LAB.apiKeys)[0]!;
  const started = Date.now();
  const response = await fetch(`${lab.apiUrl(region)}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-api-key": key,
      "Idempotency-Key": idempotencyKey,
    },
    body: JSON.stringify(payload),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: kept as text.
  }
  return { status: response.status, body, ms: Date.now() - started };
}

/**
 * Runs `action` while another session of the primary's database holds a lock (`lockSql` inside
 * an open transaction), then rolls that transaction back: what a handler meets when its rows or
 * table are busy.
 */
export async function whileLocked<T>(
  lab: Lab,
  lockSql: string,
  params: readonly unknown[],
  action: () => Promise<T>,
): Promise<T> {
  const holder = new Client({ connectionString: lab.primary.node.url(LAB.database) });
  holder.on("error", () => undefined);
  await holder.connect();
  try {
    await holder.query("BEGIN");
    await holder.query(lockSql, [...params]);
    return await action();
  } finally {
    await holder.query("ROLLBACK").catch(() => undefined);
    await holder.end().catch(() => undefined);
  }
}
