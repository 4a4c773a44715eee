// Issue 13: the lab removes every folder it started ("cleans up every process and folder it
// started"), also when its background removal cannot run or dies (review L1).
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab, LEFTOVER_AFTER_MS, removeSoon, sweepLeftovers } from "../../lab/lab";
import { labConfig } from "./support/run";
import { sleep, until } from "./support/wait";

jest.setTimeout(60_000);

/** A folder shaped like a lab's, with a few files in it. */
function labLike(path: string): string {
  mkdirSync(join(path, "us-east-1-data"), { recursive: true });
  for (let i = 0; i < 20; i += 1) writeFileSync(join(path, "us-east-1-data", `f${i}`), "x");
  return path;
}

describe("the lab's folder removal", () => {
  it("removes a stopped lab's folder at once from its path and from the disk soon after", async () => {
    const lab = new Lab(labConfig({ fast: 20 }));
    labLike(lab.root);
    await lab.stop();
    expect(existsSync(lab.root)).toBe(false);
    await until("the removed folder to go", () => !existsSync(`${lab.root}-removing`), {
      limitMs: 20_000,
    });
  });

  it("removes the folder itself when the background rm cannot be spawned", async () => {
    const root = labLike(mkdtempSync(join(tmpdir(), "payments-lab-nospawn-")));
    // A remover that cannot be spawned: spawn reports ENOENT asynchronously, as it does EAGAIN
    // and EMFILE on a busy box.
    removeSoon(root, "payments-lab-no-such-rm");
    expect(existsSync(root)).toBe(false);
    await until("the inline removal", () => !existsSync(`${root}-removing`), { limitMs: 5_000 });
  });

  it("sweeps the folders earlier labs left half-removed, and only those", async () => {
    const dir = mkdtempSync(join(tmpdir(), "payments-sweep-"));
    try {
      const old = new Date(Date.now() - 2 * LEFTOVER_AFTER_MS);
      // A removal started just now (review 23 L3): a long-lived lab's folder, its mtime old,
      // renamed into -removing a moment ago (the rename changes its ctime, not its mtime); its rm
      // has not finished the first subtree, so the folder's own mtime has not moved yet.
      const renamed = join(dir, "payments-lab-DeF456-removing");
      const before = labLike(join(dir, "payments-lab-DeF456"));
      utimesSync(before, old, old);
      // Setting the mtime moved the ctime to now too; the rename must move it again, so it comes
      // a second later and the sweep below looks just past a minute after the utimes: a folder
      // whose rename left its ctime alone would be swept there.
      const touchedAt = statSync(before).ctimeMs;
      await sleep(1_000);
      renameSync(before, renamed);
      const live = labLike(join(dir, "payments-lab-GhI789"));
      utimesSync(live, old, old);
      expect(sweepLeftovers(dir, touchedAt + LEFTOVER_AFTER_MS + 500)).toEqual([]);
      expect(sweepLeftovers(dir)).toEqual([]);
      expect(existsSync(renamed)).toBe(true);

      // Seen a minute and more later, nothing touched meanwhile: a leftover, swept; the live
      // lab's folder (no -removing) never is.
      const later = Date.now() + 2 * LEFTOVER_AFTER_MS;
      expect(sweepLeftovers(dir, later)).toEqual([renamed]);
      await until("the swept folder to go", () => !existsSync(renamed), { limitMs: 10_000 });
      expect(existsSync(live)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
