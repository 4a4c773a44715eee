// First idempotency layer: Powertools idempotency on the DynamoDB `idempotency` table. It
// answers retries without touching the database and turns concurrent duplicates away while the
// first one runs. It is not authoritative: the table replicates asynchronously between regions,
// so the PostgreSQL idempotency_keys table (written with the change) is the final guard, and
// when DynamoDB fails the request goes on to PostgreSQL alone.
import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import type * as PowertoolsDynamoDb from "@aws-lambda-powertools/idempotency/dynamodb";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Context } from "aws-lambda";
import { lazy } from "../../common/lazy";
import { IdempotencyKeyReusedError, RequestInProgressError } from "./errors";
import type { ApiAnswer } from "./ports";

/** Records outlive any sane client retry window; PostgreSQL keeps its copy for good. */
export const IDEMPOTENCY_RECORD_SECONDS = 24 * 60 * 60;

export interface IdempotentInput<C> {
  /** What the key is unique within, e.g. `<merchantId>#<Idempotency-Key>`. */
  readonly scope: string;
  readonly requestHash: string;
  readonly command: C;
}

export interface IdempotentWritesOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Stable across regions and renames, e.g. `payments.authorize`. */
  readonly keyPrefix: string;
  /** DynamoDB failed; the request continues on PostgreSQL alone. */
  readonly onDegraded: (error: unknown) => void;
}

export type IdempotentRunner<C> = (
  input: IdempotentInput<C>,
  context?: Context,
) => Promise<ApiAnswer>;

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, below */
const loadPersistenceLayer = () =>
  require("@aws-lambda-powertools/idempotency/dynamodb") as typeof PowertoolsDynamoDb;
/* eslint-enable @typescript-eslint/no-require-imports */

export function idempotentWrites<C>(
  run: (command: C) => Promise<ApiAnswer>,
  options: IdempotentWritesOptions,
): IdempotentRunner<C> {
  const config = new IdempotencyConfig({
    eventKeyJmesPath: "scope",
    payloadValidationJmesPath: "requestHash",
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: IDEMPOTENCY_RECORD_SECONDS,
    responseHook: (response) => ({ ...(response as object), replayed: true }),
  });
  // Built on the first request: the persistence layer's module loads the DynamoDB SDK, which
  // would otherwise cost every write function ~100 ms of cold init (npm run bench:cold-init).
  const persistenceStore = lazy(() => {
    const { DynamoDBPersistenceLayer } = loadPersistenceLayer();
    return new DynamoDBPersistenceLayer({
      tableName: options.tableName,
      awsSdkV3Client: options.client,
    });
  });
  const once = makeIdempotent((input: IdempotentInput<C>) => run(input.command), {
    persistenceStore,
    config,
    keyPrefix: options.keyPrefix,
  });

  return async (input, context) => {
    // The in-progress record expires with the invocation, so a crashed attempt frees the key.
    if (context) config.registerLambdaContext(context);
    try {
      return (await once(input)) as ApiAnswer;
    } catch (error) {
      switch ((error as Error).name) {
        case "IdempotencyValidationError":
          throw new IdempotencyKeyReusedError();
        case "IdempotencyAlreadyInProgressError":
        case "IdempotencyInconsistentStateError":
          throw new RequestInProgressError();
        case "IdempotencyPersistenceLayerError":
          // PostgreSQL still dedupes: running again at worst replays our own committed answer.
          options.onDegraded(error);
          return run(input.command);
        default:
          throw error;
      }
    }
  };
}
