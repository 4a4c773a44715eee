// Issue 13, review 25-13i H1: the lab holds the old region's own commits to the settle the DR
// tasks waited, on the old primary's commit timestamps, so a write window longer than the settle
// counts fails a run even where no instant had two writers.
import { quietAfterSettleCheck } from "../../lab/checks";
import type { DatabaseContents, EventRow } from "../../lab/checks";

const FAULT = 1_000_000;

function primary(region: string, events: [string, string, number][]): DatabaseContents {
  return {
    region,
    source: "live",
    payments: new Map(),
    events: new Map(
      events.map(([eventId, originRegion, committedAt]): [string, EventRow] => [
        eventId,
        { eventId, paymentId: `p-${eventId}`, type: "authorized", originRegion, committedAt },
      ]),
    ),
  };
}

describe("the old region's quiet after the settle", () => {
  const window = { fencedAt: FAULT + 10_000, settleMs: 172_000, faultAt: FAULT };

  it("passes when the old region's own last commit is inside the settle", () => {
    const old = primary("us-east-1", [
      ["a", "us-east-1", FAULT + 5_000],
      ["b", "us-east-1", FAULT + 10_000 + 171_999],
    ]);
    const check = quietAfterSettleCheck(old, window);
    expect(check).toEqual({
      name: "old-region-quiet-after-settle",
      ok: true,
      detail:
        "us-east-1's own last commit at +182.0 s, inside the settle that ended at +182.0 s (Fence written at +10.0 s + 172 s)",
    });
  });

  it("fails on a commit of the old region's handlers past the settle, naming when", () => {
    const old = primary("us-east-1", [
      ["a", "us-east-1", FAULT + 5_000],
      ["b", "us-east-1", FAULT + 10_000 + 172_001],
      ["c", "us-east-1", FAULT + 200_000],
    ]);
    const check = quietAfterSettleCheck(old, window);
    expect(check.ok).toBe(false);
    expect(check.detail).toBe(
      "2 payment events committed in us-east-1 after the settle ended at +182.0 s (Fence written at +10.0 s + 172 s), the last at +200.0 s: the handlers' write window is longer than the settle counts",
    );
  });

  it("does not count what the new region wrote and replicated back to the old primary", () => {
    // After a switchover the old primary is the new writer's replica: its rows from us-west-2
    // are not the old region's writes.
    const old = primary("us-east-1", [["w", "us-west-2", FAULT + 300_000]]);
    expect(quietAfterSettleCheck(old, window).ok).toBe(true);
  });

  it("fails unproven without the old primary's data, and holds nothing without a Fence", () => {
    expect(quietAfterSettleCheck(null, window)).toMatchObject({ ok: false });
    expect(
      quietAfterSettleCheck(primary("us-east-1", [["a", "us-east-1", FAULT + 999_000]]), {
        ...window,
        fencedAt: null,
      }),
    ).toMatchObject({
      ok: true,
      detail: "no Fence ran: the old region was never held to a settle",
    });
  });
});
