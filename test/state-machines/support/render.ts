// The workflows rendered the way the infrastructure renders them (the registry's tasks of each
// workflow, every one used), with fake function ARNs.
import { readAsl, renderAsl } from "../../../infra/lib/asl";
import type { WorkflowName } from "../../../infra/lib/asl";
import { taskPlaceholder, workflowTasks } from "../../../functions/dr/tasks";

export function fakeFunctionArn(placeholder: string): string {
  return `arn:aws:lambda:us-west-2:123456789012:function:payments-dr-${placeholder.replace(/FunctionArn$/, "")}`;
}

export function renderedDefinition(workflow: WorkflowName): Record<string, unknown> {
  const substitutions = Object.fromEntries(
    workflowTasks(workflow).map((task) => [
      taskPlaceholder(task),
      fakeFunctionArn(taskPlaceholder(task)),
    ]),
  );
  return JSON.parse(renderAsl(readAsl(workflow), substitutions)) as Record<string, unknown>;
}
