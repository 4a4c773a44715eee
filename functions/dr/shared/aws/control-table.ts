// The `control` global table, read and written in the region of the given client. Every write
// is conditional; a failed condition is reported as `false`, never as an error.
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { CONTROL, FENCE_PHASE } from "../../../common/contract";
import type { ReadinessRecord } from "../../../common/contract";
import type {
  ActiveRegionFlag,
  ControlPort,
  CooldownItem,
  HeartbeatWatch,
  LockItem,
} from "../ports";
import { LOCK_SCOPE_FACT } from "../ports";
import { awsErrorName, toPortError } from "./errors";
import type { ProbeAnswer } from "../heartbeat-watch";

const PK = CONTROL.partitionKey;

/** Condition expressions, exported so the tests can assert them exactly. */
export const CONDITIONS = {
  flagUnchanged: "#activeRegion = :expectedRegion AND #fencingToken = :expectedToken",
  /** A flag seeded without a token counts as token 0. */
  flagUnchangedFirstToken:
    "#activeRegion = :expectedRegion AND (attribute_not_exists(#fencingToken) OR #fencingToken = :expectedToken)",
  flagAbsent: "attribute_not_exists(#pk)",
  phaseChange:
    "#activeRegion = :region AND #fencingToken = :token AND (attribute_not_exists(#phase) OR #phase <> :phase)",
  /** The proof stamp: only on this run's flag, while it is still fenced. */
  promoting: "#activeRegion = :region AND #fencingToken = :token AND #phase = :fenced",
  lockFree: "attribute_not_exists(#pk) OR #expiresAt < :now",
  lockOwned: "#owner = :owner",
  lockOwnedOrAbsent: "attribute_not_exists(#pk) OR #owner = :owner",
  lockClaimable: "attribute_not_exists(#pk) OR #expiresAt < :now OR #owner = :owner",
  // Over another run's lock only while that run has not recorded its scope (it went ahead).
  lockClaimableOver:
    "attribute_not_exists(#pk) OR #expiresAt < :now OR #owner = :owner OR (#owner = :over AND attribute_not_exists(#facts.#scope))",
  /** The peer lease: renewed only while the flag names the other region with the token read. */
  // Never while a move is in progress (phase "fenced"): global tables resolve concurrent
  // writes to one item by last writer wins, whole item, so a renewal written from a replica that
  // has not yet received Unfence's "open" could undo it.
  leaseRenewable:
    "#activeRegion = :activeRegion AND #fencingToken = :token AND (attribute_not_exists(#phase) OR #phase <> :fenced)",
  /** The same for a seeded flag without a token (token 0). */
  leaseRenewableFirstToken:
    "#activeRegion = :activeRegion AND (attribute_not_exists(#fencingToken) OR #fencingToken = :token) AND (attribute_not_exists(#phase) OR #phase <> :fenced)",
  watchUnchanged: "#checkedAt = :previousCheckedAt",
  watchAbsent: "attribute_not_exists(#pk)",
} as const;

function isConditionFailure(error: unknown): boolean {
  return awsErrorName(error) === "ConditionalCheckFailedException";
}

export class DynamoControlTable implements ControlPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private async get(pk: string, call: string): Promise<Record<string, unknown> | null> {
    try {
      const out = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: { [PK]: pk }, ConsistentRead: true }),
      );
      return (out.Item as Record<string, unknown> | undefined) ?? null;
    } catch (error) {
      throw toPortError(call, error);
    }
  }

  async getActiveRegion(): Promise<ActiveRegionFlag | null> {
    return activeRegionFlagOf(
      await this.get(CONTROL.activeRegionItem, "dynamodb:GetItem active-region"),
    );
  }

  async putActiveRegion(expected: ActiveRegionFlag | null, next: ActiveRegionFlag) {
    const fields: Record<string, unknown> = {
      activeRegion: next.activeRegion,
      fencingToken: next.fencingToken,
      updatedAt: next.updatedAt,
      updatedBy: next.updatedBy,
      reason: next.reason ?? "",
      phase: next.phase ?? "",
      previousRegion: next.previousRegion ?? "",
      ...(next.previousUpdatedAt !== undefined
        ? { previousUpdatedAt: next.previousUpdatedAt }
        : {}),
      // The peer lease (PEER_LEASE): always written, so a flag never keeps an armed lease it
      // did not mean to; peerSeenAt only when given (a disarmed lease leaves the last renewal).
      leaseRequired: next.leaseRequired ?? false,
      ...(next.peerSeenAt !== undefined ? { peerSeenAt: next.peerSeenAt } : {}),
    };
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    for (const [key, value] of Object.entries(fields)) {
      names[`#${key}`] = key;
      values[`:${key}`] = value;
      sets.push(`#${key} = :${key}`);
    }
    let condition: string;
    if (expected) {
      condition =
        expected.fencingToken === 0 ? CONDITIONS.flagUnchangedFirstToken : CONDITIONS.flagUnchanged;
      values[":expectedRegion"] = expected.activeRegion;
      values[":expectedToken"] = expected.fencingToken;
    } else {
      condition = CONDITIONS.flagAbsent;
      names["#pk"] = PK;
    }
    // A Fence starts a new move: the previous move's proof stamp must not make this one's
    // target "taking-over" before this run's own proof (review 23 M2).
    names["#promotingAt"] = "promotingAt";
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: CONTROL.activeRegionItem },
          UpdateExpression: `SET ${sets.join(", ")} REMOVE #promotingAt`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw toPortError("dynamodb:UpdateItem active-region", error);
    }
  }

  async renewPeerLease(activeRegion: string, fencingToken: number, at: string, arm = false) {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: CONTROL.activeRegionItem },
          // A flag that never had leaseRequired (seeded by Terraform, or written before the
          // lease existed) is armed by its first renewal; every Fence writes it explicitly, so
          // an unplanned failover's `false` is never overridden here, unless asked to (`arm`).
          UpdateExpression: arm
            ? "SET #peerSeenAt = :at, #leaseRequired = :armed"
            : "SET #peerSeenAt = :at, #leaseRequired = if_not_exists(#leaseRequired, :armed)",
          ConditionExpression:
            fencingToken === 0 ? CONDITIONS.leaseRenewableFirstToken : CONDITIONS.leaseRenewable,
          ExpressionAttributeNames: {
            "#activeRegion": "activeRegion",
            "#fencingToken": "fencingToken",
            "#peerSeenAt": "peerSeenAt",
            "#leaseRequired": "leaseRequired",
            "#phase": "phase",
          },
          ExpressionAttributeValues: {
            ":activeRegion": activeRegion,
            ":token": fencingToken,
            ":at": at,
            ":armed": true,
            ":fenced": FENCE_PHASE.fenced,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw toPortError("dynamodb:UpdateItem active-region peer lease", error);
    }
  }

  async setPhase(
    activeRegion: string,
    fencingToken: number,
    phase: string,
    at: string,
    armLease = false,
  ) {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: CONTROL.activeRegionItem },
          // Arming the peer lease (PEER_LEASE) starts it at this write: the renewer takes over
          // within a probe round of the flag reaching its replica.
          UpdateExpression: armLease
            ? "SET #phase = :phase, #phaseChangedAt = :at, #leaseRequired = :armed, #peerSeenAt = :at"
            : "SET #phase = :phase, #phaseChangedAt = :at",
          ConditionExpression: CONDITIONS.phaseChange,
          ExpressionAttributeNames: {
            "#activeRegion": "activeRegion",
            "#fencingToken": "fencingToken",
            "#phase": "phase",
            "#phaseChangedAt": "phaseChangedAt",
            ...(armLease ? { "#leaseRequired": "leaseRequired", "#peerSeenAt": "peerSeenAt" } : {}),
          },
          ExpressionAttributeValues: {
            ":region": activeRegion,
            ":token": fencingToken,
            ":phase": phase,
            ":at": at,
            ...(armLease ? { ":armed": true } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw toPortError("dynamodb:UpdateItem active-region phase", error);
    }
  }

  async markPromoting(activeRegion: string, fencingToken: number, at: string) {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: CONTROL.activeRegionItem },
          // First value kept: a retried Promote does not move the stamp.
          UpdateExpression: "SET #promotingAt = if_not_exists(#promotingAt, :at)",
          ConditionExpression: CONDITIONS.promoting,
          ExpressionAttributeNames: {
            "#activeRegion": "activeRegion",
            "#fencingToken": "fencingToken",
            "#phase": "phase",
            "#promotingAt": "promotingAt",
          },
          ExpressionAttributeValues: {
            ":region": activeRegion,
            ":token": fencingToken,
            ":fenced": FENCE_PHASE.fenced,
            ":at": at,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw toPortError("dynamodb:UpdateItem active-region promoting", error);
    }
  }

  async getLock(): Promise<LockItem | null> {
    const item = await this.get(CONTROL.lockItem, "dynamodb:GetItem failover-lock");
    if (!item || typeof item.owner !== "string") return null;
    return {
      owner: item.owner,
      operation: String(item.operation ?? ""),
      acquiredAt: String(item.acquiredAt ?? ""),
      expiresAt: Number(item[CONTROL.ttlAttribute] ?? 0),
      targetRegion: String(item.targetRegion ?? ""),
      sourceRegion: String(item.sourceRegion ?? ""),
      facts: (item.facts as Record<string, string | number> | undefined) ?? {},
    };
  }

  async putLock(lock: LockItem, nowEpoch: number) {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: lockItem(lock),
          ConditionExpression: CONDITIONS.lockFree,
          ExpressionAttributeNames: { "#pk": PK, "#expiresAt": CONTROL.ttlAttribute },
          ExpressionAttributeValues: { ":now": nowEpoch },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw toPortError("dynamodb:PutItem failover-lock", error);
    }
  }

  async claimLock(lock: LockItem, nowEpoch: number, over?: string) {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: lockItem(lock),
          ConditionExpression:
            over === undefined ? CONDITIONS.lockClaimable : CONDITIONS.lockClaimableOver,
          ExpressionAttributeNames: {
            "#pk": PK,
            "#expiresAt": CONTROL.ttlAttribute,
            "#owner": "owner",
            // Only when used: DynamoDB refuses an expression attribute name no expression uses.
            ...(over === undefined ? {} : { "#facts": "facts", "#scope": LOCK_SCOPE_FACT }),
          },
          ExpressionAttributeValues: {
            ":now": nowEpoch,
            ":owner": lock.owner,
            ...(over === undefined ? {} : { ":over": over }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw toPortError("dynamodb:PutItem failover-lock", error);
    }
  }

  async recordFact(owner: string, name: string, value: string | number) {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: CONTROL.lockItem },
          UpdateExpression: "SET #facts.#name = if_not_exists(#facts.#name, :value)",
          ConditionExpression: CONDITIONS.lockOwned,
          ExpressionAttributeNames: { "#facts": "facts", "#name": name, "#owner": "owner" },
          ExpressionAttributeValues: { ":value": value, ":owner": owner },
          // ALL_NEW is documented to return the item as stored; whether UPDATED_NEW includes an
          // attribute if_not_exists left unchanged is not, and emulators disagree.
          ReturnValues: "ALL_NEW",
        }),
      );
      const facts = out.Attributes?.facts as Record<string, string | number> | undefined;
      return facts?.[name] ?? value;
    } catch (error) {
      if (isConditionFailure(error)) return null;
      throw toPortError("dynamodb:UpdateItem failover-lock", error);
    }
  }

  async renewLock(owner: string, expiresAt: number) {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: CONTROL.lockItem },
          UpdateExpression: "SET #expiresAt = :expiresAt",
          ConditionExpression: CONDITIONS.lockOwned,
          ExpressionAttributeNames: { "#expiresAt": CONTROL.ttlAttribute, "#owner": "owner" },
          ExpressionAttributeValues: { ":expiresAt": expiresAt, ":owner": owner },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw toPortError("dynamodb:UpdateItem failover-lock", error);
    }
  }

  async deleteLock(owner: string) {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { [PK]: CONTROL.lockItem },
          ConditionExpression: CONDITIONS.lockOwnedOrAbsent,
          ExpressionAttributeNames: { "#pk": PK, "#owner": "owner" },
          ExpressionAttributeValues: { ":owner": owner },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw toPortError("dynamodb:DeleteItem failover-lock", error);
    }
  }

  async getCooldown(): Promise<CooldownItem | null> {
    const item = await this.get(CONTROL.cooldownItem, "dynamodb:GetItem failover-cooldown");
    if (!item || typeof item.lastExecution !== "string") return null;
    return {
      lastCompletedAt: String(item.lastCompletedAt ?? ""),
      lastExecution: item.lastExecution,
      cooldownUntil: Number(item.cooldownUntil ?? 0),
      ...(typeof item.drillId === "string" ? { drillId: item.drillId } : {}),
      ...(typeof item.targetRegion === "string" ? { targetRegion: item.targetRegion } : {}),
    };
  }

  async putCooldown(cooldown: CooldownItem) {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { [PK]: CONTROL.cooldownItem, ...cooldown },
        }),
      );
    } catch (error) {
      throw toPortError("dynamodb:PutItem failover-cooldown", error);
    }
  }

  async getReadiness(region: string): Promise<ReadinessRecord | null> {
    const pk = `${CONTROL.readinessItemPrefix}${region}`;
    const item = await this.get(pk, `dynamodb:GetItem ${pk}`);
    const evaluation = item?.evaluation as ReadinessRecord | undefined;
    return evaluation && typeof evaluation.overall === "string" ? evaluation : null;
  }

  async putReadiness(record: ReadinessRecord): Promise<void> {
    const pk = `${CONTROL.readinessItemPrefix}${record.region}`;
    try {
      await this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: { [PK]: pk, evaluation: record } }),
      );
    } catch (error) {
      throw toPortError(`dynamodb:PutItem ${pk}`, error);
    }
  }

  async getHeartbeatWatch(): Promise<HeartbeatWatch | null> {
    const item = await this.get(
      CONTROL.heartbeatWatchItem,
      "dynamodb:GetItem writer-heartbeat-watch",
    );
    if (!item || typeof item.beatAt !== "string" || typeof item.firstSeenAt !== "string") {
      return null;
    }
    return {
      beatAt: item.beatAt,
      firstSeenAt: item.firstSeenAt,
      advanced: item.advanced === true,
      checkedAt: String(item.checkedAt ?? item.firstSeenAt),
      ...(typeof item.staleSince === "string" ? { staleSince: item.staleSince } : {}),
      ...(typeof item.previousBeatAt === "string" ? { previousBeatAt: item.previousBeatAt } : {}),
      ...(typeof item.writer === "string" ? { writer: item.writer } : {}),
      ...(typeof item.previousWriter === "string" ? { previousWriter: item.previousWriter } : {}),
      ...(Array.isArray(item.answers)
        ? {
            answers: (item.answers as unknown[]).filter(
              (a): a is { at: string; answer: ProbeAnswer } =>
                a !== null &&
                typeof a === "object" &&
                typeof (a as { at?: unknown }).at === "string" &&
                typeof (a as { answer?: unknown }).answer === "string",
            ),
          }
        : {}),
    };
  }

  async putHeartbeatWatch(next: HeartbeatWatch, previousCheckedAt: string | null) {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { [PK]: CONTROL.heartbeatWatchItem, ...next },
          ...(previousCheckedAt === null
            ? {
                ConditionExpression: CONDITIONS.watchAbsent,
                ExpressionAttributeNames: { "#pk": PK },
              }
            : {
                ConditionExpression: CONDITIONS.watchUnchanged,
                ExpressionAttributeNames: { "#checkedAt": "checkedAt" },
                ExpressionAttributeValues: { ":previousCheckedAt": previousCheckedAt },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw toPortError("dynamodb:PutItem writer-heartbeat-watch", error);
    }
  }
}

/** The lock as the control table stores it (putLock and claimLock write the same item). */
function lockItem(lock: LockItem): Record<string, unknown> {
  return {
    [PK]: CONTROL.lockItem,
    owner: lock.owner,
    operation: lock.operation,
    acquiredAt: lock.acquiredAt,
    [CONTROL.ttlAttribute]: lock.expiresAt,
    targetRegion: lock.targetRegion,
    sourceRegion: lock.sourceRegion,
    facts: lock.facts,
  };
}

/** The active-region flag an item of the control table holds; null for none (or no region). */
export function activeRegionFlagOf(
  item: Record<string, unknown> | null | undefined,
): ActiveRegionFlag | null {
  if (!item || typeof item.activeRegion !== "string") return null;
  return {
    activeRegion: item.activeRegion,
    fencingToken: Number(item.fencingToken ?? 0),
    updatedAt: String(item.updatedAt ?? ""),
    updatedBy: String(item.updatedBy ?? ""),
    ...(typeof item.reason === "string" ? { reason: item.reason } : {}),
    ...(typeof item.phase === "string" ? { phase: item.phase } : {}),
    ...(typeof item.previousRegion === "string" ? { previousRegion: item.previousRegion } : {}),
    ...(typeof item.previousUpdatedAt === "string" && item.previousUpdatedAt !== ""
      ? { previousUpdatedAt: item.previousUpdatedAt }
      : {}),
    ...(typeof item.leaseRequired === "boolean" ? { leaseRequired: item.leaseRequired } : {}),
    ...(typeof item.peerSeenAt === "string" ? { peerSeenAt: item.peerSeenAt } : {}),
    ...(typeof item.promotingAt === "string" ? { promotingAt: item.promotingAt } : {}),
  };
}
