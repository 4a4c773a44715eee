// AWS at the SDK level: aws-sdk-client-mock with small in-memory fakes behind it, so the code
// under test runs its real calls (conditional writes evaluated as DynamoDB does) and tests
// assert the exact parameters it sent.
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { PutEventsCommandInput, PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { GetParametersCommandInput } from "@aws-sdk/client-ssm";
import type { Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { CONTROL, DR_SYNTHETIC_MERCHANT, PARAMETERS } from "../../../../functions/common/contract";
import { apiKeyEntry } from "../../../../functions/payments/shared/api-keys";

export const REGION = "us-east-1";
export const OTHER_REGION = "us-west-2";
/** The test API key, bound to merchant-1. */
export const API_KEY = "test-api-key-0123456789";
/** Bound to merchant-2. */
export const OTHER_API_KEY = "other-key-0123456789-abcdef";

/** The DR verification's key, bound to the synthetic merchant as Terraform binds it. */
export const DR_API_KEY = "dr-verify-key-0123456789abcdef0123";

/** The key store of the tests: merchant id -> its API key. */
export const MERCHANT_KEYS: Readonly<Record<string, string>> = {
  "merchant-1": API_KEY,
  "merchant-2": OTHER_API_KEY,
  [DR_SYNTHETIC_MERCHANT]: DR_API_KEY,
};

/** The api/keys parameter for MERCHANT_KEYS, as Terraform writes it (hashes only). */
export function apiKeysParameter(keys: Readonly<Record<string, string>> = MERCHANT_KEYS): string {
  return JSON.stringify(
    Object.entries(keys).map(([merchantId, key]) => apiKeyEntry(merchantId, key)),
  );
}

export const TEST_ENV = {
  AWS_REGION: REGION,
  PARAMETER_PREFIX: "/payments/test",
  CONTROL_TABLE: "payments-control-test",
  SESSIONS_TABLE: "payments-sessions-test",
  IDEMPOTENCY_TABLE: "payments-idempotency-test",
  EVENT_BUS_NAME: "payments-bus-use1-test",
  // Tests flip the flag between requests; the 5 s cache is tested on the guard itself.
  ACTIVE_REGION_CACHE_MS: "0",
  PARAMETER_CACHE_SECONDS: "60",
  // Most handler tests assert the events a write publishes right after commit; the default,
  // "relay" (events only from the outbox relay), has its own tests (outbox.test.ts).
  EVENT_PUBLICATION: "inline",
  POWERTOOLS_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "SILENT",
  POWERTOOLS_METRICS_DISABLED: "true",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
} as const;

/** Sets the environment a handler module reads at load; call before importing it. */
export function setHandlerEnvironment(databaseUrl: string | undefined): void {
  Object.assign(process.env, TEST_ENV);
  if (databaseUrl === undefined) delete process.env.DATABASE_URL;
  else process.env.DATABASE_URL = databaseUrl;
}

type Item = Record<string, AttributeValue>;

/**
 * Fakes of the DynamoDB tables (control, idempotency, sessions), SSM parameters and the event
 * bus, installed on the SDK clients of the whole test file.
 */
export class FakeAws {
  readonly dynamodb = mockClient(DynamoDBClient);
  readonly ssm = mockClient(SSMClient);
  readonly eventBridge = mockClient(EventBridgeClient);

  /** The active-region item; undefined = missing; an Error = GetItem fails. */
  flag:
    | {
        activeRegion: string;
        phase?: string;
        leaseRequired?: boolean;
        peerSeenAt?: string;
        promotingAt?: string;
      }
    | undefined
    | Error = { activeRegion: REGION };
  readonly parameters = new Map<string, string>([
    [`${TEST_ENV.PARAMETER_PREFIX}/${PARAMETERS.apiKeys}`, apiKeysParameter()],
  ]);
  readonly idempotencyItems = new Map<string, Item>();
  readonly sessionItems = new Map<string, Item>();
  readonly published: PutEventsRequestEntry[] = [];
  /**
   * DeleteItem on the idempotency table fails, as when the region dies right after a request
   * committed: whatever the request wrote to DynamoDB before stays, nothing it would clean up
   * afterwards is removed.
   */
  dropDeletes = false;

  constructor() {
    this.install();
  }

  /** Clears recorded calls and data, and puts the default behaviour back. */
  reset(): void {
    this.dynamodb.reset();
    this.ssm.reset();
    this.eventBridge.reset();
    this.flag = { activeRegion: REGION };
    this.idempotencyItems.clear();
    this.sessionItems.clear();
    this.published.length = 0;
    this.dropDeletes = false;
    this.install();
  }

  private install(): void {
    this.dynamodb.on(GetItemCommand).callsFake((input) => {
      if (input.TableName === TEST_ENV.CONTROL_TABLE) {
        if (this.flag instanceof Error) throw this.flag;
        if (input.Key?.[CONTROL.partitionKey]?.S !== CONTROL.activeRegionItem || !this.flag) {
          return {};
        }
        const item: Item = {
          [CONTROL.partitionKey]: { S: CONTROL.activeRegionItem },
          activeRegion: { S: this.flag.activeRegion },
          fencingToken: { N: "7" },
        };
        if (this.flag.phase) item.phase = { S: this.flag.phase };
        if (this.flag.leaseRequired !== undefined) {
          item.leaseRequired = { BOOL: this.flag.leaseRequired };
        }
        if (this.flag.peerSeenAt) item.peerSeenAt = { S: this.flag.peerSeenAt };
        if (this.flag.promotingAt) item.promotingAt = { S: this.flag.promotingAt };
        return { Item: item };
      }
      if (input.TableName === TEST_ENV.IDEMPOTENCY_TABLE) {
        return { Item: this.idempotencyItems.get(input.Key!.id!.S!) };
      }
      throw new Error(`unexpected GetItem on ${input.TableName}`);
    });
    this.dynamodb.on(PutItemCommand).callsFake((input) => {
      if (input.TableName !== TEST_ENV.IDEMPOTENCY_TABLE) {
        throw new Error(`unexpected PutItem on ${input.TableName}`);
      }
      const id = input.Item!.id!.S!;
      const existing = this.idempotencyItems.get(id);
      checkCondition(input, existing);
      this.idempotencyItems.set(id, { ...input.Item! });
      return {};
    });
    this.dynamodb.on(UpdateItemCommand).callsFake((input) => {
      const key = (Object.values(input.Key!)[0] as { S: string }).S;
      const table =
        input.TableName === TEST_ENV.IDEMPOTENCY_TABLE
          ? this.idempotencyItems
          : input.TableName === TEST_ENV.SESSIONS_TABLE
            ? this.sessionItems
            : undefined;
      if (!table) throw new Error(`unexpected UpdateItem on ${input.TableName}`);
      const item: Item = { ...(table.get(key) ?? { ...input.Key! }) };
      const names = input.ExpressionAttributeNames ?? {};
      const values = input.ExpressionAttributeValues ?? {};
      // Just enough of SET: `a = :v`, `#n = :v`, `a = if_not_exists(a, :v)`.
      for (const assignment of input.UpdateExpression!.replace(/^SET\s+/, "").split(/,\s*/)) {
        const [rawName, rawValue] = assignment.split(/\s*=\s*/) as [string, string];
        const name = names[rawName] ?? rawName;
        const ifNotExists = /^if_not_exists\(\s*[^,]+,\s*(:\w+)\s*\)$/.exec(rawValue);
        if (ifNotExists) item[name] ??= values[ifNotExists[1]!]!;
        else item[name] = values[rawValue]!;
      }
      table.set(key, item);
      return {};
    });
    this.dynamodb.on(DeleteItemCommand).callsFake((input) => {
      if (this.dropDeletes) throw new Error("connect ETIMEDOUT dynamodb.us-east-1.amazonaws.com");
      const id = input.Key!.id!.S!;
      checkCondition(input, this.idempotencyItems.get(id));
      this.idempotencyItems.delete(id);
      return {};
    });
    this.ssm.on(GetParametersCommand).callsFake((input: GetParametersCommandInput) => {
      const names = input.Names ?? [];
      return {
        Parameters: names
          .filter((n) => this.parameters.has(n))
          .map((n) => ({ Name: n, Value: this.parameters.get(n), Type: "SecureString" })),
        InvalidParameters: names.filter((n) => !this.parameters.has(n)),
      };
    });
    this.eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
      const entries = input.Entries ?? [];
      this.published.push(...entries);
      return {
        FailedEntryCount: 0,
        Entries: entries.map((_, i) => ({ EventId: `eb-${this.published.length + i}` })),
      };
    });
  }
}

interface Conditional {
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, AttributeValue>;
  readonly ReturnValuesOnConditionCheckFailure?: string;
}

/**
 * Evaluates the condition of a conditional write against the stored item, as DynamoDB does
 * ("Condition expressions", developerguide/Expressions.ConditionExpressions): just the grammar
 * the payment functions use, terms joined by one kind of AND/OR: attribute_exists(a),
 * attribute_not_exists(a), a = :v, a < :v, a > :v. A comparison with a missing attribute is
 * false. A failed condition throws ConditionalCheckFailedException, carrying the item when
 * ReturnValuesOnConditionCheckFailure is ALL_OLD (developerguide/WorkingWithItems).
 */
function checkCondition(input: Conditional, existing: Item | undefined): void {
  const expression = input.ConditionExpression;
  if (!expression) return;
  const names = input.ExpressionAttributeNames ?? {};
  const values = input.ExpressionAttributeValues ?? {};
  const name = (raw: string) => names[raw] ?? raw;
  const scalar = (v: AttributeValue | undefined) =>
    v === undefined ? undefined : v.N !== undefined ? Number(v.N) : v.S;
  const term = (text: string): boolean => {
    const fn = /^attribute_(not_)?exists\(\s*([#\w]+)\s*\)$/.exec(text);
    if (fn) return (existing?.[name(fn[2]!)] === undefined) === (fn[1] !== undefined);
    const cmp = /^([#\w]+)\s*(=|<|>)\s*(:\w+)$/.exec(text);
    if (!cmp) throw new Error(`fake DynamoDB cannot evaluate ${JSON.stringify(text)}`);
    const left = scalar(existing?.[name(cmp[1]!)]);
    const right = scalar(values[cmp[3]!]);
    if (left === undefined || right === undefined) return false;
    return cmp[2] === "=" ? left === right : cmp[2] === "<" ? left < right : left > right;
  };
  const or = expression.split(/\s+OR\s+/);
  const ok =
    or.length > 1
      ? or.map((t) => t.trim()).some(term)
      : expression
          .split(/\s+AND\s+/)
          .map((t) => t.trim())
          .every(term);
  if (!ok) {
    throw new ConditionalCheckFailedException({
      message: "The conditional request failed",
      $metadata: {},
      Item: input.ReturnValuesOnConditionCheckFailure === "ALL_OLD" ? existing : undefined,
    });
  }
}

export function lambdaContext(functionName = "payments-test"): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:${functionName}`,
    memoryLimitInMB: "1024",
    awsRequestId: "00000000-0000-4000-8000-000000000000",
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "test",
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
