// The outbox relay starts the moment the flag opens writes in its region (issue 15): a Lambda
// event source mapping on the region's control stream, filtered to that one change. The filter
// is checked against the stream records the flag's real writers produce (Fence, Unfence, the
// prober's lease renewals, the Terraform seed), in the shape DynamoDB Streams delivers them to
// Lambda (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html, "Example event").
import { CONTROL, FENCE_PHASE } from "../../functions/common/contract";
import { relayTriggerPatterns } from "../../infra/constructs/payments-api";
import { matches } from "./event-pattern";
import { FULL_ENV, policyStatements, resourceList, synth } from "./helpers";

const PRIMARY = "us-east-1";
const SECONDARY = "us-west-2";

type Flag = Record<string, string>;
const image = (flag: Flag) =>
  Object.fromEntries(
    Object.entries({ pk: CONTROL.activeRegionItem, ...flag }).map(([k, v]) => [k, { S: v }]),
  );

/** A stream record of the active-region item, as the Lambda poller hands it over. */
function record(
  eventName: "INSERT" | "MODIFY" | "REMOVE",
  oldFlag: Flag | null,
  newFlag: Flag | null,
): Record<string, unknown> {
  return {
    eventID: "1",
    eventName,
    eventVersion: "1.1",
    eventSource: "aws:dynamodb",
    awsRegion: SECONDARY,
    dynamodb: {
      Keys: { pk: { S: CONTROL.activeRegionItem } },
      ...(oldFlag ? { OldImage: image(oldFlag) } : {}),
      ...(newFlag ? { NewImage: image(newFlag) } : {}),
      StreamViewType: "NEW_AND_OLD_IMAGES",
    },
  };
}

const triggers = (region: string, r: Record<string, unknown>) =>
  relayTriggerPatterns(region).some((p) => matches(p as never, r));

const open = (region: string, extra: Flag = {}) => ({
  activeRegion: region,
  phase: FENCE_PHASE.open,
  ...extra,
});
const fenced = (region: string) => ({ activeRegion: region, phase: FENCE_PHASE.fenced });

describe("the relay's start on a flag change", () => {
  it("starts the new region's relay when Unfence opens it, and not the old region's", () => {
    const unfence = record("MODIFY", fenced(SECONDARY), open(SECONDARY));
    expect(triggers(SECONDARY, unfence)).toBe(true);
    expect(triggers(PRIMARY, unfence)).toBe(false);
  });

  it("starts it when the flag moves here already open (a flag set by hand)", () => {
    expect(triggers(SECONDARY, record("MODIFY", open(PRIMARY), open(SECONDARY)))).toBe(true);
  });

  it("does not start it at Fence, while the database may still be read-only", () => {
    expect(triggers(SECONDARY, record("MODIFY", open(PRIMARY), fenced(SECONDARY)))).toBe(false);
  });

  it("ignores the prober's lease renewals and the other items of the table", () => {
    const renewal = record(
      "MODIFY",
      open(SECONDARY, { peerSeenAt: "2026-11-30T17:00:00.000Z" }),
      open(SECONDARY, { peerSeenAt: "2026-11-30T17:00:10.000Z" }),
    );
    expect(triggers(SECONDARY, renewal)).toBe(false);
    const lock = record("INSERT", null, { activeRegion: SECONDARY, phase: FENCE_PHASE.open });
    (lock.dynamodb as { Keys: unknown }).Keys = { pk: { S: CONTROL.lockItem } };
    expect(triggers(SECONDARY, lock)).toBe(false);
  });

  it("filters on the dynamodb key only, the one key a DynamoDB mapping filters on", () => {
    // https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html: "DynamoDB event
    // source mappings only support filtering on the `dynamodb` key".
    for (const region of ["us-east-1", "us-west-2"]) {
      for (const pattern of relayTriggerPatterns(region)) {
        expect(Object.keys(pattern)).toEqual(["dynamodb"]);
      }
    }
  });

  it("ignores the seed and a removal of the flag", () => {
    expect(triggers(PRIMARY, record("INSERT", null, open(PRIMARY)))).toBe(false);
    expect(triggers(PRIMARY, record("REMOVE", open(PRIMARY), null))).toBe(false);
  });
});

describe("the relay's stream trigger as synthesized", () => {
  const { json } = synth(FULL_ENV);
  const mappings = resourceList(json, "aws_lambda_event_source_mapping");

  it("maps each region's control stream to that region's relay, without retries", () => {
    const relays = resourceList(json, "aws_lambda_function").filter(
      (f) => f.function_name === "payments-outbox-relay-dev",
    );
    expect(relays).toHaveLength(2);
    for (const role of ["primary", "secondary"] as const) {
      const mapping = mappings.find(
        (m) => m.provider === `aws.${role}` && String(m.function_name).includes("outbox-relay"),
      );
      expect(mapping).toMatchObject({
        starting_position: "LATEST",
        batch_size: 1,
        maximum_retry_attempts: 0,
      });
      const region = role === "primary" ? PRIMARY : SECONDARY;
      const patterns = (mapping!.filter_criteria as { filter: { pattern: string }[] }).filter.map(
        (f) => JSON.parse(f.pattern) as unknown,
      );
      expect(patterns).toEqual(relayTriggerPatterns(region));
      const source = String(mapping!.event_source_arn);
      // The table's own stream in the primary; the secondary replica's, picked by region.
      if (role === "primary")
        expect(source).toMatch(/^\$\{aws_dynamodb_table\.[\w-]+\.stream_arn\}$/);
      else {
        expect(source).toContain(".replica[*].stream_arn");
        expect(source).toContain(`"${SECONDARY}"`);
      }
    }
  });

  it("lets only the relay read the control stream, and only that stream", () => {
    for (const role of ["primary", "secondary"] as const) {
      const statements = policyStatements(json, `payments-${role}_outbox-relay_permissions`);
      const read = statements.find((s) => s.sid === "ReadFlagStream");
      expect(read!.actions!.sort()).toEqual([
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
      ]);
      const region = role === "primary" ? PRIMARY : SECONDARY;
      expect(read!.resources).toEqual([
        expect.stringMatching(
          new RegExp(`^arn:aws:dynamodb:${region}:.+:table/payments-control-dev/stream/\\*$`),
        ),
      ]);
    }
    const readers = Object.keys(json.data?.aws_iam_policy_document ?? {}).filter((name) =>
      policyStatements(json, name).some((s) => s.actions?.includes("dynamodb:GetRecords")),
    );
    expect(readers.every((name) => name.includes("outbox-relay"))).toBe(true);
  });
});
