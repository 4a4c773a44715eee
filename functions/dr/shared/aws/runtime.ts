// Module-scope wiring shared by the DR handlers: environment read once (a bad deploy fails on
// the first call), one logger, AWS adapters per region.
import { DR_ENV } from "../../../shared/contract";
import { requireEnv } from "../../../shared/env";
import type { DrDeps } from "../deps";
import { fetchHttp } from "../http";
import type { DrLogger } from "../logging";
import { powertoolsLog } from "../logging";
import { readSettings } from "../settings";
import { parseTopology } from "../topology";
import { awsDns, awsPorts } from "./ports";

export interface AwsRuntime {
  readonly deps: DrDeps;
  readonly logger: DrLogger;
}

export function awsRuntime(env: NodeJS.ProcessEnv = process.env): AwsRuntime {
  const topology = parseTopology(requireEnv(DR_ENV.topology, env));
  const executionRegion = requireEnv("AWS_REGION", env);
  const logger = powertoolsLog();
  return {
    logger,
    deps: {
      topology,
      settings: readSettings(env),
      ports: awsPorts(topology),
      dns: awsDns(),
      http: fetchHttp,
      now: () => new Date(),
      log: logger,
      executionRegion,
    },
  };
}
