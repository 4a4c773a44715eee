// SSM Parameter Store in one region: GetParameters, GetParameter, PutParameter (the calls of the
// payment functions and the DR tasks). Parameters are regional: each region has its own copy and
// nothing replicates them (the orchestrator writes both, the other one best-effort).
// API: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html
// Not modelled: KMS (SecureString values are stored as given), versions' history, policies.
import { ServiceError } from "./dynamodb";

interface Parameter {
  value: string;
  type: string;
  version: number;
  modifiedAt: number;
}

export class ParameterStore {
  readonly parameters = new Map<string, Parameter>();

  put(name: string, value: string, type = "String"): void {
    const old = this.parameters.get(name);
    this.parameters.set(name, {
      value,
      type,
      version: (old?.version ?? 0) + 1,
      modifiedAt: Date.now(),
    });
  }

  get(name: string): string | undefined {
    return this.parameters.get(name)?.value;
  }

  api(operation: string, request: Record<string, unknown>): Record<string, unknown> {
    const shape = (name: string, p: Parameter) => ({
      Name: name,
      Value: p.value,
      Type: p.type,
      Version: p.version,
      LastModifiedDate: p.modifiedAt / 1000,
    });
    switch (operation) {
      case "GetParameters": {
        const names = (request.Names ?? []) as string[];
        return {
          Parameters: names
            .filter((n) => this.parameters.has(n))
            .map((n) => shape(n, this.parameters.get(n)!)),
          InvalidParameters: names.filter((n) => !this.parameters.has(n)),
        };
      }
      case "GetParameter": {
        const name = String(request.Name);
        const p = this.parameters.get(name);
        if (!p) throw new ServiceError("ParameterNotFound", `Parameter ${name} not found.`);
        return { Parameter: shape(name, p) };
      }
      case "PutParameter": {
        const name = String(request.Name);
        if (this.parameters.has(name) && request.Overwrite !== true) {
          throw new ServiceError(
            "ParameterAlreadyExists",
            "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
          );
        }
        this.put(name, String(request.Value), String(request.Type ?? "String"));
        return { Version: this.parameters.get(name)!.version, Tier: "Standard" };
      }
      default:
        throw new ServiceError(
          "UnknownOperationException",
          `the lab's SSM does not model ${operation}`,
        );
    }
  }
}
