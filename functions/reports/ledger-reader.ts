// Reading the ledger from outside AWS: `npm run ledger` and the on-call CLI's `history`. One
// small module so both read it the same way: the newest runs of the ledger global table in one
// region, through its `by-time` index, and what they say about drills and trends.
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { readRecent } from "./shared/aws/ledger";
import type { LedgerEntry } from "./shared/model";

export {
  drillStatus,
  newestFirst,
  rpoVerdict,
  rtoTrend,
  rtoVerdict,
  summarize,
} from "./shared/ledger";
export type { DrillStatus, KindSummary, Trend } from "./shared/ledger";
export type { LedgerEntry, Outcome, RunKind, Targets } from "./shared/model";

/** The ledger table of an environment: `payments-dr-ledger-<suffix>`, in both regions. */
export function ledgerTableName(environmentSuffix: string): string {
  return `payments-dr-ledger-${environmentSuffix}`;
}

export interface ReadLedgerOptions {
  readonly region: string;
  readonly environmentSuffix: string;
  /** @default 20 */
  readonly limit?: number;
  /** @default - a client for `region` with the default credential chain */
  readonly client?: DynamoDBClient;
}

/** The newest runs and drills, newest first. Either region's replica holds all of them. */
export async function readLedger(options: ReadLedgerOptions): Promise<LedgerEntry[]> {
  const client = options.client ?? new DynamoDBClient({ region: options.region });
  const doc = DynamoDBDocumentClient.from(client);
  return readRecent(doc, ledgerTableName(options.environmentSuffix), options.limit ?? 20);
}

/** When the ledger began (the table's creation): the clock for "no drill has passed yet". */
export async function ledgerCreatedAt(options: Omit<ReadLedgerOptions, "limit">): Promise<Date> {
  const client = options.client ?? new DynamoDBClient({ region: options.region });
  const out = await client.send(
    new DescribeTableCommand({ TableName: ledgerTableName(options.environmentSuffix) }),
  );
  if (!out.Table?.CreationDateTime) {
    throw new Error(`${ledgerTableName(options.environmentSuffix)} has no creation time`);
  }
  return new Date(out.Table.CreationDateTime);
}
