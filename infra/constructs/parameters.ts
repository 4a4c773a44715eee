import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { Fn, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { PARAMETERS } from "../../functions/common/contract";
import type { DatabaseConfig } from "../config";
import type { Naming } from "../naming";
import type { GlobalDatabase, RegionalCluster } from "./database";
import type { PlatformKey } from "./keys";
import type { PaymentsApi } from "./payments-api";

/**
 * The two secrets of the system, as sensitive Terraform variables so they never appear in code
 * or in `cdktf.out`. Terraform state holds their values: keep it in the encrypted, locked S3
 * backend (README, "Deploying for real").
 */
export interface SecretVariables {
  readonly masterPassword: TerraformVariable;
  readonly apiKeys: TerraformVariable;
}

/**
 * Declares the secret variables at the stack's top level (`var.db_master_password`,
 * `var.payments_api_keys`), where operators set them with `TF_VAR_...`.
 */
export function secretVariables(scope: Construct): SecretVariables {
  const stack = TerraformStack.of(scope);
  const masterPassword = new TerraformVariable(stack, "db_master_password", {
    type: "string",
    sensitive: true,
    nullable: false,
    description:
      'Aurora master password (16-128 printable ASCII, no / " @ or space). Set TF_VAR_db_master_password; never commit it.',
    validation: [
      {
        condition:
          '${length(var.db_master_password) >= 16 && length(var.db_master_password) <= 128 && can(regex("^[!-~]+$", var.db_master_password)) && !can(regex("[/\\"@]", var.db_master_password))}',
        errorMessage:
          'db_master_password must be 16 to 128 printable ASCII characters without /, ", @ or spaces.',
      },
    ],
  });
  const apiKeys = new TerraformVariable(stack, "payments_api_keys", {
    type: "string",
    sensitive: true,
    nullable: false,
    description:
      "Comma-separated API keys accepted by the payments API (each at least 32 characters). Set TF_VAR_payments_api_keys.",
    validation: [
      {
        condition:
          '${alltrue([for k in split(",", var.payments_api_keys) : length(trimspace(k)) >= 32])}',
        errorMessage:
          "payments_api_keys must be comma-separated keys of at least 32 characters each.",
      },
    ],
  });
  return { masterPassword, apiKeys };
}

export interface ParameterValue {
  readonly value: string;
  /** Encrypted with the region's platform key. @default false */
  readonly secure?: boolean;
  /**
   * Rewritten by the failover orchestrator; Terraform sets the first value and then ignores
   * changes so an apply never reverts a failover. @default false
   */
  readonly ownedByOrchestrator?: boolean;
  readonly description: string;
}

export interface RegionalParametersProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly key: PlatformKey;
  readonly database: GlobalDatabase;
  /** This region's member of the global database. */
  readonly cluster: RegionalCluster;
  readonly databaseConfig: DatabaseConfig;
  /** This region's payments API. */
  readonly api: PaymentsApi;
  readonly secrets: SecretVariables;
  /** The region `active-region` names at first: the deployed primary. */
  readonly initialActiveRegion: string;
}

/**
 * The parameter contract (PARAMETERS): what the functions read under `/payments/<suffix>/`, the
 * same names in both regions, each region's own endpoints.
 */
export function parameterValues(props: RegionalParametersProps): Record<string, ParameterValue> {
  const { database, cluster, databaseConfig, api, secrets } = props;
  return {
    [PARAMETERS.writerEndpoint]: {
      value: database.globalCluster.endpoint,
      ownedByOrchestrator: true,
      description:
        "Global writer endpoint; follows the writer, rewritten after a detach-and-promote",
    },
    [PARAMETERS.readerEndpoint]: {
      value: cluster.cluster.readerEndpoint,
      description: "This region's reader endpoint",
    },
    [PARAMETERS.clusterEndpoint]: {
      value: cluster.cluster.endpoint,
      description: "This region's cluster endpoint",
    },
    [PARAMETERS.databaseName]: {
      value: databaseConfig.databaseName,
      description: "Database name",
    },
    [PARAMETERS.username]: {
      value: databaseConfig.masterUsername,
      description: "Database user",
    },
    [PARAMETERS.password]: {
      value: secrets.masterPassword.stringValue,
      secure: true,
      description:
        "Database password (the master password: global databases cannot use Secrets Manager)",
    },
    [PARAMETERS.activeRegion]: {
      value: props.initialActiveRegion,
      ownedByOrchestrator: true,
      description: "The region taking writes; rewritten by the failover orchestrator",
    },
    [PARAMETERS.apiKeys]: {
      value: Fn.jsonencode(Fn.split(",", Fn.replace(secrets.apiKeys.stringValue, " ", ""))),
      secure: true,
      description: "JSON array of API keys accepted by the payments API",
    },
    [PARAMETERS.apiUrl]: { value: api.url, description: "This region's payments API URL" },
  };
}

/** The parameters of one region under `/payments/<suffix>/`. */
export class RegionalParameters extends Construct {
  public readonly parameters: Record<string, SsmParameter> = {};

  constructor(scope: Construct, id: string, props: RegionalParametersProps) {
    super(scope, id);
    const { provider, naming, key } = props;
    const known = new Set<string>(Object.values(PARAMETERS));
    for (const [name, spec] of Object.entries(parameterValues(props))) {
      if (!known.has(name)) {
        throw new Error(
          `parameter must be one of the contract's keys, got ${JSON.stringify(name)}`,
        );
      }
      this.parameters[name] = new SsmParameter(this, name.replace(/\//g, "-"), {
        provider,
        name: naming.parameter(name),
        description: spec.description,
        type: spec.secure ? "SecureString" : "String",
        keyId: spec.secure ? key.arn : undefined,
        value: spec.value,
        tier: "Standard",
        lifecycle: spec.ownedByOrchestrator ? { ignoreChanges: ["value"] } : undefined,
      });
    }
  }
}
