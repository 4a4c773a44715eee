// Which deployment the CLI talks to: the environment suffix and the two regions, taken from the
// flags, else the same environment variables synth reads (ENVIRONMENT_SUFFIX, PRIMARY_REGION,
// SECONDARY_REGION), validated by the same rules (infra/config.ts). Every physical name comes
// from infra/naming.ts, so the CLI and the deployed stack cannot disagree (a test synthesizes
// the stack and compares).
import type { DrTopology } from "../functions/common/contract";
import { ConfigError, loadConfig, otherRole } from "../infra/config";
import { READINESS_COMPONENT } from "../infra/constructs/readiness";
import { Naming } from "../infra/naming";
import { CliError } from "./errors";

export const WORKFLOWS = ["failover", "switchover", "failback", "reprotect"] as const;
export type WorkflowName = (typeof WORKFLOWS)[number];

/** The drill documents (infra/constructs/drills.ts DRILL_RUNBOOK, and the restore drill's). */
export const DRILL_COMPONENT = "dr-drill";
export const RESTORE_DRILL_COMPONENT = "dr-restore-drill";

export interface Deployment {
  readonly suffix: string;
  readonly primary: string;
  readonly secondary: string;
  readonly regions: readonly [string, string];
  readonly profile?: string;
  readonly names: {
    stateMachine(workflow: WorkflowName): string;
    readonly controlTable: string;
    readonly drillDocument: string;
    readonly restoreDrillDocument: string;
    readonly globalCluster: string;
    cluster(region: string): string;
    parameter(key: string): string;
    /** The detection alarms, all in the secondary region (infra/constructs/observability.ts). */
    readonly detectionAlarms: readonly string[];
    readonly operatorRole: string;
    /** On-call's role for `payments-dr reconcile` (its writes: events, the finance report). */
    readonly reconcilerRole: string;
    /** The readiness evaluator, identical in both regions (infra/constructs/readiness.ts). */
    readonly readinessFunction: string;
  };
}

export interface TargetFlags {
  readonly suffix?: string;
  readonly primaryRegion?: string;
  readonly secondaryRegion?: string;
  /** WRITER_REGION of the synth. @default the primary region */
  readonly writerRegion?: string;
  readonly profile?: string;
}

export function resolveDeployment(flags: TargetFlags, env: NodeJS.ProcessEnv): Deployment {
  // Only the three settings that name things: an unrelated synth variable must not stop on-call.
  const settings: Record<string, string> = {};
  const pick = (variable: string, flag: string | undefined) => {
    const value = flag ?? env[variable];
    if (value !== undefined && value !== "") settings[variable] = value;
  };
  pick("ENVIRONMENT_SUFFIX", flags.suffix);
  pick("PRIMARY_REGION", flags.primaryRegion);
  pick("SECONDARY_REGION", flags.secondaryRegion);
  pick("WRITER_REGION", flags.writerRegion);
  let config;
  try {
    config = loadConfig(settings);
  } catch (error) {
    if (error instanceof ConfigError) {
      const flag = {
        ENVIRONMENT_SUFFIX: "--suffix",
        PRIMARY_REGION: "--primary-region",
        SECONDARY_REGION: "--secondary-region",
        WRITER_REGION: "--writer-region",
      }[error.variable];
      throw new CliError(
        `${flag ?? error.variable} ${JSON.stringify(error.received)} is not allowed: ${error.allowed}`,
        `pass ${flag ?? error.variable} with the value your stack was synthesized with (the same as ${error.variable})`,
        2,
      );
    }
    throw error;
  }
  const naming = new Naming(config.environmentSuffix);
  // The deployed primary is the writer's region (WRITER_REGION), as in DR_TOPOLOGY: where a
  // failback returns to; the other holds detection and the drill schedule.
  const primary = config[config.writer].region;
  const secondary = config[otherRole(config.writer)].region;
  return {
    suffix: config.environmentSuffix,
    primary,
    secondary,
    regions: [primary, secondary],
    ...((flags.profile ?? env.AWS_PROFILE) ? { profile: flags.profile ?? env.AWS_PROFILE } : {}),
    names: {
      stateMachine: (workflow) => naming.name("stateMachine", workflow),
      controlTable: naming.name("dynamodbTable", "control"),
      drillDocument: naming.name("ssmDocument", DRILL_COMPONENT),
      restoreDrillDocument: naming.name("ssmDocument", RESTORE_DRILL_COMPONENT),
      globalCluster: naming.name("generic", "global"),
      cluster: (region) => naming.name("dbClusterIdentifier", "db", region),
      parameter: (key) => `${naming.parameterPrefix}/${key}`,
      detectionAlarms: ["primary-unhealthy", "writer-unavailable", "prober-silent"].map((a) =>
        naming.name("alarm", a, secondary),
      ),
      operatorRole: naming.name("iamRole", "dr-operator"),
      reconcilerRole: naming.name("iamRole", "dr-reconciler"),
      readinessFunction: naming.name("lambdaFunction", READINESS_COMPONENT),
    },
  };
}

export function stateMachineArn(
  deployment: Deployment,
  region: string,
  account: string,
  workflow: WorkflowName,
): string {
  return `arn:aws:states:${region}:${account}:stateMachine:${deployment.names.stateMachine(workflow)}`;
}

/**
 * The topology as far as ValidateInput reads it (the regions, their roles, the control table).
 * The deployed DR_TOPOLOGY also carries API URLs, topics and health checks, which the input rules
 * never read; they are left empty here rather than guessed.
 */
export function validationTopology(deployment: Deployment, account: string): DrTopology {
  const region = (name: string, role: "primary" | "secondary") => ({
    region: name,
    role,
    clusterArn: `arn:aws:rds:${name}:${account}:cluster:${deployment.names.cluster(name)}`,
    clusterIdentifier: deployment.names.cluster(name),
    apiUrl: "",
    eventBusName: "",
    alertTopicArn: "",
  });
  return {
    environmentSuffix: deployment.suffix,
    globalClusterIdentifier: deployment.names.globalCluster,
    parameterPrefix: deployment.names.parameter("").replace(/\/$/, ""),
    controlTable: deployment.names.controlTable,
    regions: {
      [deployment.primary]: region(deployment.primary, "primary"),
      [deployment.secondary]: region(deployment.secondary, "secondary"),
    },
  };
}

/** `arn:aws:states:<region>:<account>:execution:<machine>:<name>` -> its parts. */
export function parseExecutionArn(
  arn: string,
): { region: string; account: string; stateMachine: string; name: string } | null {
  const match = /^arn:aws[\w-]*:states:([a-z0-9-]+):(\d{12}):execution:([\w-]+):([\w-]+)$/.exec(
    arn,
  );
  if (!match) return null;
  return { region: match[1]!, account: match[2]!, stateMachine: match[3]!, name: match[4]! };
}
