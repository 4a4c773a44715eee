// Lambda entry point of the restore check: in the secondary region's private subnets (the
// scratch cluster and the live reader are only reachable there), invoked by the restore drill.
// The restored cluster keeps the snapshot's master credentials, which are the live ones.
import type * as SsmSdk from "@aws-sdk/client-ssm";
import { Client } from "pg";
import { PARAMETERS, PAYMENTS_ENV } from "../../common/contract";
import { requireEnv } from "../../common/env";
import { clientSettings } from "../../dr/shared/aws/clients";
import { once } from "../../common/lazy";
import type { RestoreCheckEvent, SqlClient } from "./core";
import { checkRestore } from "./core";

const region = requireEnv("AWS_REGION");
const prefix = requireEnv(PAYMENTS_ENV.parameterPrefix);
// The SDK package loads on the first run, not at init (functions/common/lazy.ts): it is this
// function's only AWS package and the bulk of its cold start (npm run bench:cold-init).
const ssm = once(() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberate lazy loading
  const sdk = require("@aws-sdk/client-ssm") as typeof SsmSdk;
  return { sdk, client: new sdk.SSMClient(clientSettings(region, "critical")) };
});
const keys = [
  PARAMETERS.databaseName,
  PARAMETERS.username,
  PARAMETERS.password,
  PARAMETERS.readerEndpoint,
];

async function settings(): Promise<Record<string, string>> {
  const { sdk, client } = ssm();
  const out = await client.send(
    new sdk.GetParametersCommand({
      Names: keys.map((k) => `${prefix}/${k}`),
      WithDecryption: true,
    }),
  );
  const values = Object.fromEntries(
    (out.Parameters ?? []).map((p) => [p.Name!.slice(prefix.length + 1), p.Value!]),
  );
  const missing = keys.filter((k) => !values[k]);
  if (missing.length > 0) {
    throw new Error(`parameters missing under ${prefix}: ${missing.join(", ")}`);
  }
  return values;
}

export const handler = async (event: RestoreCheckEvent) => {
  const values = await settings();
  return checkRestore(event, {
    now: () => new Date(),
    connect: async (target, host) => {
      const client = new Client({
        host: target === "restored" ? host : values[PARAMETERS.readerEndpoint],
        port: 5432,
        database: values[PARAMETERS.databaseName],
        user: values[PARAMETERS.username],
        password: values[PARAMETERS.password],
        ssl: { rejectUnauthorized: true },
        connectionTimeoutMillis: 10_000,
        statement_timeout: 120_000,
        application_name: "payments-restore-check",
      });
      await client.connect();
      return client as unknown as SqlClient;
    },
  });
};
