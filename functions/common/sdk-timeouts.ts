// The request handler settings every SDK client of this project is built with. In
// @smithy/node-http-handler 4.x (what @aws-sdk/* v3 uses), `requestTimeout` alone only logs a
// warning when it is exceeded; the request goes on waiting: "If exceeded, a warning will be
// emitted unless throwOnRequestTimeout=true, in which case a TimeoutError will be thrown"
// (@smithy/types, NodeHttpHandlerOptions.requestTimeout). Every bound this project derives from a
// client's timeouts (a DR task's attempts fitting inside its Lambda timeout, the fence settle time
// counting one flag read, the prober's probe) needs the timeout to end the call, so nothing builds
// a client's requestHandler by hand: it comes from here.

export interface SdkTimeouts {
  /** ms to establish the connection. */
  readonly connectionTimeout: number;
  /** ms from sending the request to the end of the response. */
  readonly requestTimeout: number;
}

export interface EnforcedRequestHandler extends SdkTimeouts {
  readonly throwOnRequestTimeout: true;
}

/** `requestHandler` settings whose request timeout fails the attempt (TimeoutError). */
export function enforcedTimeouts(timeouts: SdkTimeouts): EnforcedRequestHandler {
  for (const [name, value] of Object.entries(timeouts)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`${name} must be a positive whole number of ms, got ${String(value)}`);
    }
  }
  return { ...timeouts, throwOnRequestTimeout: true };
}
