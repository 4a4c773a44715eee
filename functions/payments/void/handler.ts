// POST /payments/{id}/void
import { baseRuntime } from "../shared/runtime";
import { OWN_CLUSTER_IDLE_MS } from "../shared/writer-identity";
import { writeHandler, writeRuntime } from "../shared/write-runtime";
import { voidPayment, parseVoid } from "./core";

const base = baseRuntime({
  functionName: "void",
  apiKeys: true,
  // The writer identity check's reference (write-runtime.ts installWriterCheck), closed when idle.
  ownClusterEndpoint: true,
  ownClusterEndpointIdleMs: OWN_CLUSTER_IDLE_MS,
});
const write = writeRuntime(base);

export const handler = writeHandler(base, write, {
  parse: parseVoid,
  successMetric: "PaymentsVoided",
  execute: (command) => voidPayment(command, write.deps),
});
