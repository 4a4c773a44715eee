// Review 23c, M1 and M2: the standby's floor judged over the whole poll's deletion set, and the
// page's advice for a standby instance by its state (one command per broken instance).
import { TransientError } from "../../functions/dr/shared/errors";
import { EAST, FakeWorld, TEST_CAPACITY, TOPOLOGY, WEST } from "../functions/dr/support/fake-world";
import { STANDBY_RETRY_POLLS } from "../../functions/dr/restore-capacity/core";
import { runWorkflow } from "./support/harness";

const westArn = TOPOLOGY.regions[WEST]!.clusterArn;
const eastArn = TOPOLOGY.regions[EAST]!.clusterArn;
const TAG = { "created-by": "payments-dr-restore-capacity" };
const back = { targetRegion: EAST, reason: "drill", trigger: "drill", ignoreCooldown: true };
const DB1 = "payments-db-1-usw2-test";
const DB2 = "payments-db-2-usw2-test";
const DB3 = "payments-db-3-usw2-test";

const pages = (w: FakeWorld) =>
  w.messages[EAST]!.filter((m) => m.subject.includes("capacity not restored")).map(
    (m) => m.message,
  );

/** After a failover to us-west-2, DR_CAPACITY with 3 instances, us-east-1 back at 3. */
function three(standbyInstances: number): FakeWorld {
  const world = FakeWorld.afterFailoverToWest();
  world.capacity = {
    ...TEST_CAPACITY,
    instances: 3,
    standbyInstances,
    regions: Object.fromEntries(
      Object.entries(TEST_CAPACITY.regions).map(([r, p]) => [
        r,
        { ...p, identifiers: [1, 2, 3].map((n) => `payments-db-${n}-${p.regionCode}-test`) },
      ]),
    ),
  } as typeof TEST_CAPACITY;
  world.addInstance(eastArn, "payments-db-3-use1-test", "available", "db.r6g.large");
  return world;
}

function ours(world: FakeWorld, id: string, status = "available"): void {
  world.addInstance(westArn, id, status, "db.r6g.large");
  world.instances.get(`${WEST}/${id}`)!.tags = TAG;
}

/** Every `--db-instance-identifier` value of a delete command on the page. */
function deleteTargets(text: string): string[] {
  return [
    ...text.matchAll(/aws rds delete-db-instance --region \S+ --db-instance-identifier ([^\s)]+)/g),
  ].map((m) => m[1]!);
}

describe("the standby's floor over the whole poll (review 23c, M1)", () => {
  it("never advises deleting both kit readers while the standby's own instance is failed and a re-protect holds the lock", async () => {
    const world = three(1);
    ours(world, DB2);
    ours(world, DB3);
    world.instances.get(`${WEST}/${DB1}`)!.status = "failed";
    let polls = 0;
    const result = await runWorkflow("failback", back, {
      world,
      observe: {
        RestoreCapacity: () => {
          polls += 1;
          world.takeReprotectLock(EAST, WEST);
        },
      },
    });
    expect(result.status).toBe("SUCCEEDED");
    expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
    const page = pages(world).join("\n====\n");
    expect(page).not.toBe("");
    // Review 23d: exactly one kit reader is named for deletion (the held one, with its command),
    // the other is kept; the loop did not end in the poll that held the delete.
    const targets = [...new Set(deleteTargets(page).filter((id) => id === DB2 || id === DB3))];
    expect(targets).toEqual([DB2]);
    expect(page).toContain(
      `aws rds delete-db-instance --region ${WEST} --db-instance-identifier ${DB2}`,
    );
    expect(page).toMatch(/not deleted: payments-db-2-usw2-test in us-west-2, another reader/);
    expect(polls).toBe(STANDBY_RETRY_POLLS);
    // The broken standby shows: headline and its own line.
    expect(page).toContain("has no working instance of its own");
    expect(page).toContain(`could not delete ${DB2}`);
    expect(page).toContain(`${DB1} in ${WEST} is failed: replace it`);
    expect(deleteTargets(page)).toContain(DB1);
  });

  it("does not delete db-3 in the poll where db-2's delete was ambiguous", async () => {
    const world = three(1);
    ours(world, DB2);
    ours(world, DB3);
    world.instances.get(`${WEST}/${DB1}`)!.status = "failed";
    // A socket timeout AWS may already have accepted.
    world.inject(
      "rds:DeleteDBInstance",
      () => new TransientError("connect ETIMEDOUT (socket hang up)"),
      1,
      WEST,
    );
    const perPoll: string[][] = [];
    let before = 0;
    const result = await runWorkflow("failback", back, {
      world,
      observe: {
        RestoreCapacity: () => {
          const calls = world.callsTo("rds:DeleteDBInstance");
          perPoll.push(
            calls.slice(before).map((c) => (c.args as { identifier: string }).identifier),
          );
          before = calls.length;
        },
      },
    });
    expect(result.status).toBe("SUCCEEDED");
    const all = world.callsTo("rds:DeleteDBInstance").map((c) => c.args);
    // The observer runs before each poll: perPoll[n] holds poll n's deletes (n from 1).
    perPoll.push(all.slice(before).map((c) => (c as { identifier: string }).identifier));
    // Review 23d: db-2's delete is attempted, ambiguous, and asked again at the next poll (not
    // dropped by a page in the same poll); db-3 stays the standby's only working instance.
    expect(perPoll[0]).toEqual([]);
    expect(perPoll[1]).toEqual([DB2]);
    expect(perPoll[2]).toEqual([DB2]);
    expect(all).not.toContainEqual({ identifier: DB3 });
    expect(world.instances.get(`${WEST}/${DB2}`)?.status ?? "gone").toMatch(/deleting|gone/);
    expect(world.instances.get(`${WEST}/${DB3}`)!.status).toBe("available");
    expect(perPoll.flat()).not.toContain(DB3);
    // Then the broken standby pages, and its headline is true: db-2 is gone.
    const page = pages(world).join("\n====\n");
    expect(page).toContain("has no working instance besides the reader this kit added there");
    expect(page).not.toContain("not deleted:");
    // What the paging poll deleted is on the page (its output is lost to the Catch).
    expect(page).toContain(`deleted ${DB2} in ${WEST}`);
  });

  it("names a kit reader whose delete is refused on every poll, with its command, and keeps the other", async () => {
    const world = three(1);
    ours(world, DB2);
    ours(world, DB3);
    world.instances.get(`${WEST}/${DB1}`)!.status = "failed";
    // A refusal that does not pass (an SCP or a changed role): not retried by the ASL.
    world.inject(
      "rds:DeleteDBInstance",
      () =>
        Object.assign(new Error("User is not authorized to perform: rds:DeleteDBInstance"), {
          name: "AccessDenied",
        }),
      100,
      WEST,
    );
    let polls = 0;
    const result = await runWorkflow("failback", back, {
      world,
      observe: { RestoreCapacity: () => void (polls += 1) },
    });
    expect(result.status).toBe("SUCCEEDED");
    const calls = world.callsTo("rds:DeleteDBInstance").map((c) => c.args);
    expect(calls).toEqual(Array(STANDBY_RETRY_POLLS).fill({ identifier: DB2 }));
    expect(polls).toBe(STANDBY_RETRY_POLLS);
    expect(world.instances.get(`${WEST}/${DB2}`)!.status).toBe("available");
    expect(world.instances.get(`${WEST}/${DB3}`)!.status).toBe("available");
    const page = pages(world).join("\n====\n");
    expect([...new Set(deleteTargets(page))].sort()).toEqual([DB1, DB2]);
    expect(page).toContain(
      `Next: delete ${DB2}, a reader this kit added that the loop could not delete (the reason above says why), once no run is moving to ${WEST}: aws rds delete-db-instance --region ${WEST} --db-instance-identifier ${DB2}`,
    );
    expect(page).toContain("AccessDenied");
    expect(page).not.toContain("has no working instance besides the reader this kit added there");
  });
});

describe("a page about the new primary also shows a broken standby (review 23c, L3)", () => {
  it("names the standby's failed instance on the page of a failed reader in the new primary", async () => {
    const world = three(1);
    ours(world, DB2);
    world.instances.get(`${WEST}/${DB1}`)!.status = "failed";
    world.instances.get(`${EAST}/payments-db-3-use1-test`)!.status = "failed";
    const result = await runWorkflow("failback", back, { world });
    expect(result.output!.warnings!.RestoreCapacity!.Error).toBe("DependencyError");
    const page = pages(world).join("\n====\n");
    expect(page).toContain("payments-db-3-use1-test is failed");
    expect(page).toContain(`${DB1} in ${WEST} is failed: replace it`);
    expect(page).toContain(
      `Next: the standby in ${WEST} has no working instance of its own either`,
    );
    // The kept reader is never named for deletion.
    expect(deleteTargets(page)).not.toContain(DB2);
  });
});

describe("the page's advice for a broken standby by state (review 23c, M2)", () => {
  it("prints one command per broken instance and none for a rebooting one", async () => {
    const world = three(2);
    world.addInstance(westArn, DB2, "rebooting", "db.r6g.large");
    ours(world, DB3);
    world.instances.get(`${WEST}/${DB1}`)!.status = "failed";
    await runWorkflow("failback", back, {
      world,
      observe: {
        RestoreCapacity: () => {
          world.instances.get(`${WEST}/${DB2}`)!.status = "rebooting";
          world.instances.get(`${EAST}/payments-db-3-use1-test`)!.status = "modifying";
        },
      },
    });
    const page = pages(world).join("\n====\n");
    expect(page).not.toBe("");
    const targets = deleteTargets(page);
    expect([...new Set(targets)]).toEqual([DB1]);
    for (const id of targets) expect(id).toMatch(/^[a-z0-9-]+$/);
    expect(page).not.toMatch(/--db-instance-identifier [^\s)]*,/);
    expect(page).toContain(
      `${DB2} is rebooting: Aurora brings it back by itself; do not delete it`,
    );
    expect(page).toContain(`keep ${DB3} in ${WEST}`);
  });

  it.each([
    [
      "incompatible-parameters",
      /correct its DB parameter group .* reboot-db-instance --region us-west-2 --db-instance-identifier payments-db-1-usw2-test/,
    ],
    ["inaccessible-encryption-credentials", /restore access to the cluster's KMS key in us-west-2/],
    [
      "inaccessible-encryption-credentials-recoverable",
      /restore access to the cluster's KMS key in us-west-2/,
    ],
    [
      "insufficient-capacity",
      /payments-db-1-usw2-test in us-west-2 is insufficient-capacity: replace it: delete it \(aws rds delete-db-instance --region us-west-2 --db-instance-identifier payments-db-1-usw2-test\), then run terraform apply/,
    ],
  ])("advises by state: %s", async (status, advice) => {
    const world = three(1);
    ours(world, DB2);
    world.instances.get(`${WEST}/${DB1}`)!.status = status;
    await runWorkflow("failback", back, { world });
    const page = pages(world).join("\n====\n");
    expect(page).toMatch(advice);
    if (status !== "insufficient-capacity") expect(deleteTargets(page)).toEqual([]);
    if (status.startsWith("inaccessible-encryption-credentials")) {
      // Review 23d (low): a complete read-only command, its quotes balanced, no placeholder.
      const command = `aws kms describe-key --region ${WEST} --key-id "$(aws rds describe-db-instances --region ${WEST} --db-instance-identifier ${DB1} --query 'DBInstances[0].KmsKeyId' --output text)"`;
      expect(page).toContain(`(${command})`);
      expect(command.split("'").length % 2).toBe(1);
      expect(command.split('"').length % 2).toBe(1);
      expect(page).not.toMatch(/--key-id </);
    }
  });
});

/** Three instances planned, us-east-1 back at 2 of 3 (one reader to add), for review 24. */
function shortEast(): FakeWorld {
  const world = three(1);
  world.instances.delete(`${EAST}/payments-db-3-use1-test`);
  const east = world.clusters[eastArn]!;
  east.instances = east.instances.filter((id) => id !== "payments-db-3-use1-test");
  return world;
}

const refusedCreate = () =>
  Object.assign(new Error("User is not authorized to perform: rds:CreateDBInstance"), {
    name: "AccessDenied",
  });

describe("a refused reader in the new primary still names the region left (review 24, M1)", () => {
  it("names a kit reader left modifying and what the paging poll deleted, standby's own available", async () => {
    const world = shortEast();
    ours(world, DB2, "modifying");
    ours(world, DB3);
    world.inject("rds:CreateDBInstance", refusedCreate, 100, EAST);
    let polls = 0;
    const result = await runWorkflow("failback", back, {
      world,
      observe: { RestoreCapacity: () => void (polls += 1) },
    });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.warnings!.RestoreCapacity!.Error).toBe("DependencyError");
    // The refusal is for good: the loop pages in that poll (named, not retried).
    expect(polls).toBe(1);
    expect(world.instances.get(`${WEST}/${DB3}`)!.status).toBe("deleting");
    expect(world.instances.get(`${WEST}/${DB2}`)!.status).toBe("modifying");
    const page = pages(world).join("\n====\n");
    // What that poll deleted (its output is lost to the Catch) and the reader it left.
    expect(page).toContain(`deleted ${DB3} in ${WEST}`);
    expect(page).toMatch(
      /not deleted: payments-db-2-usw2-test in us-west-2, another reader this kit added \(is modifying\); delete it once it is available/,
    );
    expect(page).toContain(
      `Next: delete ${DB2}, a reader this kit added that the loop did not delete (the reason above says why and when), once no run is moving to ${WEST}: aws rds delete-db-instance --region ${WEST} --db-instance-identifier ${DB2}`,
    );
    // Never the standby's own instance, never the reader already deleted.
    expect([...new Set(deleteTargets(page))]).toEqual([DB2]);
  });

  it("names a second kit reader left modifying besides the one kept, standby's own failed", async () => {
    const world = shortEast();
    ours(world, DB2, "modifying");
    ours(world, DB3);
    world.instances.get(`${WEST}/${DB1}`)!.status = "failed";
    world.inject("rds:CreateDBInstance", refusedCreate, 100, EAST);
    let polls = 0;
    const result = await runWorkflow("failback", back, {
      world,
      observe: { RestoreCapacity: () => void (polls += 1) },
    });
    expect(result.output!.warnings!.RestoreCapacity!.Error).toBe("DependencyError");
    expect(polls).toBe(1);
    expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
    const page = pages(world).join("\n====\n");
    expect(page).toContain(`kept ${DB3} (the standby has 0 working instance(s)`);
    expect(page).toContain(
      `Next: the standby in ${WEST} has no working instance of its own either`,
    );
    expect(page).toContain(`${DB1} in ${WEST} is failed: replace it`);
    // db-2 is named with its command; db-3, the standby's only working instance, never is.
    const targets = [...new Set(deleteTargets(page))];
    expect(targets).toContain(DB2);
    expect(targets).not.toContain(DB3);
    expect(page).toContain(`Next: delete ${DB2}, a reader this kit added`);
  });
});

describe("a kit reader left in a state it cannot be deleted in (review 24, L5)", () => {
  it("advises fixing the KMS key first, not waiting for it to become available", async () => {
    const world = shortEast();
    ours(world, DB2, "inaccessible-encryption-credentials");
    ours(world, DB3);
    world.inject("rds:CreateDBInstance", refusedCreate, 100, EAST);
    await runWorkflow("failback", back, { world });
    const page = pages(world).join("\n====\n");
    expect(page).toContain(
      `not deleted: ${DB2} in ${WEST}, another reader this kit added, is inaccessible-encryption-credentials, a state Aurora does not leave by itself`,
    );
    expect(page).toContain(
      `restore access to the cluster's KMS key in ${WEST} (aws kms describe-key`,
    );
    expect(page).not.toContain("delete it once it is available");
    expect([...new Set(deleteTargets(page))]).toEqual([DB2]);
  });
});

describe("the kept reader across polls (review 24, L1)", () => {
  it("never counts a reader whose delete an earlier poll attempted as carrying the standby", async () => {
    const world = three(1);
    ours(world, DB2, "modifying");
    ours(world, DB3);
    // Poll 1 asks to delete db-3 (db-1 and db-2 carry the standby); the call times out after AWS
    // accepted it: a delete "can't be canceled or reverted once submitted"
    // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html),
    // and DescribeDBInstances can still read it `available` at the next poll.
    world.inject(
      "rds:DeleteDBInstance",
      () => new TransientError("connect ETIMEDOUT (socket hang up)"),
      1,
      WEST,
    );
    let polls = 0;
    const result = await runWorkflow("failback", back, {
      world,
      observe: {
        RestoreCapacity: () => {
          polls += 1;
          if (polls === 2) {
            // Meanwhile the standby's own instance failed and db-2 finished modifying.
            world.instances.get(`${WEST}/${DB1}`)!.status = "failed";
            world.instances.get(`${WEST}/${DB2}`)!.status = "available";
          }
        },
      },
    });
    expect(result.status).toBe("SUCCEEDED");
    // db-2 is the one reader left working: never deleted; db-3 is asked again.
    const deletes = world.callsTo("rds:DeleteDBInstance").map((c) => c.args);
    expect(deletes).not.toContainEqual({ identifier: DB2 });
    expect(deletes).toContainEqual({ identifier: DB3 });
    expect(world.instances.get(`${WEST}/${DB2}`)!.status).toBe("available");
    const page = pages(world).join("\n====\n");
    expect(page).toContain(`kept ${DB2} (the standby has 0 working instance(s)`);
    expect(deleteTargets(page)).not.toContain(DB2);
  });

  it("asks the same reader again when a retried poll lists the instances in another order", async () => {
    const world = shortEast();
    ours(world, DB2);
    ours(world, DB3);
    world.instances.get(`${WEST}/${DB1}`)!.status = "failed";
    // The poll's create is throttled (the ASL retries the whole poll, dropping its output) and
    // its delete of db-2 times out after AWS may have accepted it.
    world.inject("rds:CreateDBInstance", () => new TransientError("Rate exceeded"), 1, EAST);
    world.inject(
      "rds:DeleteDBInstance",
      () => new TransientError("connect ETIMEDOUT (socket hang up)"),
      1,
      WEST,
    );
    let calls = 0;
    const result = await runWorkflow("failback", back, {
      world,
      observe: {
        RestoreCapacity: () => {
          calls += 1;
          // DescribeDBInstances documents no order
          // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html).
          if (calls === 2) world.clusters[westArn]!.instances = [DB3, DB1, DB2];
        },
      },
    });
    expect(result.status).toBe("SUCCEEDED");
    const deletes = world.callsTo("rds:DeleteDBInstance").map((c) => c.args);
    expect(deletes[0]).toEqual({ identifier: DB2 });
    expect(deletes).not.toContainEqual({ identifier: DB3 });
    expect(world.instances.get(`${WEST}/${DB3}`)!.status).toBe("available");
  });
});
