// The workflows rendered the way the lead's infrastructure renders them, with fake function ARNs.
import { readAsl, renderAsl, workflowPlaceholders } from "../../../infra/lib/asl";
import type { WorkflowName } from "../../../infra/lib/asl";

export function renderedDefinition(workflow: WorkflowName): Record<string, unknown> {
  const substitutions = Object.fromEntries(
    workflowPlaceholders(workflow).map((name) => [
      name,
      `arn:aws:lambda:us-west-2:123456789012:function:payments-dr-${name.replace(/FunctionArn$/, "")}`,
    ]),
  );
  return JSON.parse(renderAsl(readAsl(workflow), substitutions)) as Record<string, unknown>;
}
