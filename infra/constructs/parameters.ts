import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { DR_SYNTHETIC_MERCHANT, PARAMETERS } from "../../functions/common/contract";
import type { DatabaseConfig } from "../config";
import type { Naming } from "../naming";
import type { GlobalDatabase, RegionalCluster } from "./database";
import type { PlatformKey } from "./keys";
import type { PaymentsApi } from "./payments-api";

/**
 * The secrets of the system, as sensitive Terraform variables so they never appear in code or
 * in `cdktf.out`. Terraform state holds their values: keep it in the encrypted, locked S3
 * backend (README, "Deploying for real").
 */
export interface SecretVariables {
  readonly masterPassword: TerraformVariable;
  /** `merchantId:key` pairs, comma-separated: each API key and the merchant it acts for. */
  readonly apiKeys: TerraformVariable;
  /** The DR Verify task's key, bound to DR_SYNTHETIC_MERCHANT. */
  readonly drApiKey: TerraformVariable;
}

/** The characters of an API key: base64, base64url, hex and UUID alphabets (no `,` or `:`). */
const API_KEY_CHARS = "[A-Za-z0-9._~+/=-]";
/** `merchantId:key`; the merchant id as payments_merchant_id_format (001_payments.sql). */
const KEY_PAIR = `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}:${API_KEY_CHARS}{32,256}$`;
const PAIRS = 'split(",", replace(var.payments_api_keys, " ", ""))';

/**
 * The api/keys value: the key store the payment functions read, `[{merchantId, sha256}]`, with
 * the DR key bound to the synthetic merchant. Terraform hashes the keys (sha256 of the UTF-8
 * text, hex), so the parameter never holds a usable key.
 */
export const API_KEY_STORE_EXPRESSION =
  "${jsonencode(concat(" +
  `[for pair in ${PAIRS} : { merchantId = split(":", pair)[0], sha256 = sha256(split(":", pair)[1]) }], ` +
  `[{ merchantId = "${DR_SYNTHETIC_MERCHANT}", sha256 = sha256(var.payments_dr_api_key) }]` +
  "))}";

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
      "The payments API keys, each bound to the merchant it acts for: comma-separated merchantId:key pairs (keys of 32 to 256 letters, digits or ._~+/=-). Set TF_VAR_payments_api_keys.",
    validation: [
      {
        condition: `\${alltrue([for pair in ${PAIRS} : can(regex("${KEY_PAIR}", pair))])}`,
        errorMessage:
          "payments_api_keys must be comma-separated merchantId:key pairs: a merchant id of 1 to 64 letters, digits, _ or - (starting with a letter or digit), a colon, and a key of 32 to 256 letters, digits or ._~+/=-.",
      },
      {
        condition: `\${alltrue([for pair in ${PAIRS} : try(split(":", pair)[0], "") != "${DR_SYNTHETIC_MERCHANT}"])}`,
        errorMessage: `payments_api_keys must not bind a key to ${DR_SYNTHETIC_MERCHANT}: that merchant is reserved for the DR verification (set payments_dr_api_key).`,
      },
      {
        condition: `\${length(distinct([for pair in ${PAIRS} : try(split(":", pair)[1], pair)])) == length(${PAIRS})}`,
        errorMessage:
          "payments_api_keys must not repeat a key: each key acts for exactly one merchant.",
      },
    ],
  });
  const drApiKey = new TerraformVariable(stack, "payments_dr_api_key", {
    type: "string",
    sensitive: true,
    nullable: false,
    description: `The API key the DR verification authorizes and voids its synthetic payments with, bound to merchant ${DR_SYNTHETIC_MERCHANT} (32 to 256 letters, digits or ._~+/=-). Set TF_VAR_payments_dr_api_key.`,
    validation: [
      {
        condition: `\${can(regex("^${API_KEY_CHARS}{32,256}$", var.payments_dr_api_key)) && !contains([for pair in ${PAIRS} : try(split(":", pair)[1], pair)], var.payments_dr_api_key)}`,
        errorMessage:
          "payments_dr_api_key must be 32 to 256 letters, digits or ._~+/=-, and differ from every key in payments_api_keys.",
      },
    ],
  });
  return { masterPassword, apiKeys, drApiKey };
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
      value: API_KEY_STORE_EXPRESSION,
      secure: true,
      description:
        "Key store of the payments API: JSON array of {merchantId, sha256} (hashes of the keys, never the keys)",
    },
    [PARAMETERS.drVerifyApiKey]: {
      value: secrets.drApiKey.stringValue,
      secure: true,
      description: `API key of the DR verification, bound to merchant ${DR_SYNTHETIC_MERCHANT}`,
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
