// Synthesized resource addresses are a contract with deployed state: Terraform matches state to
// configuration by address (`<type>.<logical id>`), so a changed construct id or a moved
// construct destroys the old resource and creates a new one. For a database, a table, a vault or
// a key, that is data loss. The recorded lists live in test/fixtures/addresses/ and
// `npm run addresses` checks or (with --update) rewrites them. Pure: JSON in, text out.
import type { TerraformJson } from "./synthesized";

/**
 * Every non-default setting at once (a domain, alerts, more instances, the global endpoint,
 * approval mode, readiness rules, ...): with the defaults, the two synths whose addresses are
 * recorded, between them covering every optional resource.
 */
export const ALL_OPTIONS_ENV = {
  DOMAIN_NAME: "pay.acme-payments.io",
  ALERT_EMAIL: "oncall@acme-payments.io",
  DB_PRIMARY_INSTANCES: "3",
  DB_SECONDARY_INSTANCES: "2",
  DB_RPO_SECONDS: "20",
  DB_DELETION_PROTECTION: "true",
  NAT_GATEWAYS: "single",
  PAYMENTS_RESERVED_CONCURRENCY: "50",
  HEALTH_CHECK_FAILURE_THRESHOLD: "5",
  EVENTS_GLOBAL_ENDPOINT: "true",
  PROBE_ALARM_DATAPOINTS: "4",
  PROBE_ALARM_PERIODS: "6",
  FAILOVER_MODE: "approval",
  FAILOVER_APPROVAL_TIMEOUT_MINUTES: "25",
  DR_READINESS_RULES: "true",
  DRILL_MAX_AGE_DAYS: "35",
  REPORT_RETENTION_DAYS: "730",
} as const;

/**
 * The writer moved to the secondary slot (after a failover or a re-protect): the standby pieces
 * (detection, the failover trigger, the drill schedule) live in the primary slot under their own
 * construct ids, which are as much a contract as the default ones.
 */
export const WRITER_MOVED_ENV = { WRITER_REGION: "us-west-2" } as const;

/** The synths whose addresses are recorded, by the name of their file. */
export const ADDRESS_CONTRACTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  default: {},
  "all-options": ALL_OPTIONS_ENV,
  "writer-moved": WRITER_MOVED_ENV,
};

/** Where the recorded lists live, relative to the repository root. */
export const ADDRESSES_DIR = "test/fixtures/addresses";

/** A data store: what it holds, and the arguments whose change replaces it (ForceNew). */
interface DataStoreType {
  readonly holds: string;
  readonly identity: readonly string[];
  /** Only these resources of the type hold state. @default - every one */
  readonly when?: (resource: Record<string, unknown>) => boolean;
}

/**
 * Resource types whose replacement loses data, state or the ability to read it. A replaced item
 * of the control table or an orchestrator-owned parameter resets to its seed (the fencing flag
 * naming the deployed primary again): as bad as data loss.
 */
export const DATA_STORE_TYPES: Readonly<Record<string, DataStoreType>> = {
  aws_rds_global_cluster: {
    holds: "Aurora global cluster",
    identity: ["global_cluster_identifier", "engine", "storage_encrypted", "provider"],
  },
  aws_rds_cluster: {
    holds: "Aurora cluster (the payments database)",
    identity: [
      "cluster_identifier",
      "engine",
      "database_name",
      "kms_key_id",
      "storage_encrypted",
      "provider",
    ],
  },
  aws_dynamodb_table: {
    holds: "DynamoDB global table",
    identity: ["name", "hash_key", "provider"],
  },
  aws_dynamodb_table_item: {
    holds: "DynamoDB item (the fencing flag)",
    identity: ["table_name", "hash_key", "provider"],
  },
  aws_backup_vault: {
    holds: "AWS Backup vault (the recovery points)",
    identity: ["name", "kms_key_arn", "provider"],
  },
  aws_kms_key: {
    holds: "KMS key (what the data is encrypted with)",
    identity: ["multi_region", "provider"],
  },
  aws_kms_replica_key: {
    holds: "KMS replica key (what the secondary's data is encrypted with)",
    identity: ["primary_key_arn", "provider"],
  },
  aws_s3_bucket: { holds: "S3 bucket", identity: ["bucket", "bucket_prefix", "provider"] },
  aws_sqs_queue: { holds: "SQS queue (undelivered events)", identity: ["name", "provider"] },
  aws_cloudwatch_event_archive: {
    holds: "EventBridge archive (events kept for replay)",
    identity: ["name", "provider"],
  },
  aws_ssm_parameter: {
    holds: "parameter the orchestrator rewrites (resets to its first value after a failover)",
    identity: ["name", "provider"],
    when: (r) =>
      ((r.lifecycle as { ignore_changes?: string[] } | undefined)?.ignore_changes ?? []).includes(
        "value",
      ),
  },
  aws_route53_zone: {
    holds: "hosted zone (new name servers break the domain's delegation)",
    identity: ["name", "provider"],
  },
  aws_sns_topic_subscription: {
    holds: "alert subscription (an email must confirm again; pages are lost until then)",
    identity: ["topic_arn", "protocol", "endpoint", "provider"],
  },
};

/**
 * One line per resource address, Terraform output and variable, sorted. A data store's line
 * carries its identity (the arguments whose change replaces it) as JSON, so a replacement under
 * the same address is caught too.
 */
export function contractLines(json: TerraformJson): string[] {
  const lines: string[] = [];
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    const store = DATA_STORE_TYPES[type];
    for (const [name, resource] of Object.entries(byName)) {
      const address = `${type}.${name}`;
      if (store && (store.when?.(resource) ?? true)) {
        const identity = Object.fromEntries(store.identity.map((k) => [k, resource[k] ?? null]));
        lines.push(`${address} ${JSON.stringify(identity)}`);
      } else {
        lines.push(address);
      }
    }
  }
  for (const name of Object.keys(json.output ?? {})) lines.push(`output.${name}`);
  for (const name of Object.keys(json.variable ?? {})) lines.push(`var.${name}`);
  return lines.sort();
}

/** Every managed resource's address, sorted. */
export function resourceAddresses(json: TerraformJson): string[] {
  return Object.entries(json.resource ?? {})
    .flatMap(([type, byName]) => Object.keys(byName).map((name) => `${type}.${name}`))
    .sort();
}

export interface AddressChanges {
  /** Recorded but no longer synthesized: Terraform would destroy them (or operators lose them). */
  readonly removed: readonly string[];
  /** Synthesized but not recorded: Terraform would create them. */
  readonly added: readonly string[];
  /** Data stores destroyed: removed, or replaced in place because their identity changed. */
  readonly dataStoresLost: readonly string[];
  /** Recorded lines that differ in any other way (e.g. a resource that now counts as a store). */
  readonly otherChanges: readonly string[];
}

function split(line: string): { key: string; identity?: string } {
  const space = line.indexOf(" ");
  return space < 0 ? { key: line } : { key: line.slice(0, space), identity: line.slice(space + 1) };
}

export function compareAddresses(
  recorded: readonly string[],
  current: readonly string[],
): AddressChanges {
  const was = new Map(recorded.map((l) => [split(l).key, split(l).identity]));
  const now = new Map(current.map((l) => [split(l).key, split(l).identity]));
  const removed = [...was.keys()].filter((a) => !now.has(a));
  const added = [...now.keys()].filter((a) => !was.has(a));
  const kept = [...was.keys()].filter((a) => now.has(a) && now.get(a) !== was.get(a));
  const replaced = kept.filter((a) => was.get(a) !== undefined && now.get(a) !== undefined);
  const dataStoresLost = [
    ...removed.filter((a) => was.get(a) !== undefined || alwaysHoldsData(a)),
    ...replaced.map((a) => `${a} replaced: identity was ${was.get(a)}, now ${now.get(a)}`),
  ];
  const otherChanges = kept
    .filter((a) => !replaced.includes(a))
    .map(
      (a) =>
        `${a}: ${was.get(a) ?? "not tracked as a data store"} -> ${now.get(a) ?? "not tracked as a data store"}`,
    );
  return { removed, added, dataStoresLost, otherChanges };
}

/** A type every resource of which holds data, whatever its recorded line says. */
function alwaysHoldsData(address: string): boolean {
  const store = DATA_STORE_TYPES[typeOf(address)];
  return store !== undefined && store.when === undefined;
}

function typeOf(address: string): string {
  return address.slice(0, address.indexOf("."));
}

export function hasChanges(changes: AddressChanges): boolean {
  return (
    changes.removed.length > 0 ||
    changes.added.length > 0 ||
    changes.dataStoresLost.length > 0 ||
    changes.otherChanges.length > 0
  );
}

/** What changed, what it would destroy, and how to accept it if it is deliberate. */
export function describeChanges(configName: string, file: string, changes: AddressChanges): string {
  const lines = [`resource addresses of the ${configName} synth differ from ${file}:`];
  if (changes.dataStoresLost.length > 0) {
    lines.push(
      "DATA LOSS: terraform apply would destroy these data stores and create empty ones:",
      ...changes.dataStoresLost.map(
        (a) => `  ${a} (${DATA_STORE_TYPES[typeOf(a)]?.holds ?? "data store"})`,
      ),
      "  Keep their construct ids and identifying arguments, or add a `moved` block from the old to the new address.",
    );
  }
  const removedOutputs = changes.removed.filter((a) => /^(output|var)\./.test(a));
  if (removedOutputs.length > 0) {
    lines.push(
      "removed outputs or variables (operators' scripts and TF_VAR_ settings that use them break):",
      ...removedOutputs.map((a) => `  - ${a}`),
    );
  }
  const removedResources = changes.removed.filter((a) => !/^(output|var)\./.test(a));
  if (removedResources.length > 0) {
    lines.push("removed (terraform would destroy):", ...removedResources.map((a) => `  - ${a}`));
  }
  if (changes.added.length > 0) {
    lines.push("added (terraform would create):", ...changes.added.map((a) => `  + ${a}`));
  }
  if (changes.otherChanges.length > 0) {
    lines.push("changed:", ...changes.otherChanges.map((a) => `  ~ ${a}`));
  }
  lines.push(
    "If this is deliberate, accept it with `npm run addresses -- --update` (and `--allow-data-loss` when a data store goes) and say why in the commit.",
  );
  return lines.join("\n");
}

/** The checked-in list: one line each. */
export function formatAddresses(lines: readonly string[]): string {
  return `${lines.join("\n")}\n`;
}

export function parseAddresses(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}
