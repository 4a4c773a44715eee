// Runs outside the VPC with a small memory size: it reads only the api/keys parameter (through
// SSM's public endpoint) and never the database.
import type { APIGatewayRequestAuthorizerEventV2 } from "aws-lambda";
import { PARAMETERS, PAYMENTS_ENV } from "../../common/contract";
import { intEnv, requireEnv } from "../../common/env";
import { ApiKeyVerifier } from "../shared/api-keys";
import { createSsmClient, ssmFetcher } from "../shared/aws/ssm";
import { logger } from "../shared/observability";
import { ParameterCache } from "../shared/parameters";
import { authorizeApiKey } from "./core";
import type { AuthorizerResult } from "./core";

const parameters = new ParameterCache({
  prefix: requireEnv(PAYMENTS_ENV.parameterPrefix),
  keys: [PARAMETERS.apiKeys],
  fetch: ssmFetcher(createSsmClient()),
  ttlMs: intEnv(PAYMENTS_ENV.parameterCacheSeconds, 60, { min: 0, max: 3600 }) * 1000,
  onStale: (error) => logger.warn("SSM refresh failed; serving cached parameters", { error }),
});
const keys = new ApiKeyVerifier(() => parameters.value(PARAMETERS.apiKeys));

/** The identity source (API Gateway lower-cases header names in payload format 2.0). */
export const API_KEY_HEADER = "x-api-key";

export const handler = async (
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<AuthorizerResult> => {
  try {
    const result = await authorizeApiKey(event.headers?.[API_KEY_HEADER], { keys });
    if (!result.isAuthorized) {
      logger.info("request denied", {
        routeKey: event.routeKey,
        requestId: event.requestContext?.requestId,
      });
    }
    return result;
  } catch (error) {
    logger.error("authorizer failed", { error });
    throw error;
  }
};
