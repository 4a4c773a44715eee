// A local DynamoDB endpoint for tests that run the real DR handlers and SDK clients: every
// DynamoDB client the handler builds (both regions) talks to it through
// AWS_ENDPOINT_URL_DYNAMODB. The test answers each request; a request it holds (never answers)
// is destroyed when the endpoint closes.
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface LocalDynamoDb {
  /** Never answers `res` (a hung endpoint); closed with the endpoint. */
  hold(res: ServerResponse): void;
  close(): Promise<void>;
}

export async function startLocalDynamoDb(
  answer: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<LocalDynamoDb> {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => answer(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  process.env.AWS_ENDPOINT_URL_DYNAMODB = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    hold: (res) => void held.push(res),
    close: async () => {
      delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
