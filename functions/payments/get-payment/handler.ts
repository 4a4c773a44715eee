// GET /payments/{id}: served in both regions.
import { jsonResponse } from "../shared/http-api";
import { apiHandler, baseRuntime } from "../shared/runtime";
import { getPayment, parseGetPayment } from "./core";

const base = baseRuntime({ functionName: "get-payment", apiKeys: true });

export const handler = apiHandler(base, async (request) =>
  jsonResponse(200, await getPayment(parseGetPayment(request), base)),
);
