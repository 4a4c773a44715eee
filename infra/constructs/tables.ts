import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { DynamodbTableItem } from "@cdktf/provider-aws/lib/dynamodb-table-item";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Fn, TerraformStack, Token, ref } from "cdktf";
import { Construct } from "constructs";
import { CONTROL, FENCE_PHASE, IDEMPOTENCY, SESSIONS } from "../../functions/common/contract";
import type { ActiveRegionItem } from "../../functions/common/contract";
import type { Naming } from "../naming";
import type { PlatformKey } from "./keys";

export interface TableRegion {
  readonly provider: AwsProvider;
  readonly region: string;
  readonly key: PlatformKey;
}

export interface GlobalTablesProps {
  readonly naming: Naming;
  /** The table is created here; its replica lives in `secondary`. */
  readonly primary: TableRegion;
  readonly secondary: TableRegion;
  /** @default false */
  readonly deletionProtection?: boolean;
  /** The region the fencing flag names at first: the deployed primary. */
  readonly initialActiveRegion: string;
}

/** A global table and where its secondary replica lives. */
export interface GlobalTable {
  readonly component: string;
  readonly table: DynamodbTable;
  readonly name: string;
  readonly primaryArn: string;
  /** ARN of the replica in the secondary region. */
  readonly replicaArn: string;
  /** The stream of the table in the primary region. */
  readonly primaryStreamArn: string;
  /**
   * The stream of the replica in the secondary region. Global tables keep a stream on every
   * replica, and a replica's stream carries the writes replicated into it as well as its own.
   */
  readonly replicaStreamArn: string;
}

interface TableDesign {
  readonly component: string;
  readonly partitionKey: string;
  readonly ttlAttribute: string;
}

/**
 * Key designs. Each table has a single string partition key and no sort key: every access is
 * by exact key, and a global table replicates items, not queries.
 * - sessions: `sessionId` -> the session (merchant, created/last seen), expiring at `expiresAt`.
 * - control: `pk` -> one item per concern: the active-region flag (the fencing token), the
 *   failover lock and the cooldown; the lock expires at `expiresAt`.
 * - idempotency: `id` -> in-flight locks of the payment writes (`lock#<merchant>#<key>`:
 *   `holder`, `lockExpiresAt`, `region`), removed by TTL at `expiration`; the answers themselves
 *   live in PostgreSQL.
 */
export const TABLE_DESIGNS = {
  sessions: {
    component: "sessions",
    partitionKey: SESSIONS.partitionKey,
    ttlAttribute: SESSIONS.ttlAttribute,
  },
  control: {
    component: "control",
    partitionKey: CONTROL.partitionKey,
    ttlAttribute: CONTROL.ttlAttribute,
  },
  idempotency: {
    component: "idempotency",
    partitionKey: IDEMPOTENCY.partitionKey,
    ttlAttribute: IDEMPOTENCY.ttlAttribute,
  },
} as const satisfies Record<string, TableDesign>;

/**
 * DynamoDB global tables (version 2019.11.21): created in the primary region with a replica in
 * the secondary, on-demand, with point-in-time recovery on the table and, explicitly, on the
 * replica (a replica block's PITR is off unless set), a CMK in each region and streams of new
 * and old images (which replication needs anyway).
 */
export class GlobalTables extends Construct {
  public readonly sessions: GlobalTable;
  public readonly control: GlobalTable;
  public readonly idempotency: GlobalTable;
  public readonly activeRegionFlag: DynamodbTableItem;

  constructor(scope: Construct, id: string, props: GlobalTablesProps) {
    super(scope, id);
    this.sessions = this.table(props, TABLE_DESIGNS.sessions);
    this.control = this.table(props, TABLE_DESIGNS.control);
    this.idempotency = this.table(props, TABLE_DESIGNS.idempotency);

    // The fencing flag starts out naming the primary; from then on only the orchestrator
    // writes it, so Terraform ignores its later values. Created in the stack's scope, where it
    // has always lived: its address is part of deployed state.
    this.activeRegionFlag = new DynamodbTableItem(TerraformStack.of(this), "active-region-flag", {
      provider: props.primary.provider,
      tableName: this.control.table.name,
      hashKey: CONTROL.partitionKey,
      item: JSON.stringify({
        [CONTROL.partitionKey]: { S: CONTROL.activeRegionItem },
        ...seedItem({
          activeRegion: props.initialActiveRegion,
          fencingToken: 0,
          phase: FENCE_PHASE.open,
          updatedAt: "1970-01-01T00:00:00.000Z",
          updatedBy: "terraform",
          reason: "initial deployment",
        }),
      }),
      lifecycle: { ignoreChanges: ["item"] },
    });
  }

  get all(): GlobalTable[] {
    return [this.sessions, this.control, this.idempotency];
  }

  private table(props: GlobalTablesProps, design: TableDesign): GlobalTable {
    const { naming, primary, secondary } = props;
    const name = naming.name("dynamodbTable", design.component);
    const table = new DynamodbTable(this, design.component, {
      provider: primary.provider,
      name,
      billingMode: "PAY_PER_REQUEST",
      hashKey: design.partitionKey,
      attribute: [{ name: design.partitionKey, type: "S" }],
      ttl: { attributeName: design.ttlAttribute, enabled: true },
      pointInTimeRecovery: { enabled: true },
      serverSideEncryption: { enabled: true, kmsKeyArn: primary.key.arn },
      streamEnabled: true,
      streamViewType: "NEW_AND_OLD_IMAGES",
      deletionProtectionEnabled: props.deletionProtection ?? false,
      replica: [
        {
          regionName: secondary.region,
          kmsKeyArn: secondary.key.arn,
          pointInTimeRecovery: true,
          propagateTags: true,
        },
      ],
    });
    return {
      component: design.component,
      table,
      name,
      primaryArn: table.arn,
      // The replica set cannot be indexed; its ARN differs from the table's only by region.
      replicaArn: `arn:aws:dynamodb:${secondary.region}:${secondary.key.accountId}:table/${name}`,
      primaryStreamArn: table.streamArn,
      // A stream ARN ends in its creation label, so it cannot be built; the replica set cannot
      // be indexed either, so the one whose region matches is picked from the splat.
      replicaStreamArn: Token.asString(
        Fn.one(
          Fn.matchkeys(
            Token.asList(ref(`${table.fqn}.replica[*].stream_arn`)),
            Token.asList(ref(`${table.fqn}.replica[*].region_name`)),
            [secondary.region],
          ),
        ),
      ),
    };
  }
}

/** The seed of the active-region item in DynamoDB's JSON, typed by the contract's item. */
function seedItem(item: ActiveRegionItem): Record<string, { S: string } | { N: string }> {
  return Object.fromEntries(
    Object.entries(item).map(([name, value]) => [
      name,
      typeof value === "number" ? { N: String(value) } : { S: String(value) },
    ]),
  );
}
