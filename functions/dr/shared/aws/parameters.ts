// SSM Parameter Store in the region of the given client.
import { GetParameterCommand, PutParameterCommand } from "@aws-sdk/client-ssm";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type { ParametersPort } from "../ports";
import { awsErrorName, toPortError } from "./errors";

export class SsmParameters implements ParametersPort {
  constructor(private readonly ssm: SSMClient) {}

  async get(name: string, decrypt = false): Promise<string | null> {
    try {
      const out = await this.ssm.send(
        new GetParameterCommand({ Name: name, WithDecryption: decrypt }),
      );
      return out.Parameter?.Value ?? null;
    } catch (error) {
      if (awsErrorName(error) === "ParameterNotFound") return null;
      throw toPortError(`ssm:GetParameter ${name}`, error);
    }
  }

  async put(name: string, value: string): Promise<void> {
    try {
      await this.ssm.send(
        new PutParameterCommand({ Name: name, Value: value, Type: "String", Overwrite: true }),
      );
    } catch (error) {
      throw toPortError(`ssm:PutParameter ${name}`, error);
    }
  }
}
