// Text helpers shared by the notifications.

/** The Step Functions console page of an execution. */
export function executionUrl(region: string, executionArn: string): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** Single-quotes text for a POSIX shell, so a pasted command survives any reason text. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
