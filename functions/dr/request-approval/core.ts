// Approval mode: publishes the task token to the alert topic with the exact commands that
// approve or reject the failover. The state machine waits (lambda:invoke.waitForTaskToken)
// until on-call answers or the step's TimeoutSeconds passes.
import type { DrDeps } from "../shared/deps";
import { executionUrl, shellQuote, snsSubject } from "../shared/format";
import type { WorkflowState } from "../shared/types";
import { stateKeys } from "../shared/task";
import type { DrTaskDefinition } from "../shared/task";

export interface RequestApprovalEvent {
  readonly state: WorkflowState;
  readonly taskToken: string;
  /** The RequestApproval state's TimeoutSeconds, passed in its Parameters for the message. */
  readonly timeoutSeconds: number;
}

export function approvalMessage(
  event: RequestApprovalEvent,
  deps: DrDeps,
): {
  subject: string;
  message: string;
} {
  const { request, steps } = event.state;
  const region = request.targetRegion;
  const lag = steps.Preflight?.replicationLagMs;
  const token = shellQuote(event.taskToken);
  const minutes = Math.round(event.timeoutSeconds / 60);
  const lines = [
    `A failover of payments-dr (${deps.topology.environmentSuffix}) from ${request.sourceRegion} to ${region} is waiting for your approval.`,
    "",
    `Reason: ${request.reason}`,
    `Trigger: ${request.trigger}   Run: ${request.failoverId}`,
    ...(steps.Preflight?.approvalReason
      ? [`Why you are asked: ${steps.Preflight.approvalReason}.`]
      : []),
    `Replication lag of ${region}: ${typeof lag === "number" ? `${lag} ms; writes committed in ${request.sourceRegion} during the last ~${lag} ms may be lost` : "unknown"}.`,
    `Approving fences ${request.sourceRegion} (it stops taking writes) and promotes ${region}'s cluster with AllowDataLoss.`,
    "",
    `To approve, within ${minutes} minutes, run (any shell with AWS credentials for this account):`,
    `  aws stepfunctions send-task-success --region ${region} --task-token ${token} --task-output '{"approved":true}'`,
    "To reject:",
    `  aws stepfunctions send-task-failure --region ${region} --task-token ${token} --error ApprovalRejected --cause "why"`,
    `From the AWS console: open CloudShell in ${region} (https://${region}.console.aws.amazon.com/cloudshell/home?region=${region}), paste one of the commands above, and watch the execution:`,
    `  ${executionUrl(region, request.executionId)}`,
    "",
    `If nobody answers within ${minutes} minutes the failover is abandoned: nothing is changed and the lock is released.`,
  ];
  return {
    subject: snsSubject(
      `[payments-dr ${deps.topology.environmentSuffix}] APPROVE failover to ${region}?`,
    ),
    message: lines.join("\n"),
  };
}

export async function requestApproval(
  event: RequestApprovalEvent,
  deps: DrDeps,
): Promise<{ subject: string }> {
  const { subject, message } = approvalMessage(event, deps);
  await deps.ports(event.state.request.targetRegion, "critical").notifier.publish(subject, message);
  deps.log.info("approval requested", { timeoutSeconds: event.timeoutSeconds });
  return { subject };
}

/** The RequestApproval task (functions/dr/tasks.ts): a callback; on-call's answer is the state's result. */
export const REQUEST_APPROVAL_TASK: DrTaskDefinition<RequestApprovalEvent, { subject: string }> = {
  step: "RequestApproval",
  description: "Pages on-call with the approve and reject commands",
  workflows: ["failover"],
  permissions: { notifier: ["publish"] },
  invocation: "callback",
  keys: (event) => stateKeys(event?.state),
  run: requestApproval,
};
