// The reconciliation's live-cluster guard (functions/reconcile/read.ts) against physical copies,
// on real PostgreSQL servers: a server started from a copy of another's files keeps its system
// identifier (pg_control_system), as the lab's new primary (a promoted streaming standby) and the
// old primary's point-of-failure copy both keep the identifier of the cluster they came from. The
// guard took such a copy for the new primary itself and refused every lab reconciliation; it must
// still refuse one server reached through two connections.
import { cpSync, mkdtempSync, rmSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Client } from "pg";
import { LiveClusterError } from "../../functions/reconcile/model";
import { assertNotLive, identify, readOnly } from "../../functions/reconcile/read";
import { freePort } from "../../lab/lab";
import { giveToServer, PgNode } from "../../lab/world/postgres";

jest.setTimeout(60_000);

let root: string;
const nodes: PgNode[] = [];
const clients: Client[] = [];

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  for (const n of nodes) await n.stop();
  rmSync(root, { recursive: true, force: true });
});

/** The server's identity as the reconciliation reads it (in its read-only transaction). */
async function identity(node: PgNode) {
  const client = new Client({ connectionString: node.url() });
  await client.connect();
  clients.push(client);
  return readOnly(client, () => identify(client));
}

describe("the reconciliation's live-cluster guard", () => {
  it("tells a physical copy from the server it was copied from, and refuses one server twice", async () => {
    root = mkdtempSync(join(tmpdir(), "payments-identity-"));
    chmodSync(root, 0o777);
    const original = new PgNode({
      name: "original",
      dataDir: join(root, "original"),
      port: await freePort(),
      logFile: join(root, "original.log"),
    });
    nodes.push(original);
    PgNode.initialise(original.options.dataDir);
    cpSync(original.options.dataDir, join(root, "copy"), {
      recursive: true,
      filter: (p) => basename(p) !== "postmaster.pid",
    });
    giveToServer(join(root, "copy"));
    const copy = new PgNode({
      name: "copy",
      dataDir: join(root, "copy"),
      port: await freePort(),
      logFile: join(root, "copy.log"),
    });
    nodes.push(copy);
    await Promise.all([original.start(), copy.start()]);

    const a = await identity(original);
    const b = await identity(copy);
    const again = await identity(original);
    const system = (id: string) => /^system:(\d+)/.exec(id)?.[1];
    // The premise: both carry one system identifier.
    expect(system(a.id)).toBeDefined();
    expect(system(a.id)).toBe(system(b.id));
    expect(() => assertNotLive(b, a, null, {})).not.toThrow();
    expect(() => assertNotLive(again, a, null, {})).toThrow(LiveClusterError);
  });
});
