// In-process stand-ins for the AWS calls of the authorize path, installed on the SDK clients'
// `send`: the benchmark measures our handler and the database, not a mocking library (sinon
// argument matching costs more per call than the code under test).
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";

type Item = Record<string, AttributeValue>;

export function installFakeAws(options: {
  region: string;
  controlTable: string;
  parameters: ReadonlyMap<string, string>;
}): void {
  const items = new Map<string, Item>();

  DynamoDBClient.prototype.send = async function send(command: unknown) {
    if (command instanceof GetItemCommand) {
      if (command.input.TableName === options.controlTable) {
        return { Item: { pk: { S: "active-region" }, activeRegion: { S: options.region } } };
      }
      return { Item: items.get(command.input.Key!.id!.S!) };
    }
    if (command instanceof PutItemCommand) {
      // The idempotency lock: taken unless a live lock holds the key.
      const id = command.input.Item!.id!.S!;
      const existing = items.get(id);
      if (existing && Number(existing.lockExpiresAt?.N) >= Date.now()) {
        throw new ConditionalCheckFailedException({
          message: "exists",
          $metadata: {},
          Item: existing,
        });
      }
      items.set(id, command.input.Item!);
      return {};
    }
    if (command instanceof UpdateItemCommand) return {};
    if (command instanceof DeleteItemCommand) {
      const id = command.input.Key!.id!.S!;
      const holder = command.input.ExpressionAttributeValues?.[":holder"]?.S;
      if (items.get(id)?.holder?.S === holder) items.delete(id);
      return {};
    }
    throw new Error("unexpected DynamoDB command");
  } as DynamoDBClient["send"];

  SSMClient.prototype.send = async function send(command: unknown) {
    if (!(command instanceof GetParametersCommand)) throw new Error("unexpected SSM command");
    const names = command.input.Names ?? [];
    return {
      Parameters: names.map((Name) => ({ Name, Value: options.parameters.get(Name) })),
      InvalidParameters: names.filter((n) => !options.parameters.has(n)),
    };
  } as SSMClient["send"];

  let eventIds = 0;
  EventBridgeClient.prototype.send = async function send(command: unknown) {
    if (!(command instanceof PutEventsCommand)) throw new Error("unexpected EventBridge command");
    const entries = command.input.Entries ?? [];
    return { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: `eb-${++eventIds}` })) };
  } as EventBridgeClient["send"];
}
