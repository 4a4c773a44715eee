// A DR task invocation's deadline, free of AWS code so task cores can name it (the registry
// test keeps cores AWS-free): the invocation's own clock, the error its AWS calls fail with when
// the deadline refuses or cuts them, and how a core tells that error from a region being down.
// The SDK side, which enforces it on every client, is aws/deadline.ts (why, and the sources).
import { AsyncLocalStorage } from "node:async_hooks";
import { TransientError } from "./errors";

/** What a task keeps back after its last AWS call: the error's log line and the response. */
export const DEADLINE_MARGIN_MS = 1000;

interface Invocation {
  /** Epoch ms after which no attempt runs. */
  readonly deadline: number;
}

const invocation = new AsyncLocalStorage<Invocation>();

/** Runs `work` (one task invocation) with its AWS calls bound by `deadline` (epoch ms). */
export function withDeadline<T>(deadline: number, work: () => Promise<T>): Promise<T> {
  return invocation.run({ deadline }, work);
}

/** The deadline of the invocation this code runs in, if any. */
export function currentDeadline(): number | undefined {
  return invocation.getStore()?.deadline;
}

/**
 * An AWS call refused or cut by its invocation's deadline. Named TransientError (the name the
 * ASL retries); the message says why, for the execution's history.
 */
export class DeadlineError extends TransientError {
  override name = "TransientError";
  readonly deadline = true;
}

/**
 * The task's own deadline refused or cut an AWS call (DeadlineError, marked `deadline: true`):
 * this invocation ran out of time, which says nothing about the region called. Retried by the
 * state with a fresh invocation; never read as "that region is down" (review 23 M1, M2).
 */
export function isDeadlineError(error: unknown): boolean {
  return (error as { deadline?: unknown } | null | undefined)?.deadline === true;
}
