// A relay process for outbox.test.ts: relays the outbox of RELAY_DATABASE_URL in batches of 20
// with a publisher that appends each entry's event id to RELAY_SENT_FILE (synchronously, so
// nothing is lost with the process) and kills the process with SIGKILL right after its third
// PutEvents, which is the first of the second batch: that batch's rows are locked and sent but
// their UPDATE never commits.
import { appendFileSync } from "node:fs";
import { relayOutbox } from "../../../../functions/payments/outbox-relay/core";
import { Database } from "../../../../functions/payments/shared/database";
import { PostgresPaymentStore } from "../../../../functions/payments/shared/postgres-store";

const store = new PostgresPaymentStore(
  new Database({
    settings: async () => ({ kind: "url", connectionString: process.env.RELAY_DATABASE_URL! }),
    applicationName: "relay-crash-child",
  }),
);
let calls = 0;
void relayOutbox({
  guard: { assertActive: async () => undefined },
  outbox: store,
  batchSize: 20,
  maxEvents: 1_000,
  publish: async (events) => {
    appendFileSync(process.env.RELAY_SENT_FILE!, events.map((e) => `${e.eventId}\n`).join(""));
    calls += 1;
    if (calls === 3) process.kill(process.pid, "SIGKILL");
    return events.map((e) => ({ eventId: e.eventId, ok: true }));
  },
});
