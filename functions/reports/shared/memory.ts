// In-memory report bucket and ledger: what the workflow tests, the drill test and the local
// report command write to. Same semantics as the AWS adapters (ifAbsent, newest first).
import type { LedgerEntry } from "./model";
import type { LedgerStore, ReportStore } from "./ports";
import { newestFirst } from "./ledger";

export class MemoryReportStore implements ReportStore {
  readonly objects = new Map<string, { body: string; contentType: string }>();

  async put(
    key: string,
    body: string,
    contentType: string,
    options: { readonly ifAbsent?: boolean } = {},
  ): Promise<boolean> {
    if (options.ifAbsent && this.objects.has(key)) return false;
    this.objects.set(key, { body, contentType });
    return true;
  }
}

export class MemoryLedger implements LedgerStore {
  readonly entries = new Map<string, LedgerEntry>();

  constructor(private readonly created: Date = new Date(0)) {}

  async put(entry: LedgerEntry, options: { readonly ifAbsent?: boolean } = {}): Promise<boolean> {
    if (options.ifAbsent && this.entries.has(entry.id)) return false;
    this.entries.set(entry.id, structuredClone(entry));
    return true;
  }

  async get(id: string): Promise<LedgerEntry | null> {
    const entry = this.entries.get(id);
    return entry ? structuredClone(entry) : null;
  }

  async recent(limit: number): Promise<LedgerEntry[]> {
    return newestFirst([...this.entries.values()]).slice(0, limit);
  }

  async createdAt(): Promise<Date> {
    return this.created;
  }
}
