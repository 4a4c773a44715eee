// When and how the write path's writer identity check decides (functions/payments/shared/
// writer-identity.ts): the SQL itself runs on a real PostgreSQL in ../writer-identity.test.ts.
import {
  WriterCheckFailedError,
  WriterMismatchError,
} from "../../../../functions/payments/shared/errors";
import type { ActiveRegionFlag } from "../../../../functions/payments/shared/fencing";
import type { InstanceIdentity } from "../../../../functions/payments/shared/writer-identity";
import {
  OWN_IDENTITY_TTL_MS,
  writerIdentityCheck,
} from "../../../../functions/payments/shared/writer-identity";

const STARTED = "2026-11-30 20:00:00.123456+00";

function identity(instance: string, options: Partial<InstanceIdentity> = {}): InstanceIdentity {
  return { instance, started: STARTED, in_recovery: false, ...options };
}

/** A connection that answers the check's multi-statement query as node-postgres does (an array). */
function fakeConnection(reaches: InstanceIdentity | Error) {
  const connection = {
    queries: 0,
    reaches,
    query: async () => {
      connection.queries += 1;
      if (connection.reaches instanceof Error) throw connection.reaches;
      return [{ rows: [] }, { rows: [] }, { rows: [connection.reaches] }, { rows: [] }];
    },
  };
  return connection;
}

function sqlError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function checkWith(
  flag: { current: ActiveRegionFlag },
  own: { current: InstanceIdentity | Error; reads: number },
  clock = { now: 0 },
) {
  return writerIdentityCheck({
    region: "us-west-2",
    flag: async () => flag.current,
    mode: async () => "aurora",
    ownCluster: async () => {
      own.reads += 1;
      if (own.current instanceof Error) throw own.current;
      return own.current;
    },
    now: () => clock.now,
  });
}

const OPEN: ActiveRegionFlag = { activeRegion: "us-west-2", phase: "open", fencingToken: 4 };
const WRITER = "payments-db-1-usw2-abc";

describe("writerIdentityCheck", () => {
  it("checks a connection once per flag epoch while writes are open, again after the flag changes", async () => {
    const flag = { current: OPEN };
    const check = checkWith(flag, { current: identity(WRITER), reads: 0 });
    const connection = fakeConnection(identity(WRITER));

    await check(connection as never);
    await check(connection as never);
    expect(connection.queries).toBe(1);

    flag.current = { ...OPEN, fencingToken: 5 };
    await check(connection as never);
    expect(connection.queries).toBe(2);
  });

  it("checks at every use while the flag is fenced (Verify's exempt writes)", async () => {
    const check = checkWith(
      { current: { activeRegion: "us-west-2", phase: "fenced" } },
      { current: identity(WRITER), reads: 0 },
    );
    const connection = fakeConnection(identity(WRITER));

    await check(connection as never);
    await check(connection as never);

    expect(connection.queries).toBe(2);
  });

  it("reads this region's own cluster endpoint once per epoch within its TTL, and again after it", async () => {
    const own = { current: identity(WRITER), reads: 0 };
    const clock = { now: 0 };
    const check = checkWith({ current: OPEN }, own, clock);

    await check(fakeConnection(identity(WRITER)) as never);
    await check(fakeConnection(identity(WRITER)) as never);
    expect(own.reads).toBe(1);

    clock.now = OWN_IDENTITY_TTL_MS;
    await check(fakeConnection(identity(WRITER)) as never);
    expect(own.reads).toBe(2);
  });

  it("rejects a connection to another instance than the one behind this region's cluster endpoint, whatever it says about itself", async () => {
    const own = { current: identity(WRITER), reads: 0 };
    const check = checkWith({ current: OPEN }, own);

    // The other region's old primary (not yet demoted, or detached and kept writable).
    const old = fakeConnection(identity("payments-db-1-use1-abc"));
    await expect(check(old as never)).rejects.toThrow(WriterMismatchError);
    await expect(check(old as never)).rejects.toThrow(
      /reaches instance payments-db-1-use1-abc .*not instance payments-db-1-usw2-abc .*us-west-2/,
    );
  });

  it("rejects an instance of the other region that shares this region's writer's name (identifiers are unique per region only)", async () => {
    const check = checkWith({ current: OPEN }, { current: identity(WRITER), reads: 0 });
    const namesake = fakeConnection(identity(WRITER, { started: "2026-11-02 08:15:42.987654+00" }));

    await expect(check(namesake as never)).rejects.toThrow(WriterMismatchError);
  });

  it("rejects this region's own instance while it is in recovery (not yet promoted)", async () => {
    const reader = identity(WRITER, { in_recovery: true });
    const check = checkWith({ current: OPEN }, { current: reader, reads: 0 });

    await expect(check(fakeConnection(reader) as never)).rejects.toThrow(/in recovery/);
  });

  it("accepts the new writer after an in-region failover by reading its own cluster endpoint again, not by refusing", async () => {
    const own = { current: identity(WRITER), reads: 0 };
    const check = checkWith({ current: OPEN }, own);
    await check(fakeConnection(identity(WRITER)) as never);

    own.current = identity("payments-db-2-usw2-abc");
    await expect(
      check(fakeConnection(identity("payments-db-2-usw2-abc")) as never),
    ).resolves.toBeUndefined();
    expect(own.reads).toBe(2);
  });

  it.each([
    ["42883", "function aurora_db_instance_identifier() does not exist", "function_missing"],
    ["42501", "permission denied for function aurora_db_instance_identifier", "permission_denied"],
    ["57014", "canceling statement due to statement timeout", "timeout"],
    ["XX000", "internal error", "other"],
  ])(
    "fails as WriterCheckFailedError (503, never a bug's 500) when the check's query fails with %s",
    async (code, message, reason) => {
      const check = checkWith({ current: OPEN }, { current: identity(WRITER), reads: 0 });

      const failure = check(fakeConnection(sqlError(code, message)) as never);

      await expect(failure).rejects.toThrow(WriterCheckFailedError);
      await expect(failure).rejects.toMatchObject({ reason });
    },
  );

  it("fails as WriterCheckFailedError when this region's own cluster endpoint cannot answer", async () => {
    const check = checkWith(
      { current: OPEN },
      { current: new Error("connect ETIMEDOUT 10.1.2.3:5432"), reads: 0 },
    );

    const failure = check(fakeConnection(identity(WRITER)) as never);

    await expect(failure).rejects.toThrow(WriterCheckFailedError);
    await expect(failure).rejects.toMatchObject({ reason: "own_cluster_unavailable" });
  });

  it("lets a broken write connection through as itself, for the database's retry on a new one", async () => {
    const check = checkWith({ current: OPEN }, { current: identity(WRITER), reads: 0 });
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });

    await expect(check(fakeConnection(reset) as never)).rejects.toBe(reset);
  });
});
