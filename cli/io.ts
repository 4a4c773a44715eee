// The CLI's contact with the terminal and the clock, passed in so tests can drive it.
import { createInterface } from "node:readline/promises";

export interface Io {
  /** A line on stdout (results, JSON). */
  out(line: string): void;
  /** A line on stderr (errors, prompts' context, retries). */
  err(line: string): void;
  /** Asks a yes/no question on the terminal; false when nobody can answer. */
  confirm(question: string): Promise<boolean>;
  /** True when stdin is a terminal someone can answer on. */
  readonly interactive: boolean;
  sleep(ms: number): Promise<void>;
  now(): Date;
  /** GET with a timeout, for the regions' /health. */
  fetch(url: string, timeoutMs: number): Promise<{ status: number; body: string }>;
}

export function processIo(): Io {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    interactive: Boolean(process.stdin.isTTY),
    confirm: async (question) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await rl.question(`${question} [y/N] `);
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => new Date(),
    fetch: async (url, timeoutMs) => {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: response.status, body: await response.text() };
    },
  };
}
