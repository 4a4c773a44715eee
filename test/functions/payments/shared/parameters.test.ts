import { GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-jest";
import { ssmFetcher } from "../../../../functions/payments/shared/aws/ssm";
import { ParameterCache } from "../../../../functions/payments/shared/parameters";
import { auroraSettings } from "../../../../functions/payments/shared/runtime";

const ssm = mockClient(SSMClient);

beforeEach(() => ssm.reset());

function fixture() {
  let now = 0;
  const calls: string[][] = [];
  let values = new Map([
    ["/payments/dev/db/writer-endpoint", "writer-a.cluster.example:5432"],
    ["/payments/dev/db/name", "payments"],
  ]);
  let failing = false;
  const cache = new ParameterCache({
    prefix: "/payments/dev/",
    keys: ["db/writer-endpoint", "db/name"],
    ttlMs: 60_000,
    now: () => now,
    fetch: async (names) => {
      calls.push([...names]);
      if (failing) throw new Error("ThrottlingException");
      return values;
    },
  });
  return {
    cache,
    calls,
    advance: (ms: number) => (now += ms),
    setEndpoint: (endpoint: string) => {
      values = new Map(values).set("/payments/dev/db/writer-endpoint", endpoint);
    },
    fail: (on: boolean) => (failing = on),
  };
}

describe("ParameterCache", () => {
  it("reads all parameters in one call and caches them for the TTL", async () => {
    const f = fixture();

    await f.cache.get();
    f.advance(59_999);
    await f.cache.get();

    expect(f.calls).toEqual([["/payments/dev/db/writer-endpoint", "/payments/dev/db/name"]]);
  });

  it("picks up a rewritten endpoint after the TTL", async () => {
    const f = fixture();
    await f.cache.get();
    f.setEndpoint("writer-b.cluster.example");

    f.advance(60_000);

    expect(await f.cache.value("db/writer-endpoint")).toBe("writer-b.cluster.example");
  });

  it("reads again at once after invalidate()", async () => {
    const f = fixture();
    await f.cache.get();
    f.setEndpoint("writer-b.cluster.example");

    f.cache.invalidate();

    expect(await f.cache.value("db/writer-endpoint")).toBe("writer-b.cluster.example");
  });

  it("keeps serving the last values when a refresh fails", async () => {
    const f = fixture();
    await f.cache.get();
    f.fail(true);
    f.advance(60_000);

    expect(await f.cache.value("db/name")).toBe("payments");
  });

  it("fails a cold start without parameters with ParametersUnavailableError", async () => {
    const f = fixture();
    f.fail(true);

    await expect(f.cache.get()).rejects.toMatchObject({ name: "ParametersUnavailableError" });
  });
});

describe("ssmFetcher", () => {
  it("asks GetParameters with decryption and fails on a missing name", async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: [{ Name: "/p/a", Value: "1" }],
      InvalidParameters: ["/p/b"],
    });

    await expect(ssmFetcher(new SSMClient({}))(["/p/a", "/p/b"])).rejects.toThrow(
      "parameters not found: /p/b",
    );
    expect(ssm).toHaveReceivedCommandWith(GetParametersCommand, {
      Names: ["/p/a", "/p/b"],
      WithDecryption: true,
    });
  });
});

describe("auroraSettings", () => {
  const values = (endpoint: string) =>
    new Map([
      ["db/writer-endpoint", endpoint],
      ["db/name", "payments"],
      ["db/username", "app"],
      ["db/password", "secret"],
    ]);

  it.each([
    ["host:port", "w.cluster-x.us-east-1.rds.amazonaws.com:5433", 5433],
    ["a bare host (port 5432)", "w.cluster-x.us-east-1.rds.amazonaws.com", 5432],
  ])("reads %s", (_label, endpoint, port) => {
    expect(auroraSettings(values(endpoint))).toEqual({
      kind: "aurora",
      host: "w.cluster-x.us-east-1.rds.amazonaws.com",
      port,
      database: "payments",
      user: "app",
      password: "secret",
    });
  });

  it("rejects an endpoint that is not host[:port]", () => {
    expect(() => auroraSettings(values("postgres://x"))).toThrow("db/writer-endpoint");
  });

  it("reads the region's own cluster from the reader endpoint when asked", () => {
    const withReader = new Map([
      ...values("w.global-x.global.rds.amazonaws.com"),
      ["db/reader-endpoint", "r.cluster-ro-y.us-west-2.rds.amazonaws.com"],
    ]);
    expect(auroraSettings(withReader, "db/reader-endpoint")).toMatchObject({
      host: "r.cluster-ro-y.us-west-2.rds.amazonaws.com",
      port: 5432,
    });
  });
});
