// Proof that moving WRITER_REGION destroys and replaces no data store, with the real provider
// deciding what it replaces:
// 1. plan configuration A (the writer where it is) offline, targeting every data store (Terraform
//    adds what they depend on);
// 2. turn that plan into the state an apply would leave (infra/lib/plan-state.ts);
// 3. the control: re-plan A against that state. It must replace and delete nothing, or the
//    state is not what an apply of A leaves and the next step would prove nothing;
// 4. plan configuration B (the writer moved) against the same state and read every delete or
//    replace from `terraform show -json`: one on a data store fails the check.
// Updates in place are reported, not failed: they are what moving the writer means (the RPO
// guard moves between parameter groups, the password follows the writer).
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DATA_STORE_TYPES } from "./addresses";
import type { PlannedChange, PlanOptions } from "./offline-plan";
import { OfflineWorkspace } from "./offline-plan";
import type { PlanJson, ProviderSchemas, ResourceSchema } from "./plan-state";
import { awsResourceSchemas, stateFromPlan } from "./plan-state";
import type { SynthesizedStack, TerraformJson } from "./synthesized";

/** The data stores of a configuration (DATA_STORE_TYPES), by address. */
export function dataStoreAddresses(json: TerraformJson): string[] {
  const addresses: string[] = [];
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    const store = DATA_STORE_TYPES[type];
    if (!store) continue;
    for (const [name, resource] of Object.entries(byName)) {
      if (store.when?.(resource) ?? true) addresses.push(`${type}.${name}`);
    }
  }
  return addresses.sort();
}

export interface Destruction {
  readonly address: string;
  readonly action: "delete" | "replace";
  /** The arguments whose change forces the replacement, as the provider reports them. */
  readonly because: readonly string[];
  readonly dataStore: boolean;
}

export interface PlanSummary {
  readonly creates: number;
  readonly updates: readonly string[];
  readonly destructions: readonly Destruction[];
}

/**
 * Every delete and replace among `changes` (from `terraform plan -json`), and the in-place
 * updates; `details`, the plan's `terraform show -json`, names the arguments that force each
 * replacement (read only when something is destroyed: it costs a second schema load).
 */
export function summarize(
  changes: readonly PlannedChange[],
  stores: ReadonlySet<string>,
  details?: () => PlanJson,
): PlanSummary {
  let creates = 0;
  const updates: string[] = [];
  const destroyed = changes.filter((c) => c.action === "delete" || c.action === "replace");
  const paths = new Map<string, string[]>();
  // Only a replacement has arguments that force it; a plain delete needs no explanation.
  if (destroyed.some((c) => c.action === "replace") && details) {
    for (const change of details().resource_changes ?? []) {
      paths.set(
        change.address,
        (change.change.replace_paths ?? []).map((p) => p.join(".")),
      );
    }
  }
  for (const change of changes) {
    if (change.action === "update") updates.push(change.address);
    if (change.action === "create") creates += 1;
  }
  const destructions = destroyed.map((c) => ({
    address: c.address,
    action: c.action as "delete" | "replace",
    because: paths.get(c.address) ?? [],
    dataStore: stores.has(c.address),
  }));
  return { creates, updates, destructions };
}

/**
 * The aws provider's resource schemas, cached in the temp folder by the provider lock (the
 * provider binary's hashes): `terraform providers schema -json` loads the whole provider and
 * takes seconds, the answer never changes for one binary.
 */
export function resourceSchemas(workspace: OfflineWorkspace): Record<string, ResourceSchema> {
  const lock = join(workspace.dir, ".terraform.lock.hcl");
  const key = existsSync(lock)
    ? createHash("sha256").update(readFileSync(lock)).digest("hex").slice(0, 16)
    : undefined;
  const cache = key ? join(tmpdir(), `payments-dr-aws-schemas-${key}.json`) : undefined;
  if (cache && existsSync(cache)) {
    return JSON.parse(readFileSync(cache, "utf8")) as Record<string, ResourceSchema>;
  }
  const schemas = awsResourceSchemas(workspace.providerSchemas() as ProviderSchemas);
  if (cache) {
    // Written whole, then renamed: a parallel run never reads half a file.
    const partial = `${cache}.${process.pid}`;
    writeFileSync(partial, JSON.stringify(schemas));
    renameSync(partial, cache);
  }
  return schemas;
}

/** A configuration planned against the state of the one the writer moves from. */
export interface MoveTarget {
  readonly name: string;
  readonly stack: SynthesizedStack;
  /**
   * Plan every resource, not only the data stores and what they depend on: the offline plan of
   * the setting and the check in one run (slower). @default false
   */
  readonly fullPlan?: boolean;
}

export interface MoveResult extends PlanSummary {
  readonly name: string;
  readonly fullPlan: boolean;
  /** `terraform plan`'s summary line of a full plan ("Plan: 12 to add, ..."). */
  readonly summary?: string;
}

export interface WriterMoveReport {
  readonly from: string;
  /** The data stores of `from` (the targets of every plan but a full one). */
  readonly dataStores: readonly string[];
  /** Resources in the state the check built (data stores and what they depend on). */
  readonly stateResources: number;
  /** Re-planning `from` against its own state. */
  readonly control: PlanSummary;
  readonly moves: readonly MoveResult[];
}

export class WriterMoveError extends Error {
  override name = "WriterMoveError";
}

/** The data stores a move would destroy or replace. */
export function lostDataStores(move: PlanSummary): readonly Destruction[] {
  return move.destructions.filter((d) => d.dataStore);
}

/**
 * Plans `from` (targeting its data stores), builds the state an apply would leave, checks the
 * control, then plans each of `to` against that state. Throws WriterMoveError when the control
 * fails: the proof would be void.
 */
export function checkWriterMove(
  from: { readonly name: string; readonly stack: SynthesizedStack },
  to: readonly MoveTarget[],
  options: PlanOptions = {},
): WriterMoveReport {
  const stores = dataStoreAddresses(from.stack.json);
  const targets = stores.map((a) => `-target=${a}`);
  const workspace = new OfflineWorkspace(from.stack, options);
  try {
    workspace.init();
    const schemas = resourceSchemas(workspace);
    const planA = workspace.planJson(targets) as PlanJson;
    const state = stateFromPlan(planA, from.stack.json, schemas);
    workspace.writeState(state);
    const details = () => workspace.show() as PlanJson;
    const control = summarize(workspace.planChanges(targets), new Set(stores), details);
    if (control.destructions.length > 0) {
      throw new WriterMoveError(
        `control failed: re-planning ${from.name} against the state built from its own plan destroys ${control.destructions
          .map(
            (d) =>
              `${d.address} (${d.action}${d.because.length ? `: ${d.because.join(", ")}` : ""})`,
          )
          .join("; ")}; the state does not stand for an apply, so the check would prove nothing`,
      );
    }
    const moves = to.map((target): MoveResult => {
      const now = dataStoreAddresses(target.stack.json);
      const storeSet = new Set([...stores, ...now]);
      workspace.useStack(target.stack);
      const fullPlan = target.fullPlan ?? false;
      const planned = workspace.planChanges(fullPlan ? [] : targets);
      const summary = summarize(planned, storeSet, details);
      // A data store the target no longer declares is destroyed too; with -target it would not
      // show in the plan, so it is added here.
      const gone = stores
        .filter((a) => !now.includes(a) && !summary.destructions.some((d) => d.address === a))
        .map((address): Destruction => ({
          address,
          action: "delete",
          because: ["no longer in the configuration"],
          dataStore: true,
        }));
      return {
        name: target.name,
        fullPlan,
        ...summary,
        destructions: [...summary.destructions, ...gone],
        ...(fullPlan ? { summary: workspace.lastSummary } : {}),
      };
    });
    return {
      from: from.name,
      dataStores: stores,
      stateResources: state.resources.length,
      control,
      moves,
    };
  } finally {
    workspace.dispose();
  }
}

/** What the check found, one line each, for the npm script and a test's failure message. */
export function formatWriterMove(report: WriterMoveReport): string {
  const line = (d: Destruction) =>
    `    ${d.dataStore ? "DATA STORE " : ""}${d.action} ${d.address}${d.because.length ? ` (forced by ${d.because.join(", ")})` : ""}`;
  return [
    `from ${report.from}: ${report.dataStores.length} data stores planned, ${report.stateResources} resources in the state built from its plan`,
    `  control (${report.from} against its own state): ${report.control.destructions.length} destroyed or replaced, ${report.control.updates.length} updated in place`,
    ...report.moves.flatMap((move) => {
      const lost = lostDataStores(move);
      return [
        `  to ${move.name}${move.fullPlan ? ` (full plan: ${move.summary ?? "?"})` : ""}: ${lost.length} data stores destroyed or replaced, ${move.destructions.length - lost.length} other resources destroyed or replaced, ${move.updates.length} updated in place, ${move.creates} created`,
        ...move.destructions.map(line),
        ...move.updates.map((a) => `    update ${a}`),
      ];
    }),
  ].join("\n");
}
