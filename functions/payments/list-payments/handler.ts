// GET /payments: served in both regions.
import { jsonResponse } from "../shared/http-api";
import { apiHandler, baseRuntime } from "../shared/runtime";
import { listPayments, parseListQuery } from "./core";

const base = baseRuntime({ functionName: "list-payments", apiKeys: true });

export const handler = apiHandler(base, async (request) =>
  jsonResponse(200, await listPayments(parseListQuery(request), base)),
);
