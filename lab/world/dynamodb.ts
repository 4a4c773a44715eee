// DynamoDB global tables (version 2019.11.21, MREC) as the lab models them: one replica of each
// table per region, read and written only in that region, replicated to the other region
// asynchronously with last-writer-wins per item.
// - "Item changes in an MREC global table replica are asynchronously replicated to all other
//   replicas, typically within a second or less." No SLA (V2globaltables_HowItWorks; Prescriptive
//   Guidance "Overview of global tables"): the delay of each item is drawn from a range.
// - Conflicts: "last writer wins", per item, by timestamp; "These conflicts aren't recorded".
// - Conditional writes and strongly consistent reads see the local replica only.
// - "The local Region accepts write operations even if the replica Region is offline ... The
//   local table continues to attempt replicating items to the remote table until each item
//   succeeds": pending items wait out a partition or an outage and then flow.
// Not modelled: transactions, TTL deletion, streams, capacity/throttling, ReplicationLatency.
import { applyUpdate, checkCondition, ValidationException } from "./dynamodb-expressions";
import type { AttributeValue, Item } from "./dynamodb-expressions";

export class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly status = 400,
  ) {
    super(message);
  }
}

interface Version {
  readonly item: Item | undefined;
  /** Replication timestamp (ms) of the write that produced this version. */
  readonly at: number;
}

export class Table {
  readonly items = new Map<string, Version>();
  constructor(
    readonly name: string,
    readonly keyAttribute: string,
  ) {}

  keyOf(key: Item): string {
    const value = key[this.keyAttribute];
    if (!value || Object.keys(key).length !== 1) {
      throw new ServiceError(
        "ValidationException",
        `The provided key element does not match the schema (key attribute ${this.keyAttribute})`,
      );
    }
    return JSON.stringify(value);
  }

  get(key: Item): Item | undefined {
    return this.items.get(this.keyOf(key))?.item;
  }
}

export interface Replication {
  /** Delay of one item's replication to the other region, ms (drawn per item). */
  readonly delayMs: () => number;
  /** Can the item go from `from` to `to` now (both regions up, not partitioned)? */
  readonly canDeliver: (from: string, to: string) => boolean;
  /** Told about every replicated write that landed (the lab's timeline). */
  readonly onApplied?: (table: string, from: string, to: string, key: string) => void;
}

interface Pending {
  readonly table: string;
  readonly key: string;
  readonly version: Version;
  readonly from: string;
  readonly to: string;
  due: number;
}

/** Every table in every region, and the replication between them. */
export class GlobalTables {
  private readonly regions = new Map<string, Map<string, Table>>();
  readonly pending: Pending[] = [];
  private timer?: NodeJS.Timeout;
  /** Test hook: replication that never happens (a planted fault). */
  dropReplication?: (table: string, key: string, to: string) => boolean;
  /** Monotonic tie-break, so two writes in one millisecond still order. */
  private clock = 0;

  constructor(
    regions: readonly string[],
    tables: Readonly<Record<string, string>>,
    private readonly replication: Replication,
  ) {
    for (const region of regions) {
      this.regions.set(
        region,
        new Map(Object.entries(tables).map(([name, key]) => [name, new Table(name, key)])),
      );
    }
    this.timer = setInterval(() => this.deliver(), 50);
    this.timer.unref();
  }

  table(region: string, name: string): Table {
    const table = this.regions.get(region)?.get(name);
    if (!table)
      throw new ServiceError(
        "ResourceNotFoundException",
        `Requested resource not found: Table: ${name} not found`,
      );
    return table;
  }

  private stamp(): number {
    this.clock = Math.max(this.clock + 0.001, Date.now());
    return this.clock;
  }

  /** A local write: stored now, queued for the other regions. */
  write(region: string, tableName: string, key: Item, item: Item | undefined): void {
    const table = this.table(region, tableName);
    const version = { item: item && structuredClone(item), at: this.stamp() };
    const k = table.keyOf(key);
    table.items.set(k, version);
    for (const to of this.regions.keys()) {
      if (to === region) continue;
      if (this.dropReplication?.(tableName, k, to)) continue;
      this.pending.push({
        table: tableName,
        key: k,
        version,
        from: region,
        to,
        due: Date.now() + this.replication.delayMs(),
      });
    }
  }

  private deliver(): void {
    const now = Date.now();
    for (let i = 0; i < this.pending.length;) {
      const p = this.pending[i]!;
      if (p.due > now) {
        i++;
        continue;
      }
      if (!this.replication.canDeliver(p.from, p.to)) {
        // Retried until it succeeds.
        p.due = now + 250;
        i++;
        continue;
      }
      const table = this.table(p.to, p.table);
      const current = table.items.get(p.key);
      // Last writer wins, by the timestamp of the write.
      if (!current || current.at < p.version.at) table.items.set(p.key, p.version);
      this.pending.splice(i, 1);
      this.replication.onApplied?.(p.table, p.from, p.to, p.key);
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}

type Request = Record<string, unknown>;

function context(request: Request) {
  return {
    names: (request.ExpressionAttributeNames ?? {}) as Record<string, string>,
    values: (request.ExpressionAttributeValues ?? {}) as Record<string, AttributeValue>,
  };
}

function conditionFailed(old: Item | undefined, request: Request): ServiceError {
  const extra =
    request.ReturnValuesOnConditionCheckFailure === "ALL_OLD" && old ? { Item: old } : {};
  return new ServiceError(
    "ConditionalCheckFailedException",
    "The conditional request failed",
    extra,
  );
}

function check(request: Request, old: Item | undefined): void {
  try {
    if (!checkCondition(request.ConditionExpression as string | undefined, old, context(request))) {
      throw conditionFailed(old, request);
    }
  } catch (error) {
    if (error instanceof ValidationException)
      throw new ServiceError("ValidationException", error.message);
    throw error;
  }
}

function keyFromItem(table: Table, item: Item): Item {
  const value = item[table.keyAttribute];
  if (!value) {
    throw new ServiceError(
      "ValidationException",
      `One of the required keys was not given a value: ${table.keyAttribute}`,
    );
  }
  return { [table.keyAttribute]: value };
}

/** The DynamoDB JSON API (awsJson1_0) of one region, for the operations the project calls. */
export function dynamoDbApi(tables: GlobalTables, region: string) {
  return (operation: string, request: Request): Record<string, unknown> => {
    const table = tables.table(region, String(request.TableName));
    switch (operation) {
      case "GetItem": {
        const item = table.get(request.Key as Item);
        return item ? { Item: item } : {};
      }
      case "PutItem": {
        const item = request.Item as Item;
        const key = keyFromItem(table, item);
        const old = table.get(key);
        check(request, old);
        tables.write(region, table.name, key, item);
        return request.ReturnValues === "ALL_OLD" && old ? { Attributes: old } : {};
      }
      case "UpdateItem": {
        const key = request.Key as Item;
        const old = table.get(key);
        check(request, old);
        let updated: Item;
        try {
          updated = applyUpdate(String(request.UpdateExpression ?? ""), old, key, context(request));
        } catch (error) {
          if (error instanceof ValidationException)
            throw new ServiceError("ValidationException", error.message);
          throw error;
        }
        tables.write(region, table.name, key, updated);
        return returnValues(String(request.ReturnValues ?? "NONE"), old, updated);
      }
      case "DeleteItem": {
        const key = request.Key as Item;
        const old = table.get(key);
        check(request, old);
        tables.write(region, table.name, key, undefined);
        return request.ReturnValues === "ALL_OLD" && old ? { Attributes: old } : {};
      }
      default:
        throw new ServiceError(
          "UnknownOperationException",
          `the lab's DynamoDB does not model ${operation}`,
        );
    }
  };
}

function returnValues(mode: string, old: Item | undefined, updated: Item): Record<string, unknown> {
  switch (mode) {
    case "ALL_NEW":
      return { Attributes: updated };
    case "ALL_OLD":
      return old ? { Attributes: old } : {};
    case "UPDATED_NEW":
    case "UPDATED_OLD": {
      // Attributes whose value changed (the documented behaviour is not precise on unchanged
      // ones: see /work/notes/aws-services.md §2); top level only.
      const source = mode === "UPDATED_NEW" ? updated : (old ?? {});
      const changed: Item = {};
      for (const name of new Set([...Object.keys(updated), ...Object.keys(old ?? {})])) {
        if (JSON.stringify(updated[name]) !== JSON.stringify(old?.[name]) && source[name]) {
          changed[name] = source[name]!;
        }
      }
      return { Attributes: changed };
    }
    default:
      return {};
  }
}
