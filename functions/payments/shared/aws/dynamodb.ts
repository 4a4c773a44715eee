// DynamoDB access of the payment functions: the fencing flag (control table) and sessions. The
// in-flight idempotency lock moved to PostgreSQL in issue 15 (shared/idempotency.ts). The SDK package loads on first use
// (functions/common/lazy.ts): /health and the read paths build this client at module scope but
// only some requests reach it.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type * as DynamoDbSdk from "@aws-sdk/client-dynamodb";
import { lazy, once } from "../../../common/lazy";
import { enforcedTimeouts } from "../../../common/sdk-timeouts";
import { CONTROL, SESSIONS } from "../../../common/contract";
import { FLAG_READ } from "../fencing";
import type { ActiveRegionFlag, FlagReader } from "../fencing";
import type { SessionTouch } from "../ports";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
const sdk = once(() => require("@aws-sdk/client-dynamodb") as typeof DynamoDbSdk);

/** Short timeouts: every call sits on a request path. Built on first use. */
export function createDynamoDbClient(): DynamoDBClient {
  return lazy(
    () =>
      new (sdk().DynamoDBClient)({
        maxAttempts: FLAG_READ.maxAttempts,
        // Enforced: the fence settle time counts one flag read as at most this long.
        requestHandler: enforcedTimeouts({
          connectionTimeout: FLAG_READ.connectionTimeoutMs,
          requestTimeout: FLAG_READ.requestTimeoutMs,
        }),
      }),
  );
}

/** Reads the active-region item strongly consistently (GetItem, ConsistentRead). */
export function controlFlagReader(client: DynamoDBClient, tableName: string): FlagReader {
  return async () => {
    const { Item } = await client.send(
      new (sdk().GetItemCommand)({
        TableName: tableName,
        Key: { [CONTROL.partitionKey]: { S: CONTROL.activeRegionItem } },
        ConsistentRead: true,
      }),
    );
    if (!Item) return undefined;
    const activeRegion = Item.activeRegion?.S;
    if (!activeRegion) throw new Error("the active-region item has no activeRegion");
    const flag: ActiveRegionFlag = {
      activeRegion,
      fencingToken: Item.fencingToken?.N === undefined ? undefined : Number(Item.fencingToken.N),
      phase: Item.phase?.S,
      ...(Item.leaseRequired?.BOOL !== undefined ? { leaseRequired: Item.leaseRequired.BOOL } : {}),
      ...(Item.peerSeenAt?.S !== undefined ? { peerSeenAt: Item.peerSeenAt.S } : {}),
      ...(Item.promotingAt?.S !== undefined ? { promotingAt: Item.promotingAt.S } : {}),
    };
    return flag;
  };
}

/** How long a checkout session lives after its last authorization. */
export const SESSION_TTL_SECONDS = 24 * 60 * 60;

/**
 * Records the merchant and latest payment of a checkout session (UpdateItem): created on first
 * use, last-seen and expiry moved on every authorization. A session belongs to one merchant:
 * another merchant's id is refused by the condition.
 */
export function sessionRecorder(client: DynamoDBClient, tableName: string) {
  return async (touch: SessionTouch): Promise<void> => {
    const at = touch.at.toISOString();
    await client.send(
      new (sdk().UpdateItemCommand)({
        TableName: tableName,
        Key: { [SESSIONS.partitionKey]: { S: touch.sessionId } },
        UpdateExpression:
          "SET merchantId = :merchant, lastPaymentId = :payment, lastSeenAt = :at, " +
          "lastRegion = :region, createdAt = if_not_exists(createdAt, :at), #ttl = :expires",
        ConditionExpression: "attribute_not_exists(merchantId) OR merchantId = :merchant",
        ExpressionAttributeNames: { "#ttl": SESSIONS.ttlAttribute },
        ExpressionAttributeValues: {
          ":merchant": { S: touch.merchantId },
          ":payment": { S: touch.paymentId },
          ":at": { S: at },
          ":region": { S: touch.region },
          ":expires": {
            N: String(Math.floor(touch.at.getTime() / 1000) + SESSION_TTL_SECONDS),
          },
        },
      }),
    );
  };
}
