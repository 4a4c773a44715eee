// HTTP through Node's fetch, with a timeout per request. Network failures and timeouts become
// TransientError.
import { TransientError } from "./errors";
import type { HttpPort, HttpResponse } from "./ports";

export const fetchHttp: HttpPort = {
  async request(method, url, options): Promise<HttpResponse> {
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: options.headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      const name = error instanceof Error ? error.name : "Error";
      throw new TransientError(
        `${method} ${url}: ${name === "TimeoutError" ? `no answer within ${options.timeoutMs} ms` : (error as Error).message}`,
      );
    }
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      // Not JSON: keep the text.
    }
    return { status: response.status, body };
  },
};
