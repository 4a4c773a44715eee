// What the report functions need from the outside world. The AWS adapters (./aws/) implement
// these; the tests and the local report command use the in-memory ones (./memory.ts).
import type { LedgerEntry } from "./model";

/** The region's report bucket. */
export interface ReportStore {
  /**
   * Stores `body` under `key`. With `ifAbsent`, only when no object has that key yet: returns
   * false (and writes nothing) when one had.
   */
  put(
    key: string,
    body: string,
    contentType: string,
    options?: { readonly ifAbsent?: boolean },
  ): Promise<boolean>;
}

/** The ledger global table, read and written in one region. */
export interface LedgerStore {
  /** With `ifAbsent`, only when the run has no row yet: returns false when it had. */
  put(entry: LedgerEntry, options?: { readonly ifAbsent?: boolean }): Promise<boolean>;
  get(id: string): Promise<LedgerEntry | null>;
  /** The newest `limit` runs, newest first. */
  recent(limit: number): Promise<LedgerEntry[]>;
  /** When the ledger began: the table's creation, i.e. the deployment. */
  createdAt(): Promise<Date>;
}

export interface Metric {
  readonly name: string;
  readonly value: number;
  readonly unit: "Count" | "None" | "Seconds";
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface MetricsSink {
  put(namespace: string, metrics: readonly Metric[]): Promise<void>;
}

/** One state of a Step Functions execution, from its history. */
export interface HistoryState {
  readonly name: string;
  /** The state's type as the history names it: Task, Wait, Choice, Pass, Fail, Succeed, ... */
  readonly type: string;
  readonly enteredAt: string;
  /** Absent when the execution ended inside the state (aborted, timed out). */
  readonly exitedAt?: string;
  /** The error when the state failed (its task failed, timed out or was caught). */
  readonly error?: string;
}

/** What happened in an execution, from GetExecutionHistory. */
export interface ExecutionHistory {
  readonly states: readonly HistoryState[];
  readonly error?: string;
  readonly cause?: string;
}

export interface ExecutionsPort {
  /** null when the history cannot be read (expired, denied): the report then says so. */
  history(executionArn: string): Promise<ExecutionHistory | null>;
}
