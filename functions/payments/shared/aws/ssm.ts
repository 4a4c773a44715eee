// SSM access: all parameters a function needs in one GetParameters call (decrypted). The SDK
// package loads on first use (functions/common/lazy.ts), when the parameter cache first fills.
import type { SSMClient } from "@aws-sdk/client-ssm";
import type * as SsmSdk from "@aws-sdk/client-ssm";
import { lazy, once } from "../../../common/lazy";
import { enforcedTimeouts } from "../../../common/sdk-timeouts";
import type { ParameterFetcher } from "../parameters";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
const sdk = once(() => require("@aws-sdk/client-ssm") as typeof SsmSdk);

export function createSsmClient(): SSMClient {
  return lazy(
    () =>
      new (sdk().SSMClient)({
        maxAttempts: 3,
        requestHandler: enforcedTimeouts({ connectionTimeout: 1_000, requestTimeout: 3_000 }),
      }),
  );
}

/** GetParameters takes at most 10 names; the payment functions read at most 5. */
export function ssmFetcher(client: SSMClient): ParameterFetcher {
  return async (names) => {
    const values = new Map<string, string>();
    for (let i = 0; i < names.length; i += 10) {
      const out = await client.send(
        new (sdk().GetParametersCommand)({ Names: names.slice(i, i + 10), WithDecryption: true }),
      );
      if (out.InvalidParameters && out.InvalidParameters.length > 0) {
        throw new Error(`parameters not found: ${out.InvalidParameters.join(", ")}`);
      }
      for (const p of out.Parameters ?? []) {
        if (p.Name !== undefined && p.Value !== undefined) values.set(p.Name, p.Value);
      }
    }
    return values;
  };
}
