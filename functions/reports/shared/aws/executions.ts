// Step Functions execution history, for the report of a run that ended without writing its own
// (aborted, timed out, rejected before any task could report).
import { GetExecutionHistoryCommand } from "@aws-sdk/client-sfn";
import type { HistoryEvent, SFNClient } from "@aws-sdk/client-sfn";
import type { ExecutionHistory, ExecutionsPort, HistoryState } from "../ports";

/** Enough for our workflows (a few hundred events at most); a longer history is cut. */
const MAX_PAGES = 10;

export class SfnExecutions implements ExecutionsPort {
  constructor(private readonly sfn: SFNClient) {}

  async history(executionArn: string): Promise<ExecutionHistory | null> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    try {
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const out = await this.sfn.send(
          new GetExecutionHistoryCommand({
            executionArn,
            maxResults: 1000,
            // Names and times only: no state data, so no key is needed to read it.
            includeExecutionData: false,
            ...(nextToken ? { nextToken } : {}),
          }),
        );
        events.push(...(out.events ?? []));
        nextToken = out.nextToken;
        if (!nextToken) break;
      }
    } catch {
      return null;
    }
    return historyOf(events);
  }
}

/** The states entered and exited, in order, paired by name, with the failures in between. */
export function historyOf(events: readonly HistoryEvent[]): ExecutionHistory {
  const states: Array<HistoryState & { error?: string }> = [];
  const open: number[] = [];
  let error: string | undefined;
  let cause: string | undefined;
  const at = (e: HistoryEvent) => new Date(e.timestamp ?? 0).toISOString();
  for (const event of events) {
    const type = event.type ?? "";
    if (type.endsWith("StateEntered") && event.stateEnteredEventDetails?.name) {
      states.push({
        name: event.stateEnteredEventDetails.name,
        type: type.replace(/StateEntered$/, ""),
        enteredAt: at(event),
      });
      open.push(states.length - 1);
    } else if (type.endsWith("StateExited") && event.stateExitedEventDetails?.name) {
      const name = event.stateExitedEventDetails.name;
      const index = [...open].reverse().find((i) => states[i]!.name === name);
      if (index !== undefined) {
        states[index] = { ...states[index]!, exitedAt: at(event) };
        open.splice(open.indexOf(index), 1);
      }
    } else if (
      /(TaskFailed|TaskTimedOut|LambdaFunctionFailed|LambdaFunctionTimedOut)$/.test(type)
    ) {
      const details =
        event.taskFailedEventDetails ??
        event.taskTimedOutEventDetails ??
        event.lambdaFunctionFailedEventDetails ??
        event.lambdaFunctionTimedOutEventDetails;
      const last = open.at(-1);
      if (last !== undefined) {
        states[last] = { ...states[last]!, error: details?.error ?? type };
      }
    } else if (type === "ExecutionFailed") {
      error = event.executionFailedEventDetails?.error;
      cause = event.executionFailedEventDetails?.cause;
    } else if (type === "ExecutionAborted") {
      error = event.executionAbortedEventDetails?.error ?? "Aborted";
      cause = event.executionAbortedEventDetails?.cause;
    } else if (type === "ExecutionTimedOut") {
      error = event.executionTimedOutEventDetails?.error ?? "States.Timeout";
      cause = event.executionTimedOutEventDetails?.cause;
    }
  }
  return {
    states,
    ...(error !== undefined ? { error } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
}
