// EventBridge: DR events on one region's bus.
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { DependencyError, TransientError } from "../errors";
import type { DrEvent, EventsPort } from "../ports";
import { toPortError } from "./errors";

export class EventBridgeEvents implements EventsPort {
  constructor(
    private readonly eventbridge: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async put(event: DrEvent): Promise<void> {
    let failed: { ErrorCode?: string; ErrorMessage?: string } | undefined;
    try {
      const out = await this.eventbridge.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: this.busName,
              Source: event.source,
              DetailType: event.detailType,
              Detail: JSON.stringify(event.detail),
            },
          ],
        }),
      );
      failed = (out.FailedEntryCount ?? 0) > 0 ? out.Entries?.[0] : undefined;
    } catch (error) {
      throw toPortError("events:PutEvents", error);
    }
    if (failed) {
      const message = `events:PutEvents rejected the entry: ${failed.ErrorCode}: ${failed.ErrorMessage}`;
      throw /Throttl|InternalFailure/.test(failed.ErrorCode ?? "")
        ? new TransientError(message)
        : new DependencyError(message);
    }
  }
}
