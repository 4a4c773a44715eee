// The ledger global table in the region of the given client (its local replica).
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import { LEDGER } from "../../../common/contract";
import { awsErrorName, toPortError } from "../../../dr/shared/aws/errors";
import type { LedgerEntry } from "../model";
import type { LedgerStore } from "../ports";

/** The table attributes that are not part of the entry: the index key and the expiry. */
const STORAGE_ONLY = [LEDGER.indexPartitionKey, LEDGER.ttlAttribute] as const;

export function entryOf(item: Record<string, unknown>): LedgerEntry {
  const entry = { ...item };
  for (const key of STORAGE_ONLY) delete entry[key];
  return entry as unknown as LedgerEntry;
}

export class DynamoLedger implements LedgerStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
    /** Seconds a row is kept (its report's lifetime). */
    private readonly retentionSeconds: number,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.doc = DynamoDBDocumentClient.from(dynamodb, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  async put(entry: LedgerEntry, options: { readonly ifAbsent?: boolean } = {}): Promise<boolean> {
    const expiresAt = Math.floor(this.now().getTime() / 1000) + this.retentionSeconds;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...entry,
            [LEDGER.indexPartitionKey]: LEDGER.indexPartition,
            [LEDGER.ttlAttribute]: expiresAt,
          },
          ...(options.ifAbsent
            ? {
                ConditionExpression: "attribute_not_exists(#id)",
                ExpressionAttributeNames: { "#id": LEDGER.partitionKey },
              }
            : {}),
        }),
      );
      return true;
    } catch (error) {
      if (options.ifAbsent && awsErrorName(error) === "ConditionalCheckFailedException") {
        return false;
      }
      throw toPortError(`dynamodb:PutItem ${entry.id}`, error);
    }
  }

  async get(id: string): Promise<LedgerEntry | null> {
    try {
      const out = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: { [LEDGER.partitionKey]: id } }),
      );
      return out.Item ? entryOf(out.Item) : null;
    } catch (error) {
      throw toPortError(`dynamodb:GetItem ${id}`, error);
    }
  }

  async recent(limit: number): Promise<LedgerEntry[]> {
    return readRecent(this.doc, this.tableName, limit);
  }

  async createdAt(): Promise<Date> {
    try {
      const out = await this.dynamodb.send(new DescribeTableCommand({ TableName: this.tableName }));
      const created = out.Table?.CreationDateTime;
      if (!created) throw new Error(`${this.tableName} has no CreationDateTime`);
      return new Date(created);
    } catch (error) {
      throw toPortError(`dynamodb:DescribeTable ${this.tableName}`, error);
    }
  }
}

/** The newest `limit` rows through the `by-time` index, newest first, following pages. */
export async function readRecent(
  doc: DynamoDBDocumentClient,
  tableName: string,
  limit: number,
): Promise<LedgerEntry[]> {
  const entries: LedgerEntry[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    let out;
    try {
      out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: LEDGER.timeIndex,
          KeyConditionExpression: "#p = :p",
          ExpressionAttributeNames: { "#p": LEDGER.indexPartitionKey },
          ExpressionAttributeValues: { ":p": LEDGER.indexPartition },
          ScanIndexForward: false,
          Limit: Math.min(limit - entries.length, 100),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
    } catch (error) {
      throw toPortError(`dynamodb:Query ${tableName}/${LEDGER.timeIndex}`, error);
    }
    entries.push(...(out.Items ?? []).map(entryOf));
    start = out.LastEvaluatedKey as Record<string, unknown> | undefined;
  } while (start && entries.length < limit);
  return entries.slice(0, limit);
}
