// EventBridge publishing of outbox events to the regional bus. The SDK package loads on first
// use (functions/common/lazy.ts): a write publishes only after its commit, a read never.
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type * as EventBridgeSdk from "@aws-sdk/client-eventbridge";
import { lazy, once } from "../../../common/lazy";
import { enforcedTimeouts } from "../../../common/sdk-timeouts";
import { EVENTS } from "../../../common/contract";
import type { Publisher } from "../ports";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
const sdk = once(() => require("@aws-sdk/client-eventbridge") as typeof EventBridgeSdk);

export function createEventBridgeClient(): EventBridgeClient {
  return lazy(
    () =>
      new (sdk().EventBridgeClient)({
        maxAttempts: 2,
        requestHandler: enforcedTimeouts({ connectionTimeout: 1_000, requestTimeout: 2_000 }),
      }),
  );
}

/** One PutEvents call; entries that come back with an ErrorCode are reported as failed. */
export function eventBridgePublisher(client: EventBridgeClient, eventBusName: string): Publisher {
  return async (events) => {
    const out = await client.send(
      new (sdk().PutEventsCommand)({
        Entries: events.map((e) => ({
          EventBusName: eventBusName,
          Source: EVENTS.paymentsSource,
          DetailType: e.type,
          Detail: e.detail,
          Time: e.createdAt,
        })),
      }),
    );
    // Result entries are in request order.
    return events.map((e, i) => {
      const entry = out.Entries?.[i];
      if (entry?.EventId && !entry.ErrorCode) return { eventId: e.eventId, ok: true };
      const error = entry?.ErrorCode
        ? `${entry.ErrorCode}: ${entry.ErrorMessage ?? ""}`.trim()
        : "no result entry";
      return { eventId: e.eventId, ok: false, error };
    });
  };
}
