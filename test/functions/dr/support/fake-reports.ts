// The report writer of each region, in memory: the real writer core (validation, rendering,
// ledger) over an in-memory bucket per region and one ledger (a global table), reached through
// the same port the tasks use. Every hand-over is a recorded call in the task's region.
import type { ReportsPort } from "../../../../functions/dr/shared/ports";
import { MemoryLedger, MemoryReportStore } from "../../../../functions/reports/shared/memory";
import { reportLocation } from "../../../../functions/reports/shared/model";
import type { RunReport } from "../../../../functions/reports/shared/model";
import type { WriterDeps } from "../../../../functions/reports/writer/core";
import { writeReport } from "../../../../functions/reports/writer/core";

export const TEST_TARGETS = { rtoTargetSeconds: 900, rtoGoalSeconds: 180, rpoTargetSeconds: 300 };

interface World {
  call(region: string, profile: "bestEffort", op: string, args?: unknown): void;
  readonly clock: number;
}

export const REPORT_INVOKE = "lambda:Invoke report-writer";

export class FakeReports {
  readonly ledger: MemoryLedger;
  readonly buckets = new Map<string, MemoryReportStore>();

  constructor(
    private readonly world: World,
    private readonly environment = "test",
  ) {
    this.ledger = new MemoryLedger(new Date(world.clock));
  }

  bucketName(region: string): string {
    return `payments-dr-reports-${region}-${this.environment}-x`;
  }

  store(region: string): MemoryReportStore {
    let store = this.buckets.get(region);
    if (!store) {
      store = new MemoryReportStore();
      this.buckets.set(region, store);
    }
    return store;
  }

  writer(region: string): WriterDeps {
    return {
      settings: {
        environment: this.environment,
        region,
        bucket: this.bucketName(region),
        targets: {
          default: TEST_TARGETS,
          "restore-drill": {
            rtoTargetSeconds: 7200,
            rtoGoalSeconds: 7200,
            rpoTargetSeconds: 172_800,
          },
        },
      },
      store: this.store(region),
      ledger: this.ledger,
      executions: { history: async () => null },
      now: () => new Date(this.world.clock),
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    };
  }

  port(region: string): ReportsPort {
    return {
      submit: async (report) => {
        this.world.call(region, "bestEffort", REPORT_INVOKE, {
          kind: report.kind,
          runId: report.runId,
        });
        await writeReport(report, this.writer(region));
        return reportLocation(
          this.bucketName(region),
          region,
          report.kind,
          report.runId,
          report.startedAt,
        );
      },
    };
  }

  /** Every stored report, parsed. */
  all(): RunReport[] {
    return [...this.buckets.values()].flatMap((store) =>
      [...store.objects.entries()]
        .filter(([key]) => key.endsWith(".json"))
        .map(([, o]) => JSON.parse(o.body) as RunReport),
    );
  }

  /** The stored report of a run, parsed, and its page. */
  find(kind: string, runId: string): { report: RunReport; html: string } | undefined {
    for (const store of this.buckets.values()) {
      for (const [key, object] of store.objects) {
        if (key.startsWith(`reports/${kind}/`) && key.endsWith(`/${runId}.json`)) {
          return {
            report: JSON.parse(object.body) as RunReport,
            html: store.objects.get(key.replace(/\.json$/, ".html"))!.body,
          };
        }
      }
    }
    return undefined;
  }
}
