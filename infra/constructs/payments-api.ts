import { AcmCertificate } from "@cdktf/provider-aws/lib/acm-certificate";
import { connectJitterCapMs } from "../../functions/payments/shared/connect-jitter";
import { API_TIMEOUTS } from "../../functions/payments/shared/database";
import { AcmCertificateValidation } from "@cdktf/provider-aws/lib/acm-certificate-validation";
import { Apigatewayv2Api } from "@cdktf/provider-aws/lib/apigatewayv2-api";
import { Apigatewayv2Authorizer } from "@cdktf/provider-aws/lib/apigatewayv2-authorizer";
import { Apigatewayv2ApiMapping } from "@cdktf/provider-aws/lib/apigatewayv2-api-mapping";
import { Apigatewayv2DomainName } from "@cdktf/provider-aws/lib/apigatewayv2-domain-name";
import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration";
import { Apigatewayv2Route } from "@cdktf/provider-aws/lib/apigatewayv2-route";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage";
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchLogMetricFilter } from "@cdktf/provider-aws/lib/cloudwatch-log-metric-filter";
import { LambdaEventSourceMapping } from "@cdktf/provider-aws/lib/lambda-event-source-mapping";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import type { RdsCluster } from "@cdktf/provider-aws/lib/rds-cluster";
import {
  CONTROL,
  DATABASE_APP_USER,
  FENCE_PHASE,
  DATABASE_POOL_MAX,
  METRICS,
  PARAMETERS,
  PAYMENTS_ENV,
  WRITER_HEARTBEAT,
} from "../../functions/common/contract";
import { MAX_ACTIVE_REGION_CACHE_MS } from "../../functions/payments/shared/fencing";
import { EXPIRY_BATCH_SECONDS } from "../../functions/payments/expire-authorizations/core";
import { ConfigError } from "../config";
import type { PaymentsConfig, Reservation } from "../config";
import type { DatabaseClient } from "../lib/connection-budget";
import { checkRouteThrottles } from "../lib/route-throttle";
import type { RouteThrottle } from "../lib/route-throttle";
import { NodejsFunction } from "../lib/nodejs-function";
import type { Statement } from "../lib/policy";
import type { Naming } from "../naming";
import type { RegionalEventBus } from "./events";
import type { PlatformKey } from "./keys";
import type { Network } from "./network";
import type { PublicZone } from "./routing";
import type { GlobalTables } from "./tables";

/**
 * The longest a payment write may take from its fencing check to its commit, over every function
 * that writes payments: part of the DR settle time (infra/lib/fence-bound.ts).
 */
export function writeTimeoutSeconds(): number {
  return Math.max(
    ...PAYMENT_FUNCTIONS.map(writeWindowSeconds).filter((s): s is number => s !== null),
  );
}

/** From a function's fencing check to its commit, in seconds; null if it writes no payment. */
export function writeWindowSeconds(fn: PaymentFunction): number | null {
  switch (fn.access) {
    case "authorize":
    case "write":
      // Checked at the start; the function's timeout ends its transaction.
      return fn.timeoutSeconds;
    case "expire":
      // Runs for minutes, so each batch rolls back past its deadline from its own check.
      return Math.min(fn.timeoutSeconds, EXPIRY_BATCH_SECONDS);
    case "read":
    case "health":
    case "heartbeat":
    case "relay":
    case "migrate":
      // No payment: reads, the health heartbeat row, outbox bookkeeping, schema changes.
      return null;
    default: {
      const unclassified: never = fn.access;
      throw new Error(`classify access ${String(unclassified)} for the DR settle time`);
    }
  }
}

/**
 * How long API Gateway caches the authorizer's answer for one x-api-key value. The trade: a
 * longer TTL saves authorizer invocations (one per key per TTL instead of per request), a shorter
 * one bounds how long a revoked key still reaches the payment functions. 60 s matches the
 * functions' own parameter cache (PARAMETER_CACHE_SECONDS), and the handlers verify the key again,
 * so a revoked key is refused within about a minute either way; at 100 requests/s per merchant
 * the cache still removes all but one authorizer call in 6,000.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html
 */
export const AUTHORIZER_CACHE_SECONDS = 60;

/** Routes without the authorizer: only the health check. */
export const UNAUTHENTICATED_ROUTES: readonly string[] = ["GET /health"];

/**
 * Lambda filter patterns (OR'd) on the control stream that start the relay in `region`: the
 * active-region item becoming open in this region, from fenced (Unfence) or from another region.
 * A pattern matches a record only if every field it names is present and matches; "anything-but"
 * does not match a missing field. Both patterns name only the `dynamodb` key: "DynamoDB event
 * source mappings only support filtering on the `dynamodb` key"
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html), so no `eventName`;
 * both need an old and a new image, which only a MODIFY record carries.
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
 */
export function relayTriggerPatterns(region: string): Record<string, unknown>[] {
  const opensHere = {
    Keys: { [CONTROL.partitionKey]: { S: [CONTROL.activeRegionItem] } },
    NewImage: { activeRegion: { S: [region] }, phase: { S: [FENCE_PHASE.open] } },
  };
  return [
    {
      dynamodb: {
        ...opensHere,
        OldImage: { phase: { S: [{ "anything-but": [FENCE_PHASE.open] }] } },
      },
    },
    {
      dynamodb: { ...opensHere, OldImage: { activeRegion: { S: [{ "anything-but": [region] }] } } },
    },
  ];
}

/** Memory of every payment function: 1 GB, as the platform team asked. */
export const PAYMENTS_MEMORY_MB = 1024;

type Access =
  "authorize" | "write" | "read" | "health" | "heartbeat" | "relay" | "expire" | "migrate";

export interface PaymentFunction {
  readonly source: string;
  /**
   * HTTP API route key.
   * @default - not behind the API (scheduled or invoked directly)
   */
  readonly route?: string;
  readonly access: Access;
  readonly timeoutSeconds: number;
  readonly description: string;
  /**
   * Reserved concurrency: "api" takes PAYMENTS_RESERVED_CONCURRENCY; a number is this function's
   * own default. PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION overrides either.
   */
  readonly reservedConcurrency: "api" | number;
  /**
   * Also holds a pool on its own region's reader endpoint (baseRuntime's `ownCluster`).
   * @default false
   */
  readonly ownCluster?: boolean;
  /**
   * Also holds a pool on its own region's cluster endpoint (baseRuntime's `ownClusterEndpoint`):
   * the writers' identity check reads its reference there, /health its own cluster while taking
   * over. In the writer's region that endpoint is the writer, so the budget counts it.
   * @default false
   */
  readonly ownClusterEndpoint?: boolean;
  /**
   * The duration its route's throttle is sized with (infra/lib/route-throttle.ts).
   * @default - ROUTE_P99_MS (PaymentsConfig.routeP99Ms)
   */
  readonly routeDurationMs?: number;
  /**
   * "stage": the route keeps the stage default (API_THROTTLE_RATE/BURST) instead of a throttle
   * sized from the reservation.
   * @default - sized from the reservation
   */
  readonly routeThrottle?: "stage";
}

export const PAYMENT_FUNCTIONS: readonly PaymentFunction[] = [
  {
    source: "authorize",
    ownClusterEndpoint: true,
    route: "POST /payments",
    access: "authorize",
    timeoutSeconds: 10,
    description: "Authorize a payment (idempotent)",
    reservedConcurrency: "api",
  },
  {
    source: "get-payment",
    route: "GET /payments/{id}",
    access: "read",
    timeoutSeconds: 10,
    description: "Read a payment",
    reservedConcurrency: "api",
  },
  {
    source: "list-payments",
    route: "GET /payments",
    access: "read",
    timeoutSeconds: 10,
    description: "List a merchant's payments, newest first, with cursor pagination and filters",
    reservedConcurrency: "api",
  },
  {
    source: "capture",
    ownClusterEndpoint: true,
    route: "POST /payments/{id}/capture",
    access: "write",
    timeoutSeconds: 10,
    description: "Capture an authorized payment",
    reservedConcurrency: "api",
  },
  {
    source: "refund",
    ownClusterEndpoint: true,
    route: "POST /payments/{id}/refund",
    access: "write",
    timeoutSeconds: 10,
    description: "Refund a captured payment, fully or partially",
    reservedConcurrency: "api",
  },
  {
    source: "void",
    ownClusterEndpoint: true,
    route: "POST /payments/{id}/void",
    access: "write",
    timeoutSeconds: 10,
    description: "Void an authorized payment",
    reservedConcurrency: "api",
  },
  {
    source: "health",
    route: "GET /health",
    access: "health",
    timeoutSeconds: 5,
    description: "Regional health: active region, writable database, readable flag",
    // Route 53's checkers "don't coordinate with one another, so you'll sometimes see several
    // requests per second" (dns-failover-determining-health-of-endpoints), plus the prober, each
    // up to 1.4 s when the database is slow (a surge): 20 keeps a throttle from failing a check.
    reservedConcurrency: 20,
    ownCluster: true,
    ownClusterEndpoint: true,
    // Up to 1.4 s when the database is slow (above).
    routeDurationMs: 1400,
    // No route throttle below the stage default (review H1): /health is unauthenticated, and a
    // stage throttle is one token bucket per route shared by every caller
    // (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html), so
    // a small one lets anyone at ~8 requests/s turn Route 53's checks and the prober's probes
    // into 429s, which Route 53 counts as unhealthy ("2xx or 3xx" only:
    // https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html).
    // What remains: README, "Route throttling".
    routeThrottle: "stage",
  },
  {
    // Review 23-18 H2: the writer heartbeat for the DR tasks and the prober, invoked through the
    // Lambda API only (no route), so a flood of the public /health cannot hide it; the veto at
    // Preflight holds a failover only on a fresh beat it reads (WRITER_HEARTBEAT.readerComponent).
    source: WRITER_HEARTBEAT.readerComponent,
    access: "heartbeat",
    timeoutSeconds: 5,
    description: "The writer heartbeat this region's cluster holds, for the DR orchestrator",
    // Preflight, CheckOldWriter and the prober each read once at a time; a third environment
    // covers an overlap of the prober's invocations. Its own: the health function's 20 are what a
    // flood exhausts.
    reservedConcurrency: 3,
    ownCluster: true,
  },
  {
    source: "outbox-relay",
    ownClusterEndpoint: true,
    access: "relay",
    // A run drains the outbox until 5 s of its timeout is left (outbox-relay/core.ts), so it
    // polls for 65 s of every minute's run: the next scheduled run starts before it stops, and
    // the outbox is never left unpolled. Two at a time: the ~5 s overlap of consecutive runs
    // (the connection budget counts both connections).
    timeoutSeconds: 70,
    description: "Publish outbox events to the bus (drains the outbox continuously)",
    reservedConcurrency: 2,
  },
  {
    source: "expire-authorizations",
    ownClusterEndpoint: true,
    access: "expire",
    timeoutSeconds: 120,
    description: "Release authorizations past their captureBefore (active region only)",
    // Every 5 minutes, 2 at most: one run at a time is all the job needs.
    reservedConcurrency: 1,
  },
  {
    source: "migrate",
    access: "migrate",
    timeoutSeconds: 300,
    description: "Apply SQL migrations (invoke before deploying new code, in the active region)",
    // Migrations run one at a time by design.
    reservedConcurrency: 1,
  },
];

/**
 * Each payment function's reserved concurrency from the configuration: the function's default,
 * PAYMENTS_RESERVED_CONCURRENCY for the API functions, and the by-function overrides, whose
 * names must be payment functions.
 */
export function reservedConcurrencies(payments: PaymentsConfig): Record<string, Reservation> {
  const names = PAYMENT_FUNCTIONS.map((f) => f.source);
  const unknown = Object.keys(payments.reservedConcurrencyByFunction).filter(
    (n) => !names.includes(n),
  );
  if (unknown.length > 0) {
    throw new ConfigError(
      "PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION",
      unknown.join(","),
      `function names among ${names.join(", ")}`,
    );
  }
  return Object.fromEntries(
    PAYMENT_FUNCTIONS.map((f) => {
      const own = payments.reservedConcurrencyByFunction[f.source];
      const fallback =
        f.reservedConcurrency === "api" ? payments.reservedConcurrency : f.reservedConcurrency;
      return [f.source, own !== undefined ? own : fallback];
    }),
  );
}

/**
 * Each route's stage throttle, sized from its function's reservation (infra/lib/route-throttle.ts:
 * burst + rate x duration within the reservation, so the stage answers 429 before Lambda would
 * throttle and API Gateway answer 500) over ROUTE_P99_MS, within the stage default
 * (API_THROTTLE_RATE/BURST); /health keeps the stage default. Checked at synth.
 */
export function paymentRouteThrottles(payments: PaymentsConfig): RouteThrottle[] {
  const reserved = reservedConcurrencies(payments);
  return checkRouteThrottles(
    PAYMENT_FUNCTIONS.filter((f) => f.route).map((f) => ({
      routeKey: f.route!,
      name: f.source,
      reservation: reserved[f.source]!,
      durationMs: f.routeDurationMs ?? payments.routeP99Ms,
      stageDefault: f.routeThrottle === "stage",
    })),
    { ratePerSecond: payments.apiThrottleRatePerSecond, burst: payments.apiThrottleBurst },
  );
}

/** Every payment function of one region as a client of the database (the connection budget). */
export function paymentDatabaseClients(payments: PaymentsConfig, region: string): DatabaseClient[] {
  const reserved = reservedConcurrencies(payments);
  return PAYMENT_FUNCTIONS.map((f) => ({
    name: f.source,
    region,
    reservedConcurrency: reserved[f.source]!,
    // One pool on the global writer endpoint, and one on each own-cluster endpoint asked for.
    writerConnections: DATABASE_POOL_MAX,
    ownClusterConnections:
      (f.ownCluster ? DATABASE_POOL_MAX : 0) + (f.ownClusterEndpoint ? DATABASE_POOL_MAX : 0),
  }));
}

export interface PaymentsApiProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: string;
  readonly key: PlatformKey;
  readonly network: Network;
  readonly payments: PaymentsConfig;
  readonly logRetentionDays: number;
  /** Retention of the API access logs (an audit trail: PCI DSS 10.5.1). */
  readonly accessLogRetentionDays: number;
  /** The global tables (identical names in both regions). */
  readonly tables: GlobalTables;
  /** This region's event bus. */
  readonly bus: RegionalEventBus;
  /**
   * When set, api.<domain> gets a DNS-validated certificate and a regional custom domain.
   * @default - no custom domain: clients use the execute-api URL
   */
  readonly zone?: PublicZone;
  /**
   * Both regional clusters of the global database: the payment functions connect as the
   * application role to whichever is the writer (the global writer endpoint), and /health to its
   * own region's, so each may `rds-db:connect` to both, as that one user only.
   */
  readonly databaseClusters: readonly { readonly region: string; readonly cluster: RdsCluster }[];
  /**
   * The stream of this region's replica of the control table: the relay starts a run the moment
   * the flag opens writes in this region, instead of at its next scheduled minute.
   */
  readonly controlStreamArn: string;
}

/**
 * The payment service of one region: the Lambdas (identical in both regions but for
 * region-specific values) behind a regional HTTP API with access logs and throttling.
 */
export class PaymentsApi extends Construct {
  public readonly api: Apigatewayv2Api;
  public readonly stage: Apigatewayv2Stage;
  public readonly functions: Record<string, NodejsFunction> = {};
  /** https://<id>.execute-api.<region>.amazonaws.com */
  public readonly url: string;
  /** <id>.execute-api.<region>.amazonaws.com, for health checks. */
  public readonly host: string;
  public readonly customDomain?: Apigatewayv2DomainName;
  /** The Lambda REQUEST authorizer on every payment route. */
  public readonly authorizer: Apigatewayv2Authorizer;
  public readonly authorizerFunction: NodejsFunction;

  constructor(scope: Construct, id: string, props: PaymentsApiProps) {
    super(scope, id);
    const { provider, naming, region, key, network } = props;
    const account = key.accountId;
    const tableArn = (name: string) => `arn:aws:dynamodb:${region}:${account}:table/${name}`;
    const parameterArn = `arn:aws:ssm:${region}:${account}:parameter${naming.parameterPrefix}/*`;

    const environment = {
      [PAYMENTS_ENV.parameterPrefix]: naming.parameterPrefix,
      [PAYMENTS_ENV.controlTable]: props.tables.control.name,
      [PAYMENTS_ENV.sessionsTable]: props.tables.sessions.name,
      [PAYMENTS_ENV.idempotencyTable]: props.tables.idempotency.name,
      [PAYMENTS_ENV.eventBusName]: props.bus.bus.name,
      [PAYMENTS_ENV.activeRegionCacheMs]: String(MAX_ACTIVE_REGION_CACHE_MS),
      [PAYMENTS_ENV.parameterCacheSeconds]: "60",
      [PAYMENTS_ENV.captureWindowHours]: String(props.payments.captureWindowHours),
      [PAYMENTS_ENV.eventPublication]: props.payments.eventPublication,
      // Explicit, so the pool the functions open is the one the connection budget counted.
      [PAYMENTS_ENV.databasePoolMax]: String(DATABASE_POOL_MAX),
    };
    const reserved = reservedConcurrencies(props.payments);
    // Before any resource: a route that cannot be throttled within its reservation stops synth.
    const routeThrottles = paymentRouteThrottles(props.payments);
    const readParameters: Statement[] = [
      {
        // By name only (shared/aws/ssm.ts): GetParametersByPath is authorized against the path,
        // so the deny below could not keep a parameter out of its answer.
        sid: "ReadOwnParameters",
        actions: ["ssm:GetParameter", "ssm:GetParameters"],
        resources: [parameterArn],
      },
      {
        // The DR verification's own key sits under the same prefix, in plaintext (the key store
        // api/keys holds hashes only). No payment function needs it: only the verify task reads
        // it (dr-iam.ts). An explicit deny wins over the prefix wildcard above.
        sid: "NotTheDrVerifyKey",
        effect: "Deny",
        actions: ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
        resources: [
          `arn:aws:ssm:${region}:${account}:parameter${naming.parameterPrefix}/${PARAMETERS.drVerifyApiKey}`,
        ],
      },
      {
        sid: "DecryptSecureStrings",
        actions: ["kms:Decrypt"],
        resources: [key.arn],
        condition: [
          {
            test: "StringEquals",
            variable: "kms:ViaService",
            values: [`ssm.${region}.amazonaws.com`],
          },
        ],
      },
    ];
    // The payment path reads only what it needs: never the master password (db/password), which
    // is the migrate function's alone, and no parameter it does not use.
    const appParameterArn = (name: string) =>
      `arn:aws:ssm:${region}:${account}:parameter${naming.parameterPrefix}/${name}`;
    // What baseRuntime (functions/payments/shared/runtime.ts) loads for each kind of function.
    const appParameters = (...extra: string[]): Statement[] => [
      {
        sid: "ReadOwnParameters",
        actions: ["ssm:GetParameters"],
        resources: [PARAMETERS.writerEndpoint, PARAMETERS.databaseName, ...extra].map(
          appParameterArn,
        ),
      },
      readParameters[1]!,
    ];
    // IAM database authentication as the application role, on the exact dbuser ARN of each
    // cluster: arn:aws:rds-db:<region>:<account>:dbuser:<cluster resource id>/<db user>
    // (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html).
    const connect: Statement = {
      sid: "ConnectAsApplicationRole",
      actions: ["rds-db:connect"],
      resources: props.databaseClusters.map(
        ({ region: clusterRegion, cluster }) =>
          `arn:aws:rds-db:${clusterRegion}:${account}:dbuser:${cluster.clusterResourceId}/${DATABASE_APP_USER}`,
      ),
    };
    const api = [...appParameters(PARAMETERS.apiKeys), connect];
    // The functions that write (and the relay, which marks rows) also read this region's cluster
    // endpoint: the writer identity check's reference (functions/payments/shared/writer-identity.ts).
    const writingApi = [...appParameters(PARAMETERS.apiKeys, PARAMETERS.clusterEndpoint), connect];
    const writingJob = [...appParameters(PARAMETERS.clusterEndpoint), connect];
    const readFlag: Statement = {
      sid: "ReadFencingFlag",
      actions: ["dynamodb:GetItem"],
      resources: [tableArn(props.tables.control.name)],
    };
    const publish: Statement = {
      sid: "PublishEvents",
      actions: ["events:PutEvents"],
      resources: [props.bus.bus.arn],
    };
    const tableKey: Statement = {
      sid: "UseTableKey",
      actions: ["kms:Decrypt", "kms:GenerateDataKey"],
      resources: [key.arn],
      condition: [
        {
          test: "StringEquals",
          variable: "kms:ViaService",
          values: [`dynamodb.${region}.amazonaws.com`],
        },
      ],
    };
    // No idempotency table: since issue 15 the in-flight lock is PostgreSQL's (a transaction
    // advisory lock), so no payment function reads or writes that table. A release before it
    // tolerates a refused lock write (it goes on with PostgreSQL alone), so the grant can go in the
    // same apply as the code.
    // The bus is the relay's alone unless the writes publish inline (EVENT_PUBLICATION).
    const inlinePublish = props.payments.eventPublication === "inline" ? [publish] : [];
    const write = [...writingApi, readFlag, tableKey, ...inlinePublish];
    // Exactly what each handler calls (reads of SSM, the flag, the tables and the bus).
    const permissions: Record<Access, Statement[]> = {
      authorize: [
        ...write,
        {
          sid: "Sessions",
          actions: ["dynamodb:UpdateItem"],
          resources: [tableArn(props.tables.sessions.name)],
        },
      ],
      write,
      read: api,
      // The reader endpoint (heartbeat read) and the cluster endpoint (the read-only check of its
      // own cluster while a move into the region is fenced: health/handler.ts probeOwnCluster).
      health: [
        ...appParameters(PARAMETERS.readerEndpoint, PARAMETERS.clusterEndpoint),
        connect,
        readFlag,
        tableKey,
      ],
      // The reader endpoint only: one SELECT of the heartbeat row.
      heartbeat: [...appParameters(PARAMETERS.readerEndpoint), connect],
      relay: [
        ...writingJob,
        readFlag,
        tableKey,
        publish,
        {
          // What Lambda's event source mapping reads on the function's behalf: the four actions
          // of DynamoDB's own example, on this region's control table streams only (the
          // mapping's stream is one of them). Records of a table encrypted with a
          // customer-managed key are decrypted with UseTableKey above.
          // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/iam-policy-example-lamda-process-dynamodb-streams.html
          sid: "ReadFlagStream",
          actions: [
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
          ],
          resources: [`${tableArn(props.tables.control.name)}/stream/*`],
        },
      ],
      expire: [...writingJob, readFlag, tableKey, ...inlinePublish],
      // The master user, through its SSM password: no rds-db:connect.
      migrate: [...readParameters],
    };

    for (const fn of PAYMENT_FUNCTIONS) {
      this.functions[fn.source] = new NodejsFunction(this, fn.source, {
        provider,
        naming,
        region,
        key,
        group: "payments",
        source: fn.source,
        component: fn.source,
        description: fn.description,
        memorySize: PAYMENTS_MEMORY_MB,
        timeoutSeconds: fn.timeoutSeconds,
        environment: {
          ...environment,
          // Reconnections to a new writer spread over what the function's timeout leaves after
          // one connect and one statement (connect-jitter.ts); none for /health (5 s).
          [PAYMENTS_ENV.databaseConnectJitterMs]: String(
            connectJitterCapMs(fn.timeoutSeconds * 1000, API_TIMEOUTS),
          ),
        },
        statements: permissions[fn.access],
        logRetentionDays: props.logRetentionDays,
        vpc: {
          subnetIds: network.privateSubnetIds,
          securityGroupIds: [network.lambdaSecurityGroup.id],
        },
        // Every function that connects is capped: its reservation is its share of the writer's
        // connections (infra/lib/connection-budget.ts).
        reservedConcurrency: reserved[fn.source] ?? undefined,
      });
    }

    // The API key check before any 1 GB VPC function runs: small, outside the VPC, reading only
    // the api/keys parameter. Its own role and log group (with retention), as every function.
    this.authorizerFunction = new NodejsFunction(this, "authorizer", {
      provider,
      naming,
      region,
      key,
      group: "payments",
      source: "authorizer",
      component: "authorizer",
      description: "HTTP API Lambda authorizer: the API key's merchant, or a denial",
      memorySize: 256,
      timeoutSeconds: 5,
      environment: {
        [PAYMENTS_ENV.parameterPrefix]: naming.parameterPrefix,
        [PAYMENTS_ENV.parameterCacheSeconds]: "60",
      },
      statements: [
        {
          sid: "ReadApiKeyStore",
          actions: ["ssm:GetParameters"],
          resources: [appParameterArn(PARAMETERS.apiKeys)],
        },
        readParameters[1]!,
      ],
      logRetentionDays: props.logRetentionDays,
    });

    const accessLogs = new CloudwatchLogGroup(this, "access-logs", {
      provider,
      name: `/payments-dr/${naming.suffix}/api-access/${region}`,
      retentionInDays: props.accessLogRetentionDays,
      kmsKeyId: key.arn,
      dependsOn: [key.policy],
    });
    // Payment traffic, /health excluded, for the error-rate alarm.
    const paymentRoutes = '$.routeKey != "GET /health"';
    for (const [id, metricName, pattern] of [
      ["requests-metric", METRICS.apiRequests, `{ ${paymentRoutes} }`],
      ["errors-metric", METRICS.apiServerErrors, `{ (${paymentRoutes}) && ($.status = "5*") }`],
    ] as const) {
      new CloudwatchLogMetricFilter(this, id, {
        provider,
        name: naming.name("generic", id, region),
        logGroupName: accessLogs.name,
        pattern,
        metricTransformation: {
          namespace: METRICS.namespace,
          name: metricName,
          value: "1",
          defaultValue: "0",
          unit: "Count",
        },
      });
    }
    this.api = new Apigatewayv2Api(this, "api", {
      provider,
      name: naming.name("apiGateway", "api", region),
      protocolType: "HTTP",
      description: `Payments API in ${region}`,
    });
    const authorizerLambda = this.authorizerFunction.function;
    this.authorizer = new Apigatewayv2Authorizer(this, "api-authorizer", {
      provider,
      apiId: this.api.id,
      name: naming.name("generic", "api-authorizer", region),
      authorizerType: "REQUEST",
      authorizerUri: authorizerLambda.invokeArn,
      authorizerPayloadFormatVersion: "2.0",
      // { isAuthorized, context }: the merchant reaches the integration as
      // requestContext.authorizer.lambda.merchantId.
      enableSimpleResponses: true,
      // The cache key; a request without the header gets 401 without invoking the authorizer.
      identitySources: ["$request.header.x-api-key"],
      authorizerResultTtlInSeconds: AUTHORIZER_CACHE_SECONDS,
    });
    new LambdaPermission(this, "authorizer-invoke", {
      provider,
      functionName: authorizerLambda.functionName,
      action: "lambda:InvokeFunction",
      principal: "apigateway.amazonaws.com",
      sourceArn: `${this.api.executionArn}/authorizers/${this.authorizer.id}`,
    });
    const routes: Apigatewayv2Route[] = [];
    for (const fn of PAYMENT_FUNCTIONS.filter((f) => f.route)) {
      const lambda = this.functions[fn.source]!.function;
      const integration = new Apigatewayv2Integration(this, `${fn.source}-integration`, {
        provider,
        apiId: this.api.id,
        integrationType: "AWS_PROXY",
        integrationUri: lambda.invokeArn,
        payloadFormatVersion: "2.0",
        timeoutMilliseconds: Math.min(30_000, fn.timeoutSeconds * 1000 + 500),
      });
      const open = UNAUTHENTICATED_ROUTES.includes(fn.route!);
      const route = new Apigatewayv2Route(this, `${fn.source}-route`, {
        provider,
        apiId: this.api.id,
        routeKey: fn.route!,
        target: `integrations/${integration.id}`,
        ...(open ? {} : { authorizationType: "CUSTOM", authorizerId: this.authorizer.id }),
      });
      routes.push(route);
      new LambdaPermission(this, `${fn.source}-invoke`, {
        provider,
        functionName: lambda.functionName,
        action: "lambda:InvokeFunction",
        principal: "apigateway.amazonaws.com",
        sourceArn: `${this.api.executionArn}/*/*`,
      });
    }
    this.stage = new Apigatewayv2Stage(this, "stage", {
      provider,
      apiId: this.api.id,
      name: "$default",
      autoDeploy: true,
      // Route settings name a route key that must exist first, or the stage update fails with
      // "Unable to find Route by key ... within the provided RouteSettings".
      dependsOn: routes,
      defaultRouteSettings: {
        throttlingRateLimit: props.payments.apiThrottleRatePerSecond,
        throttlingBurstLimit: props.payments.apiThrottleBurst,
        detailedMetricsEnabled: true,
      },
      // Every route throttled below its function's reservation (paymentRouteThrottles): the
      // client gets 429, which it retries, instead of the 500 a Lambda throttle becomes;
      // /health at the stage default (an anonymous caller must not drain its bucket cheaply).
      routeSettings: routeThrottles.map((t) => ({
        routeKey: t.routeKey,
        throttlingRateLimit: t.ratePerSecond,
        throttlingBurstLimit: t.burst,
        detailedMetricsEnabled: true,
      })),
      accessLogSettings: {
        destinationArn: accessLogs.arn,
        format: JSON.stringify({
          requestId: "$context.requestId",
          ip: "$context.identity.sourceIp",
          requestTime: "$context.requestTime",
          routeKey: "$context.routeKey",
          status: "$context.status",
          latencyMs: "$context.responseLatency",
          integrationError: "$context.integrationErrorMessage",
          responseLength: "$context.responseLength",
        }),
      },
    });
    this.host = Fn.replace(this.api.apiEndpoint, "https://", "");
    this.url = this.api.apiEndpoint;

    const relay = this.functions["outbox-relay"]!;
    const schedule = new CloudwatchEventRule(this, "relay-schedule", {
      provider,
      name: naming.name("eventRule", "outbox-relay", region),
      description: "Start the outbox relay's next draining run",
      scheduleExpression: "rate(1 minute)",
    });
    new CloudwatchEventTarget(this, "relay-target", {
      provider,
      rule: schedule.name,
      arn: relay.function.arn,
    });
    new LambdaPermission(this, "relay-invoke", {
      provider,
      functionName: relay.function.functionName,
      action: "lambda:InvokeFunction",
      principal: "events.amazonaws.com",
      sourceArn: schedule.arn,
    });

    // After a failover or switchover the new region's relay would wait for its next scheduled
    // minute (up to 60 s of events held back); instead, the flag's own change starts a run: the
    // stream of this region's control replica (a global table replica's stream carries the writes
    // replicated into it too, so a flag written in either region counts) with a filter that lets
    // through only the write that opens this region, Unfence's phase "open" (or a flag moved here
    // already open). Fence's earlier write is not a trigger: the database is still read-only
    // until the promotion ends, so a run then would fail. The prober renews the lease on the same
    // item every round; those writes keep the phase and are filtered out, and filtered records
    // cost nothing to the function. Reading a stream from a Lambda trigger is free
    // (https://aws.amazon.com/dynamodb/pricing/on-demand/). No state machine changes: the
    // trigger is the flag, whatever wrote it.
    // https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html
    new LambdaEventSourceMapping(this, "relay-on-flag", {
      provider,
      functionName: relay.function.arn,
      eventSourceArn: props.controlStreamArn,
      startingPosition: "LATEST",
      batchSize: 1,
      // A run that fails (a database not yet writable) is not retried from the stream: the
      // shard would stay blocked behind it, and the schedule starts the next run within a
      // minute anyway.
      maximumRetryAttempts: 0,
      filterCriteria: {
        filter: relayTriggerPatterns(region).map((p) => ({ pattern: JSON.stringify(p) })),
      },
      // Created after the function, which waits for its role's policy (nodejs-function.ts): the
      // mapping checks the stream permissions when it is created.
    });

    // Both regions run it; a passive region's run skips (the function checks the flag), so the
    // job follows the active region through a failover without a deploy.
    const expiry = this.functions["expire-authorizations"]!;
    const expirySchedule = new CloudwatchEventRule(this, "expiry-schedule", {
      provider,
      name: naming.name("eventRule", "expire-authorizations", region),
      description: "Release authorizations past their captureBefore",
      scheduleExpression: "rate(5 minutes)",
    });
    new CloudwatchEventTarget(this, "expiry-target", {
      provider,
      rule: expirySchedule.name,
      arn: expiry.function.arn,
    });
    new LambdaPermission(this, "expiry-invoke", {
      provider,
      functionName: expiry.function.functionName,
      action: "lambda:InvokeFunction",
      principal: "events.amazonaws.com",
      sourceArn: expirySchedule.arn,
    });

    if (props.zone) this.customDomain = this.domain(props, props.zone);
  }

  private domain(props: PaymentsApiProps, zone: PublicZone): Apigatewayv2DomainName {
    const { provider } = props;
    const name = `api.${zone.domainName}`;
    const certificate = new AcmCertificate(this, "certificate", {
      provider,
      domainName: name,
      validationMethod: "DNS",
      lifecycle: { createBeforeDestroy: true },
    });
    // One name, no SANs: the validation record is the single element of the set.
    const option = Fn.element(Fn.tolist(certificate.domainValidationOptions), 0);
    const record = new Route53Record(this, "certificate-validation-record", {
      provider,
      zoneId: zone.zone.zoneId,
      name: Fn.lookup(option, "resource_record_name", ""),
      type: Fn.lookup(option, "resource_record_type", ""),
      records: [Fn.lookup(option, "resource_record_value", "")],
      ttl: 300,
      // Both regions' certificates for api.<domain> share this record.
      allowOverwrite: true,
    });
    const validation = new AcmCertificateValidation(this, "certificate-validation", {
      provider,
      certificateArn: certificate.arn,
      validationRecordFqdns: [record.fqdn],
    });
    const domainName = new Apigatewayv2DomainName(this, "domain", {
      provider,
      domainName: name,
      domainNameConfiguration: {
        certificateArn: validation.certificateArn,
        endpointType: "REGIONAL",
        securityPolicy: "TLS_1_2",
      },
    });
    new Apigatewayv2ApiMapping(this, "mapping", {
      provider,
      apiId: this.api.id,
      domainName: domainName.id,
      stage: this.stage.id,
    });
    return domainName;
  }
}
