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

export interface PollBounds {
  /** Seconds of the WaitForFence Wait state, between Fence and the promotion. */
  readonly fenceWaitSeconds: number;
  /** Seconds of the WaitForPromotion Wait state. */
  readonly waitSeconds: number;
  /** The IsPromotionComplete Choice's NumericGreaterThanEquals on the poll counter. */
  readonly maxPolls: number;
  /** TimeoutSeconds of RequestApproval (failover only; approval mode). */
  readonly approvalTimeoutSeconds?: number;
}

interface AslState {
  readonly Type: string;
  readonly Seconds?: number;
  readonly TimeoutSeconds?: number;
  readonly Choices?: readonly {
    readonly Variable?: string;
    readonly NumericGreaterThanEquals?: number;
  }[];
}

/** The wait and poll bounds of a workflow, read from its ASL file. */
export function pollBounds(workflow: WorkflowName): PollBounds {
  return pollBoundsOf(readAsl(workflow), workflow);
}

/** The wait and poll bounds of a definition (a file or a deployed, rendered one). */
export function pollBoundsOf(definition: string | object, workflow: string): PollBounds {
  const states = (JSON.parse(textOf(definition)) as { States: Record<string, AslState> }).States;
  const fenceWaitSeconds = states.WaitForFence?.Seconds;
  const waitSeconds = states.WaitForPromotion?.Seconds;
  const maxPolls = states.IsPromotionComplete?.Choices?.find(
    (c) => c.Variable === "$.steps.CheckPromotion.polls",
  )?.NumericGreaterThanEquals;
  if (
    typeof fenceWaitSeconds !== "number" ||
    typeof waitSeconds !== "number" ||
    typeof maxPolls !== "number"
  ) {
    throw new AslRenderError(
      `${workflow}: expected WaitForFence.Seconds, WaitForPromotion.Seconds and a polls bound in IsPromotionComplete`,
    );
  }
  const bounds = { fenceWaitSeconds, waitSeconds, maxPolls };
  const approval = states.RequestApproval?.TimeoutSeconds;
  return approval === undefined ? bounds : { ...bounds, approvalTimeoutSeconds: approval };
}
