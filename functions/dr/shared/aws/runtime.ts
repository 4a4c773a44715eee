// Module-scope wiring shared by the DR handlers: environment read once (a bad deploy fails on
// the first call), one logger, AWS adapters per region.
import type * as LambdaSdk from "@aws-sdk/client-lambda";
import { DR_ENV, REPORTS_ENV } from "../../../common/contract";
import { lazy } from "../../../common/lazy";
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
import { clientSettings, regionClient } from "./clients";
import { DEADLINE_MARGIN_MS, withDeadline } from "./deadline";
import { awsDns, awsPorts } from "./ports";
import type * as ReportsModule from "./reports";

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
      reports: lazyReports(
        requireEnv(REPORTS_ENV.writerFunction, env),
        requireEnv(REPORTS_ENV.bucket, env),
        executionRegion,
      ),
      now: () => new Date(),
      log: logger,
      executionRegion,
    },
  };
}

/**
 * The region's report writer, its SDK package loaded on first use (only RecordTimeline and a
 * page hand over a report; see ports.ts for why loading is lazy). One short attempt: the call
 * only queues the report, so it must never delay a page.
 */
function lazyReports(functionName: string, bucket: string, region: string) {
  return lazy(() => {
    /* eslint-disable @typescript-eslint/no-require-imports -- deliberate lazy loading */
    const { LambdaReports } = require("./reports") as typeof ReportsModule;
    const { LambdaClient } = require("@aws-sdk/client-lambda") as typeof LambdaSdk;
    /* eslint-enable @typescript-eslint/no-require-imports */
    const settings = clientSettings(region, "bestEffort");
    return new LambdaReports(
      regionClient(new LambdaClient(settings), settings, "Lambda"),
      functionName,
      bucket,
      region,
    );
  });
}

/** The Lambda handler of a DR task, wired to AWS once per process at module load. */
export function awsTaskHandler<E, R extends object>(
  definition: DrTaskDefinition<E, R>,
): (event: E, context?: { getRemainingTimeInMillis(): number }) => Promise<R & StepTimes> {
  const { deps, logger } = awsRuntime();
  const plain = taskHandler(definition, deps, logger);
  // The Lambda context object's getRemainingTimeInMillis "returns the number of milliseconds
  // left before the execution times out" (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-context.html):
  // handed to the core so a task that retries inside one invocation ends before it is killed,
  // and to its AWS clients as the invocation's deadline (deadline.ts, review L2).
  return (event, context) =>
    context
      ? withDeadline(Date.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS, () =>
          taskHandler(
            definition,
            { ...deps, remainingMs: () => context.getRemainingTimeInMillis() },
            logger,
          )(event),
        )
      : plain(event);
}
