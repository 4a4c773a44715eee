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
} as const;

/** The synths whose addresses are recorded, by the name of their file. */
export const ADDRESS_CONTRACTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  default: {},
  "all-options": ALL_OPTIONS_ENV,
};

/** Where the recorded lists live, relative to the repository root. */
export const ADDRESSES_DIR = "test/fixtures/addresses";

/**
 * Resource types whose replacement loses data or the ability to read it, with what they hold.
 * A replaced item of the control table resets the fencing flag to its seed: as bad as data loss.
 */
export const DATA_STORE_TYPES: Readonly<Record<string, string>> = {
  aws_rds_global_cluster: "Aurora global cluster",
  aws_rds_cluster: "Aurora cluster (the payments database)",
  aws_dynamodb_table: "DynamoDB global table",
  aws_dynamodb_table_item: "DynamoDB item (the fencing flag)",
  aws_backup_vault: "AWS Backup vault (the recovery points)",
  aws_kms_key: "KMS key (what the data is encrypted with)",
  aws_kms_replica_key: "KMS replica key (what the secondary's data is encrypted with)",
  aws_s3_bucket: "S3 bucket",
  aws_sqs_queue: "SQS queue (undelivered events)",
  aws_cloudwatch_event_archive: "EventBridge archive (events kept for replay)",
};

/** Every managed resource's address, sorted. */
export function resourceAddresses(json: TerraformJson): string[] {
  return Object.entries(json.resource ?? {})
    .flatMap(([type, byName]) => Object.keys(byName).map((name) => `${type}.${name}`))
    .sort();
}

export interface AddressChanges {
  /** Recorded but no longer synthesized: Terraform would destroy them. */
  readonly removed: readonly string[];
  /** Synthesized but not recorded: Terraform would create them. */
  readonly added: readonly string[];
  /** The removed ones that hold data. */
  readonly dataStoresLost: readonly string[];
}

export function compareAddresses(
  recorded: readonly string[],
  current: readonly string[],
): AddressChanges {
  const was = new Set(recorded);
  const now = new Set(current);
  const removed = recorded.filter((a) => !now.has(a));
  const added = current.filter((a) => !was.has(a));
  const dataStoresLost = removed.filter((a) => DATA_STORE_TYPES[typeOf(a)] !== undefined);
  return { removed, added, dataStoresLost };
}

function typeOf(address: string): string {
  return address.slice(0, address.indexOf("."));
}

export function hasChanges(changes: AddressChanges): boolean {
  return changes.removed.length > 0 || changes.added.length > 0;
}

/** What changed, what it would destroy, and how to accept it if it is deliberate. */
export function describeChanges(configName: string, file: string, changes: AddressChanges): string {
  const lines = [`resource addresses of the ${configName} synth differ from ${file}:`];
  if (changes.dataStoresLost.length > 0) {
    lines.push(
      "DATA LOSS: terraform apply would destroy these data stores and create empty ones:",
      ...changes.dataStoresLost.map((a) => `  ${a} (${DATA_STORE_TYPES[typeOf(a)]})`),
      "  Keep their construct ids, or add a `moved` block from the old to the new address.",
    );
  }
  if (changes.removed.length > 0) {
    lines.push("removed (terraform would destroy):", ...changes.removed.map((a) => `  - ${a}`));
  }
  if (changes.added.length > 0) {
    lines.push("added (terraform would create):", ...changes.added.map((a) => `  + ${a}`));
  }
  lines.push(
    "If this is deliberate, accept it with `npm run addresses -- --update` and say why in the commit.",
  );
  return lines.join("\n");
}

/** The checked-in list: one address a line. */
export function formatAddresses(addresses: readonly string[]): string {
  return `${addresses.join("\n")}\n`;
}

export function parseAddresses(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}
