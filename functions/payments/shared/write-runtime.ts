// What the write endpoints (authorize, capture, refund, void) add to the base runtime: the
// fencing guard and, with EVENT_PUBLICATION=inline, publication of outbox events after commit. Idempotency, the in-flight lock
// included, is PostgreSQL's alone (idempotency.ts, postgres-store.ts).
import { randomUUID } from "node:crypto";
import { controlFlagReader, createDynamoDbClient } from "./aws/dynamodb";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createEventBridgeClient, eventBridgePublisher } from "./aws/eventbridge";
import { EVENT_PUBLICATION_MODES, METRICS, PAYMENTS_ENV } from "../../common/contract";
import type { EventPublicationMode } from "../../common/contract";
import { MissingEnvironmentError, intEnv, requireEnv } from "../../common/env";
import { ActiveRegionGuard, MAX_ACTIVE_REGION_CACHE_MS } from "./fencing";
import type { FlagReader } from "./fencing";
import { jsonResponse } from "./http-api";
import { countMetric, logger, publishSingleMetric } from "./observability";
import { publishAfterCommit } from "./outbox";
import type { ApiAnswer, OutboxEvent } from "./ports";
import { apiHandler } from "./runtime";
import type { ApiHandler, ApiRequest, BaseRuntime } from "./runtime";
import type { WriteDeps } from "./write-core";
import { WriterCheckFailedError, WriterMismatchError } from "./errors";
import {
  readIdentity,
  writerIdentityCheck,
  writerIdentityMode,
  writerIdentityRequest,
} from "./writer-identity";

export { writerIdentityRequest };

/** The fencing guard from ACTIVE_REGION_CACHE_MS (default and maximum 5000 ms). */
export function guardFromEnvironment(
  read: FlagReader,
  region: string,
  env: NodeJS.ProcessEnv = process.env,
): ActiveRegionGuard {
  const cacheMs = intEnv(
    PAYMENTS_ENV.activeRegionCacheMs,
    MAX_ACTIVE_REGION_CACHE_MS,
    { min: 0, max: MAX_ACTIVE_REGION_CACHE_MS },
    env,
  );
  return new ActiveRegionGuard({ region, read, cacheMs });
}

/**
 * EVENT_PUBLICATION, "relay" when unset. Why the relay by default: a PutEvents after every
 * commit is a signed HTTPS call plus an UPDATE on the request path, the largest cost of a write
 * after the database itself (npm run bench:payments), while merchants are told events are
 * asynchronous and at least once anyway (README, Events). "inline" suits a deployment that
 * wants events within tens of milliseconds more than it wants the throughput.
 */
export function eventPublication(env: NodeJS.ProcessEnv = process.env): EventPublicationMode {
  const raw = env[PAYMENTS_ENV.eventPublication];
  if (raw === undefined || raw === "") return "relay";
  if (!(EVENT_PUBLICATION_MODES as readonly string[]).includes(raw)) {
    throw new MissingEnvironmentError(
      `environment variable ${PAYMENTS_ENV.eventPublication}=${JSON.stringify(raw)} must be one of ${EVENT_PUBLICATION_MODES.join(", ")}`,
    );
  }
  return raw as EventPublicationMode;
}

/** Best effort, right after commit: what fails stays in the outbox for the relay. */
function inlinePublisher(base: BaseRuntime, eventBusName: string) {
  const publish = eventBridgePublisher(createEventBridgeClient(), eventBusName);
  return async (events: readonly OutboxEvent[]) => {
    const published = await publishAfterCommit(events, {
      publish,
      outbox: base.store,
      onError: (error) => logger.warn("inline publish failed; the relay will retry", { error }),
    });
    countMetric("EventsPublishedInline", published);
  };
}

/**
 * Every write (and the outbox relay's reads and marks) confirms on its own connection that it
 * reaches this region's writer: the instance behind this region's own cluster endpoint
 * (writer-identity.ts; review 23b-10 M1, review 24-10l M1/M2). `base` must be built with
 * `ownClusterEndpoint: true`.
 */
export function installWriterCheck(
  base: BaseRuntime,
  guard: Pick<ActiveRegionGuard, "flag">,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const requested = writerIdentityRequest(env);
  const check = writerIdentityCheck({
    region: base.region,
    flag: () => guard.flag(),
    mode: async () => writerIdentityMode(await base.databaseSettings(), requested),
    ownCluster: () => base.ownClusterEndpoint.withClient((client) => readIdentity(client)),
  });
  base.database.useConnectionCheck(async (client) => {
    try {
      await check(client);
    } catch (error) {
      if (error instanceof WriterCheckFailedError) {
        logger.error("writer identity check failed: writes are refused until it runs", {
          reason: error.reason,
          error,
        });
        publishSingleMetric(METRICS.writerCheckFailed, 1, { Region: base.region });
        publishSingleMetric(METRICS.writerCheckFailed, 1, {
          Region: base.region,
          Reason: error.reason,
        });
      } else if (error instanceof WriterMismatchError) {
        logger.warn("connection refused: not this region's writer", { error });
        publishSingleMetric(METRICS.writerMismatch, 1, { Region: base.region });
      }
      throw error;
    }
  });
}

export interface WriteRuntime {
  readonly dynamodb: DynamoDBClient;
  readonly guard: ActiveRegionGuard;
  /** Dependencies of the write cores. */
  readonly deps: WriteDeps;
}

export function writeRuntime(
  base: BaseRuntime,
  env: NodeJS.ProcessEnv = process.env,
): WriteRuntime {
  const dynamodb = createDynamoDbClient();
  const guard = guardFromEnvironment(
    controlFlagReader(dynamodb, requireEnv(PAYMENTS_ENV.controlTable, env)),
    base.region,
    env,
  );
  installWriterCheck(base, guard, env);
  const afterCommit =
    eventPublication(env) === "inline"
      ? inlinePublisher(base, requireEnv(PAYMENTS_ENV.eventBusName, env))
      : // The outbox relay publishes what the write committed (outbox-relay/handler.ts).
        async () => undefined;
  return {
    dynamodb,
    guard,
    deps: {
      store: base.store,
      region: base.region,
      now: () => new Date(),
      newId: randomUUID,
      afterCommit,
    },
  };
}

export interface WriteEndpoint<C extends { idempotencyKey: string; requestHash: string }> {
  readonly parse: (request: ApiRequest) => C;
  readonly execute: (command: C) => Promise<ApiAnswer>;
  /** Metric counted on a first (not replayed) success. */
  readonly successMetric: string;
}

/**
 * API key -> parse (400/422, nothing written) -> fence (503 in the passive region, before any
 * write) -> core, which in one PostgreSQL transaction takes the key's in-flight lock (409 while
 * another attempt holds it), replays what PostgreSQL recorded under the key or writes the change
 * with its answer -> JSON answer.
 */
export function writeHandler<C extends { idempotencyKey: string; requestHash: string }>(
  base: BaseRuntime,
  write: WriteRuntime,
  endpoint: WriteEndpoint<C>,
): ApiHandler {
  return apiHandler(base, async (request) => {
    const command = endpoint.parse(request);
    await write.guard.assertActive({ merchantId: request.merchantId });
    const answer = await endpoint.execute(command);
    countMetric(answer.replayed ? "IdempotentReplays" : endpoint.successMetric);
    return jsonResponse(
      answer.statusCode,
      answer.body,
      answer.replayed ? { "idempotent-replayed": "true" } : {},
    );
  });
}
