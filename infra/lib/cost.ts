// The monthly cost estimate of a synthesized stack (npm run cost). Pure: the stack's Terraform
// JSON, the dated price table (infra/pricing/aws-prices.json) and the traffic assumptions in,
// priced line items out. Fixed costs are counted from the resources the stack declares (instances
// by class, NAT gateways, interface endpoints by AZ, alarms by resolution, keys, health checks,
// ...); usage costs come from the assumptions, which are printed with the result.
import { RELAY_STOP_BEFORE_MS } from "../../functions/payments/outbox-relay/core";
import { MAX_ACTIVE_REGION_CACHE_MS } from "../../functions/payments/shared/fencing";
import type { TerraformJson } from "./synthesized";

export interface PriceEntry {
  readonly value?: number;
  readonly byClass?: Readonly<Record<string, number>>;
  readonly unit: string;
  readonly source: string;
}

export interface PriceTable {
  readonly compiled: string;
  readonly currency: string;
  readonly regions: readonly string[];
  readonly note: string;
  readonly hoursPerMonth: number;
  readonly prices: Readonly<Record<string, PriceEntry>>;
}

export class CostInputError extends Error {
  override name = "CostInputError";
}

/** Usage the stack does not declare. Defaults: a modest production payment API. */
export interface Assumptions {
  /** API requests per month, all in the active region. */
  readonly requestsPerMonth: number;
  /** Share of requests that write (authorize, capture, refund, void). */
  readonly writeShare: number;
  /** Average billed duration of a payment function invocation, ms. */
  readonly lambdaMs: number;
  /** Aurora cluster volume, GB (each region stores a full copy). */
  readonly dbStorageGb: number;
  /** Aurora storage I/Os per write request, and per read request. */
  readonly dbIosPerWrite: number;
  readonly dbIosPerRead: number;
  /** Data in the three DynamoDB tables, GB. */
  readonly dynamoGb: number;
  /** Logs ingested per region per month, GB (function, access, flow and database logs). */
  readonly logsGbActive: number;
  readonly logsGbPassive: number;
  /** Traffic through the NAT gateways and the interface endpoints, GB per region-month. */
  readonly natGb: number;
  readonly endpointGb: number;
  /** X-Ray sampling share of requests. */
  readonly traceShare: number;
  /** Custom CloudWatch metrics per region (Powertools and PaymentsDR). */
  readonly customMetricsPerRegion: number;
  /** KMS requests per region-month. */
  readonly kmsRequests: number;
  /** Drill executions per month (each runs a switchover and a failback). */
  readonly drillsPerMonth: number;
  /**
   * Billed duration of the passive region's outbox relay run, ms: it reads the flag and stops
   * (functions/payments/outbox-relay/core.ts).
   */
  readonly relayPassiveRunMs: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  requestsPerMonth: 5_000_000,
  writeShare: 0.6,
  lambdaMs: 120,
  dbStorageGb: 100,
  dbIosPerWrite: 12,
  dbIosPerRead: 4,
  dynamoGb: 2,
  logsGbActive: 30,
  logsGbPassive: 5,
  natGb: 20,
  endpointGb: 10,
  traceShare: 0.05,
  customMetricsPerRegion: 25,
  kmsRequests: 1_000_000,
  drillsPerMonth: 1,
  relayPassiveRunMs: 100,
};

/** What the estimate does not include; printed with every run. */
export const LEFT_OUT = [
  "taxes, the AWS support plan, and discounts (Savings Plans, Reserved Instances, EDP)",
  "free tiers other than the 3 free dashboards and X-Ray's 100,000 traces",
  "data transfer to the internet (API responses to clients) and Route 53 queries (alias queries to API Gateway are free)",
  "the extra cost during a failover or drill (both regions busy, a new replica seeded, re-protect after a detach)",
  "Aurora I/O-Optimized, Performance Insights beyond its free retention, and snapshot exports",
  "SNS, SQS, SSM Parameter Store (standard tier), ACM public certificates and IAM: free or cents at this scale",
  "AWS Config rules (DR_READINESS_RULES) and the EventBridge global endpoint (EVENTS_GLOBAL_ENDPOINT): priced per evaluation/event, not estimated",
  "CloudWatch API calls (GetMetricData by the prober, the CLI and dashboards)",
];

export interface LineItem {
  readonly region: string;
  readonly service: string;
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  readonly unitPrice: number;
  readonly monthly: number;
}

type Resource = Record<string, unknown>;

function resources(json: TerraformJson, type: string): { role: string; r: Resource }[] {
  return Object.values(json.resource?.[type] ?? {}).map((r) => ({
    role: String(r.provider ?? "aws.primary").replace(/^aws\./, ""),
    r,
  }));
}

export function estimateCost(
  json: TerraformJson,
  regions: { primary: string; secondary: string },
  table: PriceTable,
  a: Assumptions = DEFAULT_ASSUMPTIONS,
): LineItem[] {
  const h = table.hoursPerMonth;
  const lines: LineItem[] = [];
  const price = (key: string): number => {
    const entry = table.prices[key];
    if (entry?.value === undefined) throw new CostInputError(`the price table has no ${key}`);
    return entry.value;
  };
  const add = (
    role: string,
    service: string,
    item: string,
    quantity: number,
    key: string,
    unitPrice = price(key),
  ) => {
    if (quantity <= 0) return;
    const unit = table.prices[key]!.unit;
    lines.push({
      region: regions[role as "primary" | "secondary"] ?? role,
      service,
      item,
      quantity,
      unit,
      unitPrice,
      monthly: quantity * unitPrice,
    });
  };
  const roles = ["primary", "secondary"] as const;
  const writes = a.requestsPerMonth * a.writeShare;
  const reads = a.requestsPerMonth - writes;

  // Aurora: instances by class, a full volume per region, I/O in the writer region, replicated
  // write I/O to the secondary (Global Database), backup storage beyond the volume.
  for (const { role, r } of resources(json, "aws_rds_cluster_instance")) {
    const cls = String(r.instance_class);
    const hourly = table.prices["aurora.instanceHour"]?.byClass?.[cls];
    if (hourly === undefined) {
      throw new CostInputError(
        `no price for ${cls} in infra/pricing/aws-prices.json (aurora.instanceHour.byClass): add it from https://aws.amazon.com/rds/aurora/pricing/ and update "compiled"`,
      );
    }
    add(
      role,
      "Aurora",
      `${cls} instance ${String(r.identifier ?? "")}`.trim(),
      h,
      "aurora.instanceHour",
      hourly,
    );
  }
  for (const { role } of resources(json, "aws_rds_cluster")) {
    add(role, "Aurora", "cluster volume (GB)", a.dbStorageGb, "aurora.storageGbMonth");
    if (role === "primary") {
      add(
        role,
        "Aurora",
        "I/O requests (millions)",
        (writes * a.dbIosPerWrite + reads * a.dbIosPerRead) / 1e6,
        "aurora.ioMillion",
      );
    } else {
      add(
        role,
        "Aurora",
        "replicated write I/Os (millions)",
        (writes * a.dbIosPerWrite) / 1e6,
        "aurora.replicatedWriteIoMillion",
      );
    }
  }

  // DynamoDB global tables (on-demand): the tables live in the primary with a replica each.
  const tables = resources(json, "aws_dynamodb_table");
  const replicaCount = tables.reduce(
    (n, { r }) => n + ((r.replica as unknown[] | undefined)?.length ?? 0),
    0,
  );
  // Per write request: idempotency record put + update, a session update; flag reads are cached.
  const ddbWrites = writes * 3;
  add(
    "primary",
    "DynamoDB",
    "write request units (millions)",
    ddbWrites / 1e6,
    "dynamodb.writeMillion",
  );
  add(
    "primary",
    "DynamoDB",
    "read request units (millions), flag and idempotency",
    (a.requestsPerMonth * 0.2) / 1e6,
    "dynamodb.readMillion",
  );
  if (replicaCount > 0)
    add(
      "secondary",
      "DynamoDB",
      "replicated write units (millions)",
      ddbWrites / 1e6,
      "dynamodb.replicatedWriteMillion",
    );
  for (const role of roles) {
    if (role === "secondary" && replicaCount === 0) continue;
    add(role, "DynamoDB", "table storage (GB)", a.dynamoGb, "dynamodb.storageGbMonth");
    add(role, "DynamoDB", "point-in-time recovery (GB)", a.dynamoGb, "dynamodb.pitrGbMonth");
  }

  // Lambda: the API in the active region, the prober every minute in the secondary.
  const memoryGb = (name: RegExp) => {
    const fn = resources(json, "aws_lambda_function").find(({ r }) =>
      name.test(String(r.function_name)),
    );
    return Number(fn?.r.memory_size ?? 1024) / 1024;
  };
  add(
    "primary",
    "Lambda",
    "requests (millions)",
    a.requestsPerMonth / 1e6,
    "lambda.requestMillion",
  );
  add(
    "primary",
    "Lambda",
    "payment functions compute (GB-s)",
    a.requestsPerMonth * (a.lambdaMs / 1000) * memoryGb(/authorize/),
    "lambda.armGbSecond",
  );
  const proberRuns = 30 * 24 * 60;
  add(
    "secondary",
    "Lambda",
    "prober compute (GB-s, 60 s a minute)",
    proberRuns * 60 * memoryGb(/prober/),
    "lambda.armGbSecond",
  );
  add(
    "secondary",
    "Lambda",
    "prober requests (millions)",
    proberRuns / 1e6,
    "lambda.requestMillion",
  );
  // The outbox relay (EVENT_PUBLICATION=relay, the default, and also inline, where it sweeps what
  // inline publication missed): started every minute in each region. In the active region a run
  // drains until RELAY_STOP_BEFORE_MS before its timeout, so it is billed ~65 s of every minute
  // (runs overlap by ~5 s); in the passive one it reads the flag and stops. Its flag reads are
  // strongly consistent (1 read unit each), one per ACTIVE_REGION_CACHE_MS while it drains. The
  // runs the flag stream starts after a failover are a handful a year: not counted.
  const relayRuns = 30 * 24 * 60;
  for (const role of roles) {
    const relay = resources(json, "aws_lambda_function").find(
      (x) => x.role === role && /outbox-relay/.test(String(x.r.function_name)),
    );
    if (!relay) continue;
    const gb = Number(relay.r.memory_size ?? 1024) / 1024;
    const active = role === "primary";
    const seconds = active
      ? Number(relay.r.timeout ?? 70) - RELAY_STOP_BEFORE_MS / 1000
      : a.relayPassiveRunMs / 1000;
    add(
      role,
      "Lambda",
      active
        ? `outbox relay compute (GB-s, ${seconds} s of every minute, draining)`
        : `outbox relay compute (GB-s, ${seconds * 1000} ms a minute, passive)`,
      relayRuns * seconds * gb,
      "lambda.armGbSecond",
    );
    add(
      role,
      "Lambda",
      "outbox relay requests (millions)",
      relayRuns / 1e6,
      "lambda.requestMillion",
    );
    add(
      role,
      "DynamoDB",
      "outbox relay flag reads (read units, millions)",
      (active ? relayRuns * (60_000 / MAX_ACTIVE_REGION_CACHE_MS) : relayRuns) / 1e6,
      "dynamodb.readMillion",
    );
  }
  add(
    "primary",
    "API Gateway",
    "HTTP API requests (millions)",
    a.requestsPerMonth / 1e6,
    "apigateway.httpRequestMillion",
  );

  // Network: NAT gateways (and their public IPv4), interface endpoints per AZ.
  for (const role of roles) {
    const nats = resources(json, "aws_nat_gateway").filter((x) => x.role === role).length;
    add(role, "VPC", `NAT gateways (${nats} x hours)`, nats * h, "vpc.natGatewayHour");
    add(
      role,
      "VPC",
      "public IPv4 of the NAT gateways (address-hours)",
      resources(json, "aws_eip").filter((x) => x.role === role).length * h,
      "vpc.publicIpv4Hour",
    );
    if (nats > 0) add(role, "VPC", "NAT data processed (GB)", a.natGb, "vpc.natGatewayGb");
    const azHours = resources(json, "aws_vpc_endpoint")
      .filter((x) => x.role === role && x.r.vpc_endpoint_type === "Interface")
      .reduce((n, x) => n + Math.max(1, (x.r.subnet_ids as unknown[] | undefined)?.length ?? 1), 0);
    add(
      role,
      "VPC",
      `interface endpoints (${azHours} endpoint-AZs x hours)`,
      azHours * h,
      "vpc.interfaceEndpointAzHour",
    );
    if (azHours > 0)
      add(role, "VPC", "interface endpoint data (GB)", a.endpointGb, "vpc.interfaceEndpointGb");
  }
  // Between the regions: DynamoDB replication and replicated events (~1 KB each), backup copies.
  const interRegionGb = (ddbWrites * 1 + writes * 1) / 1e6 + a.dbStorageGb;
  add(
    "primary",
    "Data transfer",
    "inter-region (GB): table replication, events, backup copies",
    interRegionGb,
    "transfer.interRegionGb",
  );

  // Route 53: zone and health checks (global; shown under the primary, where they are declared).
  for (const _ of resources(json, "aws_route53_zone"))
    add("primary", "Route 53", "hosted zone", 1, "route53.hostedZoneMonth");
  for (const { r } of resources(json, "aws_route53_health_check")) {
    add(
      "primary",
      "Route 53",
      `health check ${String((r.tags as Record<string, string> | undefined)?.Name ?? "")}`.trim(),
      1,
      "route53.healthCheckMonth",
    );
    const features =
      (String(r.type).startsWith("HTTPS") ? 1 : 0) + (Number(r.request_interval) === 10 ? 1 : 0);
    add(
      "primary",
      "Route 53",
      "health check features (HTTPS, 10 s interval)",
      features,
      "route53.healthCheckFeatureMonth",
    );
  }

  // CloudWatch: alarms by resolution, dashboards beyond 3 free, custom metrics, logs.
  for (const role of roles) {
    const alarms = resources(json, "aws_cloudwatch_metric_alarm").filter((x) => x.role === role);
    // metric_query blocks hold one `metric` each (an object, or a one-element list).
    const metricsIn = (r: Resource): { period?: number }[] =>
      ((r.metric_query as { metric?: unknown }[] | undefined) ?? []).flatMap((q) =>
        Array.isArray(q.metric)
          ? (q.metric as { period?: number }[])
          : q.metric
            ? [q.metric as { period?: number }]
            : [],
      );
    const periodOf = (r: Resource): number =>
      r.period !== undefined
        ? Number(r.period)
        : Math.min(60, ...metricsIn(r).map((m) => Number(m.period ?? 60)));
    const metricsOf = (r: Resource): number =>
      r.metric_query ? Math.max(1, metricsIn(r).length) : 1;
    const high = alarms
      .filter(({ r }) => periodOf(r) < 60)
      .reduce((n, { r }) => n + metricsOf(r), 0);
    const standard = alarms
      .filter(({ r }) => periodOf(r) >= 60)
      .reduce((n, { r }) => n + metricsOf(r), 0);
    add(
      role,
      "CloudWatch",
      "alarm metrics, standard resolution",
      standard,
      "cloudwatch.alarmMonth",
    );
    add(
      role,
      "CloudWatch",
      "alarm metrics, high resolution (10 s)",
      high,
      "cloudwatch.highResolutionAlarmMonth",
    );
    add(role, "CloudWatch", "custom metrics", a.customMetricsPerRegion, "cloudwatch.metricMonth");
    const logs = role === "primary" ? a.logsGbActive : a.logsGbPassive;
    add(role, "CloudWatch", "logs ingested (GB)", logs, "cloudwatch.logsIngestGb");
    add(
      role,
      "CloudWatch",
      "logs stored (GB, steady state at the retention)",
      logs,
      "cloudwatch.logsStorageGbMonth",
    );
  }
  const dashboards = resources(json, "aws_cloudwatch_dashboard");
  add(
    "secondary",
    "CloudWatch",
    `dashboards beyond 3 free (${dashboards.length} in all)`,
    Math.max(0, dashboards.length - 3),
    "cloudwatch.dashboardMonth",
  );

  // KMS, EventBridge, Step Functions, Backup, X-Ray.
  for (const role of roles) {
    const keys = [
      ...resources(json, "aws_kms_key"),
      ...resources(json, "aws_kms_replica_key"),
    ].filter((x) => x.role === role).length;
    add(role, "KMS", "customer-managed keys", keys, "kms.keyMonth");
    add(role, "KMS", "requests (10,000s)", a.kmsRequests / 10_000, "kms.requestTenThousand");
  }
  add(
    "primary",
    "EventBridge",
    "payment events published (millions)",
    writes / 1e6,
    "eventbridge.customEventMillion",
  );
  add(
    "secondary",
    "EventBridge",
    "events replicated in (millions)",
    writes / 1e6,
    "eventbridge.customEventMillion",
  );
  for (const role of roles) {
    if (resources(json, "aws_cloudwatch_event_archive").some((x) => x.role === role)) {
      add(
        role,
        "EventBridge",
        "archived events (GB)",
        role === "primary" ? writes / 1e6 : writes / 1e6,
        "eventbridge.archiveGb",
      );
    }
  }
  const transitionsPerRun = 40;
  add(
    "secondary",
    "Step Functions",
    "state transitions (thousands), drills",
    (a.drillsPerMonth * 2 * transitionsPerRun) / 1000,
    "stepfunctions.transitionThousand",
  );
  for (const role of roles) {
    if (!resources(json, "aws_backup_vault").some((x) => x.role === role)) continue;
    // Daily snapshots kept BACKUP_RETENTION_DAYS are incremental: about 1.5x the volume.
    add(role, "AWS Backup", "Aurora snapshots (GB)", a.dbStorageGb * 1.5, "backup.auroraGbMonth");
    add(role, "AWS Backup", "DynamoDB backups (GB)", a.dynamoGb * 7, "backup.dynamodbGbMonth");
  }
  // Lambda's active tracing records "the first request each second, and 5 percent of any
  // additional requests" (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html): a
  // relay started once a minute is traced every time, in both regions.
  const relayTraces =
    resources(json, "aws_lambda_function").filter((x) =>
      /outbox-relay/.test(String(x.r.function_name)),
    ).length * relayRuns;
  add(
    "primary",
    "X-Ray",
    "traces recorded beyond 100,000 free (millions), API and relay",
    Math.max(0, a.requestsPerMonth * a.traceShare + relayTraces - 100_000) / 1e6,
    "xray.traceMillion",
  );
  return lines;
}

/** Assumptions from COST_* environment variables (e.g. COST_REQUESTS_PER_MONTH=20000000). */
export function assumptionsFromEnv(env: NodeJS.ProcessEnv): Assumptions {
  const out: Record<string, number> = { ...DEFAULT_ASSUMPTIONS };
  for (const key of Object.keys(DEFAULT_ASSUMPTIONS)) {
    const variable = `COST_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    const raw = env[variable];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0 || (key.endsWith("Share") && value > 1)) {
      throw new CostInputError(
        `${variable}=${JSON.stringify(raw)} is not allowed: ${key.endsWith("Share") ? "a fraction from 0 to 1" : "a number, 0 or more"}`,
      );
    }
    out[key] = value;
  }
  return out as unknown as Assumptions;
}

export function formatCost(
  lines: readonly LineItem[],
  table: PriceTable,
  a: Assumptions,
  stack: string,
): string[] {
  const usd = (v: number) =>
    `$${v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  const out: string[] = [];
  out.push(
    `monthly estimate of ${stack}, ${table.currency} on-demand list prices compiled ${table.compiled} (infra/pricing/aws-prices.json)`,
  );
  const regions = [...new Set(lines.map((l) => l.region))];
  let total = 0;
  for (const region of regions) {
    const inRegion = lines.filter((l) => l.region === region);
    const sum = inRegion.reduce((n, l) => n + l.monthly, 0);
    total += sum;
    out.push("", `${region}: ${usd(sum)}`);
    const services = [...new Set(inRegion.map((l) => l.service))];
    for (const service of services.sort(
      (x, y) =>
        inRegion.filter((l) => l.service === y).reduce((n, l) => n + l.monthly, 0) -
        inRegion.filter((l) => l.service === x).reduce((n, l) => n + l.monthly, 0),
    )) {
      const items = inRegion.filter((l) => l.service === service);
      out.push(
        `  ${service.padEnd(15)} ${usd(items.reduce((n, l) => n + l.monthly, 0)).padStart(11)}`,
      );
      for (const l of items) {
        out.push(
          `    ${l.item.padEnd(62).slice(0, 62)} ${l.quantity.toLocaleString("en-US", { maximumFractionDigits: 2 }).padStart(12)} x ${String(l.unitPrice).padEnd(12)} = ${usd(l.monthly)}`,
        );
      }
    }
  }
  out.push("", `total: ${usd(total)} per month`);
  out.push("", "assumptions (override with COST_<NAME>, e.g. COST_REQUESTS_PER_MONTH=20000000):");
  for (const [key, value] of Object.entries(a)) {
    out.push(
      `  ${`COST_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`.padEnd(34)} ${value}`,
    );
  }
  out.push(
    `  hours per month ${table.hoursPerMonth}; all API traffic in the active (primary) region; the secondary holds replicas, the prober and the detection alarms`,
  );
  out.push("", "left out:");
  for (const item of LEFT_OUT) out.push(`  - ${item}`);
  out.push("", `prices: ${table.note}`);
  const sources = [
    ...new Set(Object.values(table.prices).map((p) => p.source.replace(/#.*$/, ""))),
  ];
  out.push(`sources: ${sources.join(", ")}`);
  return out;
}
