// Renders the Step Functions workflows in state-machines/*.asl.json: every `${Name}` placeholder
// is replaced by its substitution (a function ARN, usually a Terraform token). The one helper
// for deploy and tests; it refuses a placeholder left over, a substitution not used, or a
// malformed placeholder, so a workflow can never be deployed half-wired.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const WORKFLOWS = ["failover", "switchover", "failback", "reprotect"] as const;
export type WorkflowName = (typeof WORKFLOWS)[number];

export const STATE_MACHINES_DIR = join(__dirname, "..", "..", "state-machines");

/** `${Name}`: a letter, then letters and digits. */
const PLACEHOLDER = /\$\{([A-Za-z][A-Za-z0-9]*)\}/g;
/** Anything that starts like a placeholder. */
const ANY_PLACEHOLDER = /\$\{[^}]*\}?/g;

export class AslRenderError extends Error {
  override name = "AslRenderError";
}

export function aslPath(workflow: WorkflowName): string {
  return join(STATE_MACHINES_DIR, `${workflow}.asl.json`);
}

/** The workflow's definition, as stored (placeholders not rendered). */
export function readAsl(workflow: WorkflowName): string {
  return readFileSync(aslPath(workflow), "utf8");
}

function textOf(definition: string | object): string {
  return typeof definition === "string" ? definition : JSON.stringify(definition);
}

/** The placeholder names a definition uses, sorted, each once. */
export function placeholdersOf(definition: string | object): string[] {
  const names = new Set<string>();
  for (const match of textOf(definition).matchAll(PLACEHOLDER)) names.add(match[1] as string);
  return [...names].sort();
}

/** The placeholders a workflow needs, read from its file. */
export function workflowPlaceholders(workflow: WorkflowName): string[] {
  return placeholdersOf(readAsl(workflow));
}

/**
 * Replaces every `${Name}` of the definition with `substitutions[Name]` (JSON-escaped) and returns
 * the definition as a JSON string. Throws AslRenderError naming every placeholder without a
 * substitution, every substitution without a placeholder, and any malformed placeholder.
 */
export function renderAsl(
  definition: string | object,
  substitutions: Readonly<Record<string, string>>,
): string {
  const text = textOf(definition);
  try {
    JSON.parse(text);
  } catch (error) {
    throw new AslRenderError(`the definition is not valid JSON: ${(error as Error).message}`);
  }
  // Values land inside JSON strings; Terraform tokens (${TfToken[...]}) pass through unchanged.
  return renderPlaceholders(text, substitutions, (value) => JSON.stringify(value).slice(1, -1));
}

/**
 * Replaces every `${Name}` of `text` with `escape(substitutions[Name])`; throws AslRenderError
 * naming every placeholder without a substitution, every substitution without a placeholder,
 * every empty value and any malformed placeholder. Shared by the workflows and the runbooks.
 */
export function renderPlaceholders(
  text: string,
  substitutions: Readonly<Record<string, string>>,
  escape: (value: string) => string,
): string {
  const malformed = [...text.matchAll(ANY_PLACEHOLDER)]
    .map((m) => m[0])
    .filter((p) => !new RegExp(`^${PLACEHOLDER.source}$`).test(p));
  if (malformed.length > 0) {
    throw new AslRenderError(
      `malformed placeholder(s) ${[...new Set(malformed)].join(", ")}: use \${Name} with letters and digits only`,
    );
  }
  const needed = placeholdersOf(text);
  const missing = needed.filter(
    (name) => !Object.prototype.hasOwnProperty.call(substitutions, name),
  );
  const unused = Object.keys(substitutions).filter((name) => !needed.includes(name));
  const empty = Object.entries(substitutions)
    .filter(([, value]) => typeof value !== "string" || value === "")
    .map(([name]) => name);
  const problems = [
    missing.length > 0
      ? `placeholder(s) left over without a substitution: ${missing.join(", ")}`
      : "",
    unused.length > 0 ? `substitution(s) not used by the definition: ${unused.join(", ")}` : "",
    empty.length > 0 ? `substitution(s) with an empty value: ${empty.join(", ")}` : "",
  ].filter((p) => p !== "");
  if (problems.length > 0) throw new AslRenderError(problems.join("; "));
  return text.replace(PLACEHOLDER, (_, name: string) => escape(substitutions[name] as string));
}

/** The bounds of a workflow that are literals in its ASL (set at synth by `tuneWorkflow`). */
export interface PollBounds {
  /**
   * IsOldWriterStopped: seconds after the first look at the old writer (CheckOldWriter) without a
   * proof that it stopped, after which the run stops in the safe state and pages.
   */
  readonly writerStopBoundSeconds: number;
  /** IsPromotionComplete: seconds of polling the promotion before stopping safely. */
  readonly promotionTimeoutSeconds: number;
  /** IsPromotionComplete: seconds after which on-call is told the promotion is slow (once). */
  readonly promotionSlowSeconds: number;
  /** TimeoutSeconds of RequestApproval (failover only; approval mode). */
  readonly approvalTimeoutSeconds?: number;
}

interface AslChoiceRule {
  readonly Variable?: string;
  NumericGreaterThanEquals?: number;
  readonly And?: AslChoiceRule[];
  readonly Not?: AslChoiceRule;
}

interface AslState {
  readonly Type: string;
  readonly Seconds?: number;
  TimeoutSeconds?: number;
  Cause?: string;
  readonly Result?: { Error?: string; Cause?: string };
  readonly Choices?: AslChoiceRule[];
}

type Definition = { States: Record<string, AslState> };

const OLD_WRITER_ELAPSED = "$.steps.CheckOldWriter.elapsedSeconds";
const PROMOTION_ELAPSED = "$.steps.CheckPromotion.elapsedSeconds";

/** The rule of `choice` comparing `variable` with NumericGreaterThanEquals, at any depth. */
function bound(states: Record<string, AslState>, choice: string, variable: string, which: 0 | 1) {
  const found: AslChoiceRule[] = [];
  const visit = (rule: AslChoiceRule) => {
    if (rule.Variable === variable && typeof rule.NumericGreaterThanEquals === "number") {
      found.push(rule);
    }
    rule.And?.forEach(visit);
    if (rule.Not) visit(rule.Not);
  };
  states[choice]?.Choices?.forEach(visit);
  // IsPromotionComplete: the halting bound comes first, the slow page second.
  return found.sort((a, b) => b.NumericGreaterThanEquals! - a.NumericGreaterThanEquals!)[which];
}

/** The literal bounds of a workflow, read from its ASL file. */
export function pollBounds(workflow: WorkflowName): PollBounds {
  return pollBoundsOf(readAsl(workflow), workflow);
}

/** The literal bounds of a definition (a file or a deployed, rendered one). */
export function pollBoundsOf(definition: string | object, workflow: string): PollBounds {
  const states = (JSON.parse(textOf(definition)) as Definition).States;
  const writerStop = bound(states, "IsOldWriterStopped", OLD_WRITER_ELAPSED, 0);
  const timeout = bound(states, "IsPromotionComplete", PROMOTION_ELAPSED, 0);
  const slow = bound(states, "IsPromotionComplete", PROMOTION_ELAPSED, 1);
  if (!writerStop || !timeout || !slow) {
    throw new AslRenderError(
      `${workflow}: expected a bound on ${OLD_WRITER_ELAPSED} in IsOldWriterStopped and two on ${PROMOTION_ELAPSED} in IsPromotionComplete`,
    );
  }
  const bounds = {
    writerStopBoundSeconds: writerStop.NumericGreaterThanEquals!,
    promotionTimeoutSeconds: timeout.NumericGreaterThanEquals!,
    promotionSlowSeconds: slow.NumericGreaterThanEquals!,
  };
  const approval = states.RequestApproval?.TimeoutSeconds;
  return approval === undefined ? bounds : { ...bounds, approvalTimeoutSeconds: approval };
}

/** How a duration reads in a page. */
function duration(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} minutes` : `${seconds} seconds`;
}

/**
 * The definition with its bounds set (from config, at synth): the literals the Choice states
 * compare with, and the causes that quote them. Throws when the definition lacks one.
 */
export function tuneWorkflow(
  definition: string,
  workflow: string,
  bounds: Omit<PollBounds, "approvalTimeoutSeconds">,
): string {
  const parsed = JSON.parse(definition) as Definition;
  const states = parsed.States;
  const writerStop = bound(states, "IsOldWriterStopped", OLD_WRITER_ELAPSED, 0);
  const timeout = bound(states, "IsPromotionComplete", PROMOTION_ELAPSED, 0);
  const slow = bound(states, "IsPromotionComplete", PROMOTION_ELAPSED, 1);
  const timedOut = states.PromotionTimedOut?.Result;
  if (!writerStop || !timeout || !slow || timedOut?.Cause === undefined) {
    throw new AslRenderError(
      `${workflow}: cannot set the bounds: expected IsOldWriterStopped, IsPromotionComplete and PromotionTimedOut`,
    );
  }
  if (bounds.promotionSlowSeconds >= bounds.promotionTimeoutSeconds) {
    throw new AslRenderError(
      `${workflow}: the slow-promotion page (${bounds.promotionSlowSeconds} s) must come before the promotion bound (${bounds.promotionTimeoutSeconds} s)`,
    );
  }
  writerStop.NumericGreaterThanEquals = bounds.writerStopBoundSeconds;
  timeout.NumericGreaterThanEquals = bounds.promotionTimeoutSeconds;
  slow.NumericGreaterThanEquals = bounds.promotionSlowSeconds;
  timedOut.Cause = `the target cluster did not become the writer within ${duration(bounds.promotionTimeoutSeconds)}; the promotion may still complete: check the global cluster, then resume with resumeFailoverId`;
  return JSON.stringify(parsed);
}
