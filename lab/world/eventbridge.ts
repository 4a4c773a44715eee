// EventBridge in one region: PutEvents onto the region's bus, kept in order for the report
// (events per region, DR events). API: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
// Not modelled: rules, the cross-region replication rules, archives, DLQs (the lab counts what
// each region's bus received; delivery onward is the same code path on AWS and is not the
// subject of a failover drill).
import { randomUUID } from "node:crypto";
import { ServiceError } from "./dynamodb";

export interface BusEvent {
  readonly id: string;
  readonly at: number;
  readonly bus: string;
  readonly source: string;
  readonly detailType: string;
  readonly detail: unknown;
}

export class EventBus {
  readonly events: BusEvent[] = [];

  api(operation: string, request: Record<string, unknown>): Record<string, unknown> {
    if (operation !== "PutEvents") {
      throw new ServiceError(
        "UnknownOperationException",
        `the lab's EventBridge does not model ${operation}`,
      );
    }
    const entries = (request.Entries ?? []) as Record<string, unknown>[];
    if (entries.length < 1 || entries.length > 10) {
      throw new ServiceError(
        "ValidationException",
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10, got ${entries.length}`,
      );
    }
    const out = entries.map((e) => {
      const id = randomUUID();
      let detail: unknown;
      try {
        detail = JSON.parse(String(e.Detail));
      } catch {
        return { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." };
      }
      this.events.push({
        id,
        at: Date.now(),
        bus: String(e.EventBusName ?? "default"),
        source: String(e.Source),
        detailType: String(e.DetailType),
        detail,
      });
      return { EventId: id };
    });
    return { FailedEntryCount: out.filter((e) => "ErrorCode" in e).length, Entries: out };
  }
}
