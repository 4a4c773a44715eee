// What every payment function builds once per process, at module load: environment, SSM
// parameters, the database and the API adapter. Clients and caches live here so warm
// invocations reuse them.
import { CONNECT_JITTER_MAX_MS } from "./connect-jitter";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import { ApiKeyVerifier } from "./api-keys";
import { rdsIamTokens } from "./aws/rds-auth";
import type { TokenProviderFactory } from "./aws/rds-auth";
import { createSsmClient, ssmFetcher } from "./aws/ssm";
import {
  DATABASE_APP_USER,
  DATABASE_POOL_MAX,
  PARAMETERS,
  PAYMENTS_ENV,
  PAYMENTS_LOCAL_ENV,
} from "../../common/contract";
import { Database } from "./database";
import type { DatabaseSettings, Timeouts } from "./database";
import { intEnv, requireEnv } from "../../common/env";
import {
  ParametersUnavailableError,
  UnauthorizedError,
  WriterCheckFailedError,
  WriterMismatchError,
} from "./errors";
import { describeError, errorResponse, header, internalError } from "./http-api";
import type { HttpRequest, HttpResponse } from "./http-api";
import { countMetric, flushMetrics, logger } from "./observability";
import { ParameterCache } from "./parameters";
import { PostgresPaymentStore } from "./postgres-store";

/** What the migrate function reads: it alone connects as the master user. */
const MASTER_DATABASE_KEYS = [
  PARAMETERS.writerEndpoint,
  PARAMETERS.databaseName,
  PARAMETERS.username,
  PARAMETERS.password,
];
/** What the payment path reads: no master credential at all (IAM authentication instead). */
const APP_DATABASE_KEYS = [PARAMETERS.writerEndpoint, PARAMETERS.databaseName];

/**
 * Who connects. The payment functions, the expiry job and the outbox relay connect as the
 * application role (DATABASE_APP_USER: row privileges only, no DDL) with IAM database
 * authentication; the migrate function alone as the master user with its SSM password.
 *
 * Why IAM authentication rather than a second SecureString password: no long-lived application
 * secret exists to leak, rotate or keep in Terraform state; access is granted and revoked in IAM
 * (`rds-db:connect` on the exact dbuser ARN of each cluster), and CloudTrail/IAM, not a shared
 * secret, say which function may connect. Its costs fit this service: a token is signed locally
 * (no API call) for each new connection, and a Lambda instance opens one connection and keeps it
 * up to 5 minutes (maxLifetimeSeconds), far below the new-connection rate AWS advises for IAM
 * authentication (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.html);
 * TLS, which it requires, is already on for every Aurora connection.
 */
export type DatabaseAuth =
  | { readonly kind: "master" }
  | { readonly kind: "iam"; readonly user: string; readonly tokens: TokenProviderFactory };

/**
 * Connection settings from the parameters: `host` or `host:port` of the writer endpoint, or of
 * another endpoint parameter (this region's reader endpoint, for reads of its own cluster).
 */
export function auroraSettings(
  values: ReadonlyMap<string, string>,
  endpointKey: string = PARAMETERS.writerEndpoint,
  auth: DatabaseAuth = { kind: "master" },
): DatabaseSettings {
  const endpoint = values.get(endpointKey) ?? "";
  const match = /^([^:]+)(?::(\d+))?$/.exec(endpoint.trim());
  if (!match) {
    throw new ParametersUnavailableError(`${endpointKey} is not host[:port]`);
  }
  const host = match[1]!;
  const port = match[2] ? Number(match[2]) : 5432;
  const database = values.get(PARAMETERS.databaseName)!;
  if (auth.kind === "iam") {
    const user = auth.user;
    return {
      kind: "aurora",
      host,
      port,
      database,
      user,
      password: auth.tokens({ host, port, user }),
    };
  }
  return {
    kind: "aurora",
    host,
    port,
    database,
    user: values.get(PARAMETERS.username)!,
    password: values.get(PARAMETERS.password)!,
  };
}

export interface BaseRuntime {
  /** AWS_REGION: where this function runs. */
  readonly region: string;
  readonly parameters: ParameterCache;
  readonly databaseSettings: () => Promise<DatabaseSettings>;
  readonly database: Database;
  /**
   * This region's own cluster through its reader endpoint (with `ownCluster`): what it holds,
   * whichever region writes. Otherwise the same as `database`.
   */
  readonly ownCluster: Database;
  /**
   * This region's own cluster through its cluster endpoint (with `ownClusterEndpoint`): the
   * writer once promoted, read-only on a secondary ("You can still connect to the cluster
   * endpoint, but only for read queries", aurora-global-database-connecting). Otherwise the
   * same as `database`.
   */
  readonly ownClusterEndpoint: Database;
  readonly store: PostgresPaymentStore;
  readonly apiKeys: ApiKeyVerifier;
}

export interface BaseRuntimeOptions {
  /** Folder name of the function, for the connection's application_name. */
  readonly functionName: string;
  /** Load the api/keys parameter with the others (API functions). */
  readonly apiKeys: boolean;
  /** Also connect to this region's own cluster (db/reader-endpoint). @default false */
  readonly ownCluster?: boolean;
  /**
   * Connect and statement timeouts of the own-cluster pool (`ownCluster`).
   * @default API_TIMEOUTS
   */
  readonly ownClusterTimeouts?: Timeouts;
  /** Also connect to this region's own cluster endpoint (db/cluster-endpoint). @default false */
  readonly ownClusterEndpoint?: boolean;
  /**
   * Close idle connections to the own cluster endpoint after this long (ms). @default 60 s -
   * the writers pass 1 s: they read it only for the writer identity check's reference.
   */
  readonly ownClusterEndpointIdleMs?: number;
  /**
   * Connect as the master user (the migrate function only). @default false - the application
   * role, with IAM database authentication
   */
  readonly master?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export function baseRuntime(options: BaseRuntimeOptions): BaseRuntime {
  const env = options.env ?? process.env;
  const region = requireEnv("AWS_REGION", env);
  const prefix = requireEnv(PAYMENTS_ENV.parameterPrefix, env);
  const ttlSeconds = intEnv(PAYMENTS_ENV.parameterCacheSeconds, 60, { min: 0, max: 3600 }, env);
  const databaseUrl = env[PAYMENTS_LOCAL_ENV.databaseUrl] || undefined;
  const poolMax = intEnv(PAYMENTS_ENV.databasePoolMax, DATABASE_POOL_MAX, { min: 1, max: 16 }, env);
  const connectJitter = {
    capMs: intEnv(
      PAYMENTS_ENV.databaseConnectJitterMs,
      0,
      { min: 0, max: CONNECT_JITTER_MAX_MS },
      env,
    ),
  };

  const parameters = new ParameterCache({
    prefix,
    keys: [
      ...(databaseUrl ? [] : options.master ? MASTER_DATABASE_KEYS : APP_DATABASE_KEYS),
      ...(databaseUrl || !options.ownCluster ? [] : [PARAMETERS.readerEndpoint]),
      ...(databaseUrl || !options.ownClusterEndpoint ? [] : [PARAMETERS.clusterEndpoint]),
      ...(options.apiKeys ? [PARAMETERS.apiKeys] : []),
    ],
    fetch: ssmFetcher(createSsmClient()),
    ttlMs: ttlSeconds * 1000,
    onStale: (error) => logger.warn("SSM refresh failed; serving cached parameters", { error }),
  });
  const auth: DatabaseAuth = options.master
    ? { kind: "master" }
    : { kind: "iam", user: DATABASE_APP_USER, tokens: rdsIamTokens(region) };
  // The same object while the parameters are unchanged: the pool is rebuilt only on a change.
  const urlSettings: DatabaseSettings | undefined = databaseUrl
    ? { kind: "url", connectionString: databaseUrl }
    : undefined;
  let aurora: { from: ReadonlyMap<string, string>; settings: DatabaseSettings } | undefined;
  const databaseSettings = async (): Promise<DatabaseSettings> => {
    if (urlSettings) return urlSettings;
    const values = await parameters.get();
    if (aurora?.from !== values)
      aurora = { from: values, settings: auroraSettings(values, undefined, auth) };
    return aurora.settings;
  };
  const database = new Database({
    settings: databaseSettings,
    applicationName: `payments-${options.functionName}`,
    max: poolMax,
    connectJitter,
    onStaleSettings: () => parameters.invalidate(),
    onPoolReplaced: (host) => logger.info("database settings changed; new pool", { host }),
  });
  // This region's own cluster through one of its endpoints (same auth, same database name).
  const ownClusterUrl = env[PAYMENTS_LOCAL_ENV.ownClusterUrl] || undefined;
  const ownDatabase = (
    endpoint: string,
    suffix: string,
    tuning: { timeouts?: Timeouts; idleTimeoutMs?: number } = {},
  ): Database => {
    let own: { from: ReadonlyMap<string, string>; settings: DatabaseSettings } | undefined;
    const ownUrlSettings: DatabaseSettings | undefined =
      urlSettings && ownClusterUrl && endpoint === PARAMETERS.clusterEndpoint
        ? { kind: "url", connectionString: ownClusterUrl }
        : urlSettings;
    return new Database({
      settings: async () => {
        if (ownUrlSettings) return ownUrlSettings;
        const values = await parameters.get();
        if (own?.from !== values) {
          own = { from: values, settings: auroraSettings(values, endpoint, auth) };
        }
        return own.settings;
      },
      applicationName: `payments-${options.functionName}-${suffix}`,
      max: poolMax,
      ...(tuning.timeouts ? { timeouts: tuning.timeouts } : {}),
      idleTimeoutMs: tuning.idleTimeoutMs,
      connectJitter,
      onStaleSettings: () => parameters.invalidate(),
    });
  };
  const ownCluster = options.ownCluster
    ? ownDatabase(PARAMETERS.readerEndpoint, "own-cluster", {
        timeouts: options.ownClusterTimeouts,
      })
    : database;
  const ownClusterEndpoint = options.ownClusterEndpoint
    ? ownDatabase(PARAMETERS.clusterEndpoint, "own-writer", {
        idleTimeoutMs: options.ownClusterEndpointIdleMs,
      })
    : database;
  return {
    region,
    parameters,
    databaseSettings,
    database,
    ownCluster,
    ownClusterEndpoint,
    store: new PostgresPaymentStore(database),
    apiKeys: new ApiKeyVerifier(() => parameters.value(PARAMETERS.apiKeys)),
  };
}

export function fromApiGateway(event: APIGatewayProxyEventV2, context?: Context): HttpRequest {
  // HTTP APIs lower-case header names already; normalising keeps direct invocations honest.
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    headers[key.toLowerCase()] = value;
  }
  return {
    headers,
    body: event.body,
    isBase64Encoded: event.isBase64Encoded ?? false,
    pathParameters: event.pathParameters,
    query: event.queryStringParameters,
    requestId: event.requestContext?.requestId || context?.awsRequestId || "unknown",
    authorizerMerchantId: authorizerMerchant(event),
  };
}

/** requestContext.authorizer.lambda.merchantId, set by functions/payments/authorizer. */
function authorizerMerchant(event: APIGatewayProxyEventV2): string | undefined {
  const authorizer = (
    event.requestContext as { authorizer?: { lambda?: { merchantId?: unknown } } }
  )?.authorizer;
  const merchantId = authorizer?.lambda?.merchantId;
  return typeof merchantId === "string" ? merchantId : undefined;
}

const METRIC_OF_CODE: Record<string, string> = {
  region_passive: "WritesRefusedPassive",
  region_fenced: "WritesRefusedPassive",
  active_region_unknown: "WritesRefusedFlagUnknown",
  database_unavailable: "DatabaseUnavailable",
  configuration_unavailable: "ParametersUnavailable",
  internal_error: "InternalErrors",
};

function isWriterCheckRefusal(error: unknown): boolean {
  return error instanceof WriterMismatchError || error instanceof WriterCheckFailedError;
}

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** A request whose API key was verified: it acts for the merchant the key is bound to. */
export interface ApiRequest extends HttpRequest {
  readonly merchantId: string;
}

function withRequestId(response: HttpResponse, requestId: string): HttpResponse {
  return { ...response, headers: { ...response.headers, "request-id": requestId } };
}

/**
 * Runs `work` and answers in the documented shape whatever happens: known domain errors become
 * their JSON answers, anything else (a bug) is logged with its stack and becomes a 500 that names
 * the request, so API Gateway's own bodyless 500 never reaches a merchant. Every answer carries
 * the request id in a `request-id` header (Stripe's `Request-Id`, docs.stripe.com/api/request_ids).
 */
function handle(
  work: (request: HttpRequest, context: Context) => Promise<HttpResponse>,
): ApiHandler {
  return async (event, context) => {
    logger.addContext(context);
    let requestId = context.awsRequestId;
    try {
      const request = fromApiGateway(event, context);
      requestId = request.requestId;
      logger.appendKeys({ requestId });
      return withRequestId(await work(request, context), requestId);
    } catch (error) {
      let answer = describeError(error);
      if (!answer) {
        logger.error("unhandled error", { error });
        answer = internalError();
      }
      const { code } = answer.body;
      if (answer.statusCode >= 500) {
        if (code !== "internal_error") logger.warn("request refused", { code, error });
        // The writer identity check counts its own refusals where it refuses (WriterMismatch,
        // WriterCheckFailed: write-runtime.ts), not as a database outage.
        const metric = isWriterCheckRefusal(error) ? undefined : METRIC_OF_CODE[code];
        if (metric) countMetric(metric);
      } else {
        logger.info("request rejected", { code, status: answer.statusCode });
      }
      return withRequestId(errorResponse(answer, requestId), requestId);
    } finally {
      logger.removeKeys(["requestId", "merchantId"]);
      flushMetrics();
    }
  };
}

/**
 * An HTTP API handler for merchants: verifies the API key (401 otherwise, before anything else
 * runs) and runs `work` as the merchant the key is bound to. Nothing a request says about its
 * merchant is trusted: every query and idempotency key is scoped by `merchantId`.
 */
export function apiHandler(
  runtime: Pick<BaseRuntime, "apiKeys">,
  work: (request: ApiRequest, context: Context) => Promise<HttpResponse>,
): ApiHandler {
  return handle(async (request, context) => {
    // Defence in depth: the authorizer already refused a bad key before this 1 GB VPC function
    // ran, but the handler verifies the key again (microseconds, same cached key store), so a
    // route deployed without the authorizer still refuses, and a key revoked while the
    // authorizer's result is cached (its TTL) is refused within this function's parameter cache.
    const merchantId = await runtime.apiKeys.verify(header(request, "x-api-key"));
    if (request.authorizerMerchantId !== undefined && request.authorizerMerchantId !== merchantId) {
      throw new UnauthorizedError();
    }
    logger.appendKeys({ merchantId });
    return work({ ...request, merchantId }, context);
  });
}

/** An HTTP API handler without an API key (/health: Route 53 and the prober call it). */
export function publicApiHandler(
  work: (request: HttpRequest, context: Context) => Promise<HttpResponse>,
): ApiHandler {
  return handle(work);
}
