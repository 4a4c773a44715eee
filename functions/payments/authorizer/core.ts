// The HTTP API's Lambda REQUEST authorizer (issue 14): refuses a request without a valid API key
// before it reaches the 1 GB VPC payment functions. Same key store and constant-time comparison
// as the handlers (ApiKeyVerifier); the merchant the key is bound to goes to the integration in
// the authorizer context. Simple responses, payload format 2.0:
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html
import type { ApiKeyVerifier } from "../shared/api-keys";
import { UnauthorizedError } from "../shared/errors";

/** What the integration reads at event.requestContext.authorizer.lambda. */
export interface AuthorizerContext {
  readonly merchantId: string;
}

export type AuthorizerResult =
  | { readonly isAuthorized: true; readonly context: AuthorizerContext }
  // A denial says nothing: not whether a key was sent, nor whether it was close to one.
  | { readonly isAuthorized: false };

export async function authorizeApiKey(
  presented: string | undefined,
  deps: { readonly keys: Pick<ApiKeyVerifier, "verify"> },
): Promise<AuthorizerResult> {
  try {
    const merchantId = await deps.keys.verify(presented);
    return { isAuthorized: true, context: { merchantId } };
  } catch (error) {
    if (error instanceof UnauthorizedError) return { isAuthorized: false };
    // A broken or unreadable key store is not a denial: the invocation fails, so API Gateway
    // answers 500 and nothing is let through (and the error is logged and alarmed on).
    throw error;
  }
}
