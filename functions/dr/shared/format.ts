// Text helpers shared by the notifications.

/** The Step Functions console page of an execution. */
export function executionUrl(region: string, executionArn: string): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** Single-quotes text for a POSIX shell, so a pasted command survives any reason text. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The longest SNS subject: "less than 100 characters long". */
export const MAX_SUBJECT_LENGTH = 99;

/**
 * A subject SNS accepts under its strictest documented wording: "ASCII text that begins with a
 * letter, number, or punctuation mark; must not include line breaks or control characters; and
 * must be less than 100 characters long" (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
 * A rejected subject would fail the very page that reports a halt, so anything else is replaced
 * and a long subject is cut with "...".
 */
export function snsSubject(text: string): string {
  const printable = text
    .replace(/[^\x20-\x7e]+/g, " ")
    .replace(/ {2,}/g, " ")
    .trim();
  const subject = printable === "" ? "payments-dr" : printable;
  return subject.length <= MAX_SUBJECT_LENGTH
    ? subject
    : `${subject.slice(0, MAX_SUBJECT_LENGTH - 3).trimEnd()}...`;
}
