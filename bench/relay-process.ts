// The outbox relay of bench/payments.ts, in a process of its own as in Lambda: the deployed
// handler module (functions/payments/outbox-relay/handler.ts) with its real SDK clients, invoked
// back to back with a context of RUN_MS each, as the schedule invokes it. Environment from the
// parent (DATABASE_URL, AWS_ENDPOINT_URL, ...). Exits when its parent does (stdin closes).
import type { Context } from "aws-lambda";
import type { RelayReport } from "../functions/payments/outbox-relay/core";
import { RELAY_STOP_BEFORE_MS } from "../functions/payments/outbox-relay/core";
import { lambdaContext } from "../test/functions/payments/support/aws";

const RUN_MS = 60_000;

async function main(): Promise<void> {
  const { handler } = (await import("../functions/payments/outbox-relay/handler")) as {
    handler: (event: unknown, context: Context) => Promise<RelayReport>;
  };
  process.stdout.write("relay ready\n");
  for (;;) {
    const ends = Date.now() + RUN_MS + RELAY_STOP_BEFORE_MS;
    await handler(
      {},
      {
        ...lambdaContext("payments-outbox-relay-bench"),
        getRemainingTimeInMillis: () => ends - Date.now(),
      },
    );
  }
}

process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
main().catch((error: unknown) => {
  console.error(`relay process failed: ${(error as Error)?.stack ?? String(error)}`);
  process.exit(1);
});
