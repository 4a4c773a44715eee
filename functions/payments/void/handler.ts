// POST /payments/{id}/void
import { baseRuntime } from "../shared/runtime";
import { writeHandler, writeRuntime } from "../shared/write-runtime";
import { voidPayment, parseVoid } from "./core";

const base = baseRuntime({
  functionName: "void",
  apiKeys: true,
  // The writer identity check's reference (write-runtime.ts installWriterCheck).
  ownClusterEndpoint: true,
});
const write = writeRuntime(base);

export const handler = writeHandler(base, write, {
  parse: parseVoid,
  successMetric: "PaymentsVoided",
  execute: (command) => voidPayment(command, write.deps),
});
