// DynamoDB access of the payment functions: the fencing flag (control table), sessions and the
// in-flight idempotency locks (idempotency table). The SDK package loads on first use
// (functions/common/lazy.ts): /health and the read paths build this client at module scope but
// only some requests reach it.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type * as DynamoDbSdk from "@aws-sdk/client-dynamodb";
import { lazy } from "../../../common/lazy";
import { enforcedTimeouts } from "../../../common/sdk-timeouts";
import { CONTROL, IDEMPOTENCY, SESSIONS } from "../../../common/contract";
import { FLAG_READ } from "../fencing";
import type { ActiveRegionFlag, FlagReader } from "../fencing";
import type { LockStore } from "../idempotency";
import type { SessionTouch } from "../ports";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
const sdk = () => require("@aws-sdk/client-dynamodb") as typeof DynamoDbSdk;

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

/** The refusal of a conditional write, by name: the SDK class loads lazily (see above). */
function isConditionFailed(error: unknown): error is DynamoDbSdk.ConditionalCheckFailedException {
  return (error as Error | null)?.name === "ConditionalCheckFailedException";
}

/** Lock items stay this long after they lapse, for inspection, before TTL may remove them. */
export const LOCK_RETENTION_SECONDS = 60 * 60;

/**
 * In-flight idempotency locks on the idempotency table: `{ id, holder, lockExpiresAt (epoch ms),
 * region, expiration (TTL, epoch s) }`.
 *
 * - acquire: PutItem on condition that no item exists or its lock has lapsed. The holder is a
 *   random token per request: a refusal that returns our own holder is the SDK retrying a write
 *   that did succeed, and counts as acquired. A conditional write
 *   is evaluated "against the version of the item in the Region" only (V2globaltables_HowItWorks),
 *   which is all a lock needs: PostgreSQL's unique (merchant, key) decides across regions.
 *   ReturnValuesOnConditionCheckFailure=ALL_OLD returns the holder's item with the refusal, so
 *   no second read is needed to tell the caller when to retry.
 * - release: DeleteItem on condition that this holder still has it; someone who took over a
 *   lapsed lock keeps theirs.
 * - `lockExpiresAt` is compared, not the TTL attribute: TTL deletion is lazy (items can outlive
 *   their expiration for days), so it only cleans up.
 */
export function idempotencyLocks(
  client: DynamoDBClient,
  tableName: string,
  region: string,
): LockStore {
  return {
    async acquire(lockId, holder, expiresAt, now) {
      try {
        await client.send(
          new (sdk().PutItemCommand)({
            TableName: tableName,
            Item: {
              [IDEMPOTENCY.partitionKey]: { S: lockId },
              holder: { S: holder },
              lockExpiresAt: { N: String(expiresAt) },
              region: { S: region },
              [IDEMPOTENCY.ttlAttribute]: {
                N: String(Math.ceil(expiresAt / 1000) + LOCK_RETENTION_SECONDS),
              },
            },
            ConditionExpression: "attribute_not_exists(#id) OR #lockExpiresAt < :now",
            ExpressionAttributeNames: {
              "#id": IDEMPOTENCY.partitionKey,
              "#lockExpiresAt": "lockExpiresAt",
            },
            ExpressionAttributeValues: { ":now": { N: String(now) } },
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return { acquired: true };
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
        // Our own item: an earlier attempt of this very PutItem wrote it and its answer was lost
        // (request timeout), so the SDK's retry met the condition. The holder is a token drawn
        // per request, so a match can only be this request.
        if (error.Item?.holder?.S === holder) return { acquired: true };
        const heldUntil = Number(error.Item?.lockExpiresAt?.N);
        return { acquired: false, heldUntil: Number.isFinite(heldUntil) ? heldUntil : now };
      }
    },
    async release(lockId, holder) {
      try {
        await client.send(
          new (sdk().DeleteItemCommand)({
            TableName: tableName,
            Key: { [IDEMPOTENCY.partitionKey]: { S: lockId } },
            ConditionExpression: "#holder = :holder",
            ExpressionAttributeNames: { "#holder": "holder" },
            ExpressionAttributeValues: { ":holder": { S: holder } },
          }),
        );
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
      }
    },
  };
}
