// When the write path's writer identity check runs (functions/payments/shared/writer-identity.ts):
// the SQL itself runs on a real PostgreSQL in ../writer-identity.test.ts.
import { WriterMismatchError } from "../../../../functions/payments/shared/errors";
import type { ActiveRegionFlag } from "../../../../functions/payments/shared/fencing";
import { writerIdentityCheck } from "../../../../functions/payments/shared/writer-identity";

function fakeConnection(region: string, inRecovery = false) {
  const connection = {
    queries: 0,
    region,
    inRecovery,
    query: async () => {
      connection.queries += 1;
      return {
        rows: [
          {
            instance: `writer-in-${connection.region}`,
            in_recovery: connection.inRecovery,
            region: connection.region,
            session_id: "MASTER_SESSION_ID",
          },
        ],
      };
    },
  };
  return connection;
}

function checkWith(flag: { current: ActiveRegionFlag }) {
  return writerIdentityCheck({
    region: "us-west-2",
    flag: async () => flag.current,
    mode: async () => "aurora",
  });
}

describe("writerIdentityCheck", () => {
  it("checks a connection once per flag epoch while writes are open, again after the flag changes", async () => {
    const flag = {
      current: { activeRegion: "us-west-2", phase: "open", fencingToken: 4 } as ActiveRegionFlag,
    };
    const check = checkWith(flag);
    const connection = fakeConnection("us-west-2");

    await check(connection as never);
    await check(connection as never);
    expect(connection.queries).toBe(1);

    flag.current = {
      activeRegion: "us-west-2",
      phase: "open",
      fencingToken: 5,
    } as ActiveRegionFlag;
    await check(connection as never);
    expect(connection.queries).toBe(2);
  });

  it("checks at every use while the flag is fenced (Verify's exempt writes)", async () => {
    const check = checkWith({ current: { activeRegion: "us-west-2", phase: "fenced" } });
    const connection = fakeConnection("us-west-2");

    await check(connection as never);
    await check(connection as never);

    expect(connection.queries).toBe(2);
  });

  it("rejects a connection to another region's instance, and one in recovery", async () => {
    const check = checkWith({ current: { activeRegion: "us-west-2", phase: "open" } });

    await expect(check(fakeConnection("us-east-1") as never)).rejects.toThrow(WriterMismatchError);
    await expect(check(fakeConnection("us-east-1") as never)).rejects.toThrow(
      /instance writer-in-us-east-1 in us-east-1.*not this region's \(us-west-2\) writer/,
    );
    await expect(check(fakeConnection("us-west-2", true) as never)).rejects.toThrow(/in recovery/);
  });

  it("accepts a writer in no global database at all (the detach path's promoted cluster)", async () => {
    const check = checkWith({ current: { activeRegion: "us-west-2", phase: "open" } });
    const standalone = {
      query: async () => ({
        rows: [
          { instance: "alone", in_recovery: false, region: null, session_id: null, listed: 0 },
        ],
      }),
    };

    await expect(check(standalone as never)).resolves.toBeUndefined();
  });

  it("rejects a connection whose instance the global database does not list", async () => {
    const check = checkWith({ current: { activeRegion: "us-west-2", phase: "open" } });
    const unlisted = {
      query: async () => ({
        rows: [
          { instance: "lonely", in_recovery: false, region: null, session_id: null, listed: 2 },
        ],
      }),
    };

    await expect(check(unlisted as never)).rejects.toThrow(/no region listed/);
  });
});
