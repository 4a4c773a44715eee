import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { Construct } from "constructs";
import { PARAMETERS } from "../../functions/shared/contract";
import type { Naming } from "../naming";
import type { PlatformKey } from "./keys";

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
  /** Values by contract key (`db/writer-endpoint`, ...). Same names in both regions. */
  readonly values: Readonly<Record<string, ParameterValue>>;
}

/** The parameters of one region under `/payments/<suffix>/`. */
export class RegionalParameters extends Construct {
  public readonly parameters: Record<string, SsmParameter> = {};

  constructor(scope: Construct, id: string, props: RegionalParametersProps) {
    super(scope, id);
    const { provider, naming, key } = props;
    const known = new Set<string>(Object.values(PARAMETERS));
    for (const [name, spec] of Object.entries(props.values)) {
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
