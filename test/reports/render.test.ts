import type { RunReport } from "../../functions/reports/shared/model";
import { reportLocation } from "../../functions/reports/shared/model";
import {
  escapeHtml,
  formatSeconds,
  renderLedgerPage,
  renderReportHtml,
} from "../../functions/reports/shared/render";
import { entry, switchoverReport, TARGETS } from "./support/samples";

function stored(overrides: Parameters<typeof switchoverReport>[0] = {}): RunReport {
  const input = switchoverReport(overrides);
  return {
    ...input,
    schemaVersion: 1,
    environment: "dev",
    targets: TARGETS,
    writtenAt: "2026-11-10T16:00:00.000Z",
    location: reportLocation("bucket", input.region, input.kind, input.runId, input.startedAt),
  };
}

/** The bars of the timeline chart: each step's label and width. */
function bars(html: string): Array<{ title: string; width: number }> {
  return [
    ...html.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"[^>]*><title>([^<]*)<\/title>/g),
  ].map((m) => ({ width: Number(m[1]), title: m[2]! }));
}

describe("the report page", () => {
  it("is one self-contained page: no script, no external stylesheet, font or image", () => {
    const html = renderReportHtml(stored());
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/<script|<link |<img |@import|url\(/i);
    expect(html).not.toMatch(/src="http/);
  });

  it("draws one bar per timed step, as long as the step took, coloured by its status", () => {
    const html = renderReportHtml(stored());
    const drawn = bars(html);
    expect(drawn.map((b) => b.title.split(":")[0])).toEqual([
      "ValidateInput",
      "Preflight",
      "Fence",
      "Switchover",
      "CheckPromotion",
      "ShiftTraffic",
      "Verify",
    ]);
    const width = (name: string) => drawn.find((b) => b.title.startsWith(name))!.width;
    // CheckPromotion took 87 s, Verify 27 s: bars in proportion (within rounding).
    expect(width("CheckPromotion") / width("Verify")).toBeCloseTo(87 / 27, 1);
    expect(html).toMatch(
      /<rect [^>]*fill="#ef8f00"><title>ShiftTraffic: 3 s \(warning\) Route 53 did not answer/,
    );
  });

  it("marks the measured RTO and the goal on the chart, and states them against the targets", () => {
    const html = renderReportHtml(stored());
    expect(html).toMatch(/<text [^>]*>RTO<\/text>/);
    expect(html).toMatch(/<text [^>]*>goal<\/text>/);
    // The 900 s target is far beyond this 140 s run: not drawn, but stated.
    expect(html).not.toMatch(/>target<\/text>/);
    expect(html).toContain(
      "2 min 11 s</b><span>measured RTO: within goal (goal 3 min, target 15 min)",
    );
    expect(html).toContain("120 ms</b><span>RPO estimate: within target (target 5 min)");
  });

  it("shows who triggered the run, its warnings and the configuration it ran with", () => {
    const html = renderReportHtml(stored());
    expect(html).toContain("<th>By</th><td>payments-dr-drill-dev</td>");
    expect(html).toContain(
      '<div class="warn">ShiftTraffic failed (TransientError: Route 53 did not answer).</div>',
    );
    expect(html).toContain("<tr><th>cooldownMinutes</th><td>30</td></tr>");
  });

  it("lists a step that never ran without a bar, and failed checks in red", () => {
    const html = renderReportHtml(
      stored({
        outcome: "failed",
        steps: [{ name: "RestoreTable", status: "failed", detail: "LimitExceededException" }],
        checks: [
          {
            name: "payments rows",
            expected: "1200",
            actual: "1199",
            passed: false,
            basis: "live reader",
          },
        ],
      }),
    );
    expect(bars(html)).toEqual([]);
    expect(html).toContain("failed: no timing recorded");
    expect(html).toContain(
      '<td class="fail">FAILED</td><td>1200</td><td>1199</td><td>live reader</td>',
    );
  });

  it("escapes everything a run supplies, so a reason cannot inject markup", () => {
    const html = renderReportHtml(
      stored({ trigger: { kind: "console", by: null, reason: '<script>alert("x")</script>' } }),
    );
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(escapeHtml(`a&b<'"`)).toBe("a&amp;b&lt;&#39;&quot;");
  });

  it("formats durations the way on-call reads them", () => {
    expect([
      formatSeconds(null),
      formatSeconds(0.12),
      formatSeconds(97.34),
      formatSeconds(600),
      formatSeconds(3725),
    ]).toEqual(["—", "120 ms", "97.3 s", "10 min", "1 h 2 min 5 s"]);
  });
});

describe("the ledger page", () => {
  it("shows the newest runs first with their verdicts and the drills' age", () => {
    const html = renderLedgerPage(
      [
        entry({ kind: "failover-drill", endedAt: "2026-10-13T15:30:00.000Z", rtoSeconds: 200 }),
        entry({ kind: "failover-drill", endedAt: "2026-11-10T15:30:00.000Z", rtoSeconds: 1000 }),
      ],
      {
        now: new Date("2026-11-20T00:00:00.000Z"),
        since: new Date("2026-09-01T00:00:00.000Z"),
        maxDrillAgeDays: 40,
        limit: 10,
        environment: "dev",
      },
    );
    const rows = [...html.matchAll(/<tr><td>(2026-[^<]+)<\/td>/g)].map((m) => m[1]);
    expect(rows).toEqual(["2026-11-10 15:30", "2026-10-13 15:30"]);
    expect(html).toContain("<td>over target</td>");
    expect(html).toContain("<td>within target, over goal</td>");
    // The restore drill never ran: 80 days since the ledger began, over the 40-day limit.
    expect(html).toMatch(
      /<td>restore-drill<\/td><td>never<\/td><td class="num fail">80\.0 d \(over 40\)/,
    );
  });
});
