// npm run cost: the estimate counts what the synthesized stack declares (instances by class,
// NAT gateways, endpoint-AZs, alarms by resolution, keys, health checks) and prices it from the
// dated table, so a change to the stack changes the estimate; the table itself carries a date,
// a unit and a source for every price.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../infra/config";
import type { PriceTable } from "../../infra/lib/cost";
import {
  assumptionsFromEnv,
  DEFAULT_ASSUMPTIONS,
  estimateCost,
  formatCost,
  LEFT_OUT,
} from "../../infra/lib/cost";
import type { TerraformJson } from "../../infra/lib/synthesized";
import { synthStack } from "./synth-stack";

const TABLE = JSON.parse(
  readFileSync(join(__dirname, "../../infra/pricing/aws-prices.json"), "utf8"),
) as PriceTable;
const REGIONS = { primary: "us-east-1", secondary: "us-west-2" };

describe("npm run cost", () => {
  // One synth (each costs seconds): the defaults plus a domain.
  let json: TerraformJson;
  beforeAll(() => {
    json = JSON.parse(
      synthStack(loadConfig({ DOMAIN_NAME: "pay.acme-payments.io" })),
    ) as TerraformJson;
  }, 60_000);

  /** The stack as NAT_GATEWAYS=single, DB_PRIMARY_INSTANCES=3, DB_INSTANCE_CLASS=db.r6g.large and no domain declare it. */
  function variant(): TerraformJson {
    const copy = JSON.parse(JSON.stringify(json)) as TerraformJson;
    const nats = copy.resource!.aws_nat_gateway!;
    for (const name of Object.keys(nats)
      .filter((n) => nats[n]!.provider === "aws.primary")
      .slice(1)) {
      delete nats[name];
    }
    const instances = copy.resource!.aws_rds_cluster_instance!;
    for (const instance of Object.values(instances)) instance.instance_class = "db.r6g.large";
    const primary = Object.values(instances).find((i) => i.provider === "aws.primary")!;
    instances["database_db-3"] = { ...primary, identifier: "payments-db-3-use1-dev" };
    delete copy.resource!.aws_route53_zone;
    return copy;
  }

  const sum = (lines: ReturnType<typeof estimateCost>, service: string, region?: string) =>
    lines
      .filter((l) => l.service === service && (!region || l.region === region))
      .reduce((n, l) => n + l.monthly, 0);

  it("prices every resource the stack declares, per region", () => {
    const lines = estimateCost(json, REGIONS, TABLE);
    // Defaults: 2 db.r5.large in us-east-1, 1 in us-west-2, 730 hours at $0.29.
    const instances = lines.filter((l) => l.item.startsWith("db.r5.large"));
    expect(instances.map((l) => l.region)).toEqual(["us-east-1", "us-east-1", "us-west-2"]);
    expect(instances.every((l) => l.quantity === 730 && l.unitPrice === 0.29)).toBe(true);
    // per-az: 3 NAT gateways in each region.
    expect(
      lines.filter((l) => l.item.startsWith("NAT gateways")).map((l) => [l.region, l.quantity]),
    ).toEqual([
      ["us-east-1", 3 * 730],
      ["us-west-2", 3 * 730],
    ]);
    expect(lines.some((l) => l.service === "Route 53" && l.item === "hosted zone")).toBe(true);
    expect(lines.filter((l) => l.item.startsWith("health check payments-api-health"))).toHaveLength(
      2,
    );
  });

  it("prices the outbox relay per region: ~65 s of 1 GB every minute where it drains, a flag read where it is passive", () => {
    const lines = estimateCost(json, REGIONS, TABLE);
    const relay = (region: string) =>
      lines.filter((l) => l.region === region && l.item.startsWith("outbox relay"));
    // Active (us-east-1): 43,200 runs a month x (70 s timeout - 5 s stop margin) x 1 GB at the
    // arm64 price; a request each; a strongly consistent flag read every 5 s while draining.
    const activeCompute = relay("us-east-1").find((l) => l.item.includes("compute"))!;
    expect(activeCompute.quantity).toBe(43_200 * 65);
    expect(activeCompute.monthly).toBeCloseTo(43_200 * 65 * 0.0000133334, 2);
    expect(activeCompute.monthly).toBeGreaterThan(37);
    expect(activeCompute.monthly).toBeLessThan(38);
    expect(relay("us-east-1").find((l) => l.item.includes("requests"))!.quantity).toBeCloseTo(
      0.0432,
    );
    expect(relay("us-east-1").find((l) => l.item.includes("flag reads"))!.quantity).toBeCloseTo(
      (43_200 * 12) / 1e6,
    );
    // Passive (us-west-2): the same runs, each a flag read and out.
    const passiveCompute = relay("us-west-2").find((l) => l.item.includes("compute"))!;
    expect(passiveCompute.quantity).toBeCloseTo(43_200 * 0.1);
    expect(passiveCompute.monthly).toBeLessThan(0.1);
    expect(relay("us-west-2").find((l) => l.item.includes("flag reads"))!.quantity).toBeCloseTo(
      0.0432,
    );
    // A relay with 2 GB costs twice as much where it drains: the memory comes from the stack.
    const doubled = JSON.parse(JSON.stringify(json)) as TerraformJson;
    for (const fn of Object.values(doubled.resource!.aws_lambda_function!)) {
      if (String(fn.function_name).includes("outbox-relay")) fn.memory_size = 2048;
    }
    const again = estimateCost(doubled, REGIONS, TABLE).find(
      (l) => l.region === "us-east-1" && l.item.startsWith("outbox relay compute"),
    )!;
    expect(again.monthly).toBeCloseTo(activeCompute.monthly * 2, 2);
    // Passive run length is an assumption like the others.
    const longer = estimateCost(json, REGIONS, TABLE, {
      ...DEFAULT_ASSUMPTIONS,
      relayPassiveRunMs: 400,
    }).find((l) => l.region === "us-west-2" && l.item.startsWith("outbox relay compute"))!;
    expect(longer.quantity).toBeCloseTo(43_200 * 0.4);
  });

  it("follows what the stack declares: one NAT gateway, three instances of another class", () => {
    const base = estimateCost(json, REGIONS, TABLE);
    const lines = estimateCost(variant(), REGIONS, TABLE);
    expect(
      lines.find((l) => l.item.startsWith("NAT gateways") && l.region === "us-east-1")!.quantity,
    ).toBe(730);
    expect(
      lines.filter((l) => l.item.startsWith("db.r6g.large") && l.region === "us-east-1"),
    ).toHaveLength(3);
    expect(sum(lines, "VPC", "us-east-1")).toBeLessThan(sum(base, "VPC", "us-east-1"));
    expect(lines.some((l) => l.service === "Route 53" && l.item === "hosted zone")).toBe(false);
  });

  it("scales usage lines with the assumptions and leaves fixed costs alone", () => {
    const base = estimateCost(json, REGIONS, TABLE);
    const busy = estimateCost(json, REGIONS, TABLE, {
      ...DEFAULT_ASSUMPTIONS,
      requestsPerMonth: 10 * DEFAULT_ASSUMPTIONS.requestsPerMonth,
    });
    expect(sum(busy, "API Gateway")).toBeCloseTo(10 * sum(base, "API Gateway"), 6);
    expect(sum(busy, "VPC")).toBeCloseTo(sum(base, "VPC"), 6);
  });

  it("refuses an instance class the table has no price for, naming where to add it", () => {
    const other = JSON.parse(JSON.stringify(json)) as TerraformJson;
    const instance = Object.values(other.resource!.aws_rds_cluster_instance!)[0]!;
    instance.instance_class = "db.x2g.large";
    expect(() => estimateCost(other, REGIONS, TABLE)).toThrow(
      "no price for db.x2g.large in infra/pricing/aws-prices.json (aurora.instanceHour.byClass)",
    );
  });

  it("rejects a malformed assumption by its variable", () => {
    expect(() => assumptionsFromEnv({ COST_WRITE_SHARE: "1.5" })).toThrow(
      'COST_WRITE_SHARE="1.5" is not allowed: a fraction from 0 to 1',
    );
    expect(assumptionsFromEnv({ COST_REQUESTS_PER_MONTH: "100" }).requestsPerMonth).toBe(100);
  });

  it("prints the total as the sum of the lines, the assumptions, the date, the sources and what it leaves out", () => {
    const lines = estimateCost(json, REGIONS, TABLE);
    const text = formatCost(lines, TABLE, DEFAULT_ASSUMPTIONS, "payments-dr-dev").join("\n");
    const total = lines.reduce((n, l) => n + l.monthly, 0);
    expect(text).toContain(
      `total: $${total.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} per month`,
    );
    expect(text).toContain(`compiled ${TABLE.compiled}`);
    expect(text).toContain("COST_REQUESTS_PER_MONTH");
    for (const item of LEFT_OUT) expect(text).toContain(item);
    expect(text).toContain("https://aws.amazon.com/rds/aurora/pricing/");
  });

  it("has a date, a unit and an AWS pricing page for every price", () => {
    expect(TABLE.compiled).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(TABLE.regions).toEqual(["us-east-1", "us-west-2"]);
    for (const [key, entry] of Object.entries(TABLE.prices)) {
      expect([key, entry.source]).toEqual([
        key,
        expect.stringMatching(/^https:\/\/aws\.amazon\.com\/[\w/-]+\/(#\w+)?$/),
      ]);
      expect(entry.unit.length).toBeGreaterThan(5);
      expect(entry.value !== undefined || entry.byClass !== undefined).toBe(true);
    }
  });
});
