// The application role's IAM authentication tokens: signed for the region of the cluster that
// answers (a token signed for another region is refused), for the exact user, per connection.
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.Connecting.html
import { PARAMETERS } from "../../../../functions/common/contract";
import {
  rdsIamTokens,
  regionOfEndpoint,
  regionOfRdsHost,
} from "../../../../functions/payments/shared/aws/rds-auth";
import { auroraSettings } from "../../../../functions/payments/shared/runtime";

const WEST_CLUSTER = "payments-db-usw2-prod.cluster-c1a2b3c4d5e6.us-west-2.rds.amazonaws.com";
const GLOBAL = "payments-global-prod.global-a1b2c3d4e5.global.rds.amazonaws.com";

describe("IAM database authentication tokens", () => {
  const saved = { ...process.env };
  beforeAll(() => {
    // Static credentials for the default provider chain: the Signer signs locally, no call.
    process.env.AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
    process.env.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  });
  afterAll(() => {
    process.env = saved;
  });

  it("reads the region from a cluster endpoint and follows the global endpoint's CNAME", async () => {
    expect(regionOfRdsHost(WEST_CLUSTER, "us-east-1")).toBe("us-west-2");
    expect(regionOfRdsHost(GLOBAL, "us-east-1")).toBe("us-east-1");
    await expect(regionOfEndpoint(GLOBAL, "us-east-1", async () => [WEST_CLUSTER])).resolves.toBe(
      "us-west-2",
    );
    await expect(
      regionOfEndpoint(GLOBAL, "us-east-1", async () => {
        throw Object.assign(new Error("queryCname ENODATA"), { code: "ENODATA" });
      }),
    ).resolves.toBe("us-east-1");
  });

  it("signs a connect token for the application user and the cluster's region", async () => {
    const provider = rdsIamTokens("us-east-1")({
      host: WEST_CLUSTER,
      port: 5432,
      user: "payments_app",
    });
    const token = await provider();
    const url = new URL(`https://${token}`);
    expect(url.host).toBe(`${WEST_CLUSTER}:5432`);
    expect(url.searchParams.get("Action")).toBe("connect");
    expect(url.searchParams.get("DBUser")).toBe("payments_app");
    expect(url.searchParams.get("X-Amz-Credential")).toMatch(
      /^AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-west-2\/rds-db\/aws4_request$/,
    );
    // 15 minutes: the documented lifetime of an authentication token.
    expect(url.searchParams.get("X-Amz-Expires")).toBe("900");
  });

  it("gives the application role's settings no password string: only the token provider", () => {
    const values = new Map([
      [PARAMETERS.writerEndpoint, `${WEST_CLUSTER}:5432`],
      [PARAMETERS.databaseName, "payments"],
    ]);
    const tokens = jest.fn(() => async () => "token");
    const settings = auroraSettings(values, PARAMETERS.writerEndpoint, {
      kind: "iam",
      user: "payments_app",
      tokens,
    });
    expect(settings).toMatchObject({
      kind: "aurora",
      host: WEST_CLUSTER,
      port: 5432,
      database: "payments",
      user: "payments_app",
    });
    expect(settings.kind === "aurora" && typeof settings.password).toBe("function");
    expect(tokens).toHaveBeenCalledWith({ host: WEST_CLUSTER, port: 5432, user: "payments_app" });
  });
});
