// SSM Automation documents as data: their steps, the edges between them, and the paths a run
// can take when a step fails, for tests that walk every path.

export type Step = {
  name: string;
  action: string;
  description?: string;
  onFailure?: string;
  nextStep?: string;
  isEnd?: boolean;
  timeoutSeconds?: number;
  maxAttempts?: number;
  inputs: Record<string, unknown>;
  outputs?: Array<{ Name: string; Selector: string; Type: string }>;
};

export type Document = {
  schemaVersion: string;
  description?: string;
  assumeRole: string;
  parameters: Record<
    string,
    { type: string; default?: unknown; allowedValues?: string[]; allowedPattern?: string }
  >;
  mainSteps: Step[];
};

/**
 * Documented inputs of each action (Systems Manager Automation actions reference,
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html):
 * - aws:executeScript: Runtime, Handler, Script, InputPayload, Attachment
 *   (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeScript.html);
 *   the script's return value is read through `outputs` selectors ($.Payload...), never an input.
 * - aws:executeAwsApi: Service, Api and the API's own parameters
 *   (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeAwsApi.html).
 * - aws:waitForAwsResourceProperty: Service, Api, PropertySelector, DesiredValues and the API's
 *   parameters (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-waitForAwsResourceProperty.html).
 * - aws:executeStateMachine: stateMachineArn, executionName, input
 *   (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeStateMachine.html).
 * - aws:sleep: Duration or Timestamp
 *   (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-sleep.html).
 * - aws:branch: Choices, Default
 *   (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-branch.html).
 */
export const ACTION_INPUTS: Readonly<Record<string, { fixed: string[]; apiParameters: boolean }>> =
  {
    "aws:executeScript": {
      fixed: ["Runtime", "Handler", "InputPayload", "Script", "Attachment"],
      apiParameters: false,
    },
    "aws:executeAwsApi": { fixed: ["Service", "Api"], apiParameters: true },
    "aws:waitForAwsResourceProperty": {
      fixed: ["Service", "Api", "PropertySelector", "DesiredValues"],
      apiParameters: true,
    },
    "aws:executeStateMachine": {
      fixed: ["stateMachineArn", "executionName", "input"],
      apiParameters: false,
    },
    "aws:sleep": { fixed: ["Duration", "Timestamp"], apiParameters: false },
    "aws:branch": { fixed: ["Choices", "Default"], apiParameters: false },
  };

/** API parameters start with an uppercase letter, like the API's own names. */
export function undocumentedInputs(step: Step): string[] {
  const spec = ACTION_INPUTS[step.action];
  if (!spec) return [`unknown action ${step.action}`];
  return Object.keys(step.inputs ?? {}).filter(
    (key) => !spec.fixed.includes(key) && !(spec.apiParameters && /^[A-Z]/.test(key)),
  );
}

function stepName(target: string): string {
  return target.replace(/^step:/, "");
}

/** Where a run goes after `step` succeeds: its branches, its nextStep, or the next step. */
export function successors(doc: Document, step: Step): string[] {
  if (step.isEnd) return [];
  if (step.action === "aws:branch") {
    const choices = (step.inputs.Choices as Array<{ NextStep: string }>).map((c) => c.NextStep);
    const fallback = step.inputs.Default as string | undefined;
    const index = doc.mainSteps.indexOf(step);
    return [...choices, fallback ?? doc.mainSteps[index + 1]?.name].filter(
      (n): n is string => n !== undefined,
    );
  }
  if (step.nextStep) return [step.nextStep];
  const next = doc.mainSteps[doc.mainSteps.indexOf(step) + 1];
  return next ? [next.name] : [];
}

/** Where a run goes when `step` fails: its onFailure step, or nowhere (Abort, the default). */
export function onFailure(step: Step): string | null {
  const target = step.onFailure ?? "Abort";
  return target.startsWith("step:") ? stepName(target) : null;
}

/**
 * Every path a run can take from `start` to its end, failing at no step, or at any one step
 * (each step on the way may fail once more after the first failure: the cleanup itself may
 * fail). A path is the list of step names visited.
 */
export function paths(doc: Document, start: string, failuresLeft = 2): string[][] {
  const byName = new Map(doc.mainSteps.map((s) => [s.name, s]));
  const out: string[][] = [];
  const walk = (name: string, path: string[], left: number) => {
    if (path.length > 200) throw new Error(`a cycle through ${name}: ${path.join(" -> ")}`);
    const step = byName.get(name);
    if (!step) throw new Error(`${path.at(-1)} goes to ${name}, which is no step`);
    const here = [...path, name];
    const next = successors(doc, step);
    if (next.length === 0) out.push(here);
    for (const n of next) walk(n, here, left);
    if (left > 0) {
      const failed = onFailure(step);
      if (failed) walk(failed, [...here, `!${name}`], left - 1);
      else out.push([...here, `!${name}`]);
    }
  };
  walk(start, [], failuresLeft);
  return out;
}
