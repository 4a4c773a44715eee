// publishInBatches: PutEvents-sized batches, some at once for the relay, outcomes in event order.
import { publishInBatches } from "../../../../functions/payments/shared/outbox";

const events = (n: number) => Array.from({ length: n }, (_, i) => ({ eventId: `e${i}` }));

describe("publishInBatches", () => {
  it("sends batches of at most 10, at most `concurrency` at once, and answers in event order", async () => {
    let inFlight = 0;
    let most = 0;
    const sizes: number[] = [];
    const outcomes = await publishInBatches(
      events(47),
      async (batch) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        sizes.push(batch.length);
        // Later batches answer first: order must come from the events, not the answers.
        await new Promise((resolve) => setTimeout(resolve, 50 - batch.length - sizes.length * 5));
        inFlight -= 1;
        return batch.map((e) => ({ eventId: e.eventId, ok: true }));
      },
      3,
    );
    expect(outcomes.map((o) => o.eventId)).toEqual(events(47).map((e) => e.eventId));
    expect(sizes.sort((a, b) => a - b)).toEqual([7, 10, 10, 10, 10]);
    expect(most).toBe(3);
  });

  it("fails only the entries of a batch whose call threw, naming the error", async () => {
    const outcomes = await publishInBatches(
      events(25),
      async (batch) => {
        if (batch[0]!.eventId === "e10")
          throw Object.assign(new Error("slow down"), { name: "ThrottlingException" });
        return batch.map((e) => ({ eventId: e.eventId, ok: true }));
      },
      5,
    );
    expect(outcomes.filter((o) => !o.ok)).toEqual(
      events(25)
        .slice(10, 20)
        .map((e) => ({ eventId: e.eventId, ok: false, error: "ThrottlingException: slow down" })),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(15);
  });
});
