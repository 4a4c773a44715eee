// POST /payments/{id}/capture
import { baseRuntime } from "../shared/runtime";
import { OWN_CLUSTER_IDLE_MS } from "../shared/writer-identity";
import { writeHandler, writeRuntime } from "../shared/write-runtime";
import { capture, parseCapture } from "./core";

const base = baseRuntime({
  functionName: "capture",
  apiKeys: true,
  // The writer identity check's reference (write-runtime.ts installWriterCheck), closed when idle.
  ownClusterEndpoint: true,
  ownClusterEndpointIdleMs: OWN_CLUSTER_IDLE_MS,
});
const write = writeRuntime(base);

export const handler = writeHandler(base, write, {
  parse: parseCapture,
  successMetric: "PaymentsCaptured",
  execute: (command) => capture(command, write.deps),
});
