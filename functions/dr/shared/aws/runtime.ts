// Module-scope wiring shared by the DR handlers: environment read once (a bad deploy fails on
// the first call), one logger, AWS adapters per region.
import { DR_ENV } from "../../../common/contract";
import { requireEnv } from "../../../common/env";
import type { DrDeps } from "../deps";
import { fetchHttp } from "../http-client";
import { asLog, createLogger } from "../../../common/logger";
import type { KeyedLog } from "../../../common/logger";
import { readSettings } from "../settings";
import { taskHandler } from "../task";
import type { DrTaskDefinition } from "../task";
import { parseDatabaseSpec, parseTopology } from "../topology";
import type { StepTimes } from "../types";
import { awsDns, awsPorts } from "./ports";

export interface AwsRuntime {
  readonly deps: DrDeps;
  readonly logger: KeyedLog;
}

export function awsRuntime(env: NodeJS.ProcessEnv = process.env): AwsRuntime {
  const topology = parseTopology(requireEnv(DR_ENV.topology, env));
  const database = env[DR_ENV.database];
  const executionRegion = requireEnv("AWS_REGION", env);
  const logger = asLog(createLogger());
  return {
    logger,
    deps: {
      topology,
      ...(database ? { database: parseDatabaseSpec(database) } : {}),
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

/** The Lambda handler of a DR task, wired to AWS once per process at module load. */
export function awsTaskHandler<E, R extends object>(
  definition: DrTaskDefinition<E, R>,
): (event: E) => Promise<R & StepTimes> {
  const { deps, logger } = awsRuntime();
  return taskHandler(definition, deps, logger);
}
