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

/**
 * What fixes one standby instance in a state Aurora does not leave by itself (review 23c, M2), by
 * state, per the DB instance status table,
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/accessing-monitoring.html#Overview.DBInstance.Status
 * (and https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html for RDS):
 * - incompatible-parameters: "parameters ... are incompatible with the DB instance's settings";
 *   AWS's fix is to correct the parameter group and reboot (Knowledge Center,
 *   aurora-mysql-incompatible-parameter): a new instance would get the same group;
 * - inaccessible-encryption-credentials(-recoverable): the KMS key is disabled, deleted or not
 *   granted; it affects the cluster's storage, so a new instance would not help: restore access;
 * - any other (failed, insufficient-capacity, incompatible-network...): delete and re-create.
 * One sentence without its final period: the page and the step's reason both use it.
 */
export function brokenAdvice(
  identifier: string,
  status: string | undefined,
  where: string,
): string {
  const is = status ?? "in a state Aurora does not leave by itself";
  if (status === "incompatible-parameters") {
    return `${identifier} in ${where} is ${is}: correct its DB parameter group (aws rds describe-db-instances --region ${where} --db-instance-identifier ${identifier}, then fix or reset the group's parameters), then reboot it (aws rds reboot-db-instance --region ${where} --db-instance-identifier ${identifier}); do not delete it`;
  }
  if (status?.startsWith("inaccessible-encryption-credentials")) {
    // Review 23d (low): a complete command, no placeholder to edit (the old one's apostrophe
    // left a shell quote open when pasted). DescribeDBInstances returns the instance's KmsKeyId
    // when its storage is encrypted (API_DBInstance, "KmsKeyId": "If StorageEncrypted is
    // enabled, the Amazon Web Services KMS key identifier for the encrypted DB instance",
    // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html).
    return `${identifier} in ${where} is ${is}: restore access to the cluster's KMS key in ${where}, re-enable it or restore its grants (${kmsKeyCommand(identifier, where)}); a new instance would not help, the key protects the cluster's storage; do not delete it`;
  }
  return `${identifier} in ${where} is ${is}: replace it: delete it (aws rds delete-db-instance --region ${where} --db-instance-identifier ${identifier}), then run terraform apply`;
}

/** Read-only: the KMS key of an instance's storage, described (pasteable as is). */
export function kmsKeyCommand(identifier: string, where: string): string {
  return `aws kms describe-key --region ${where} --key-id "$(aws rds describe-db-instances --region ${where} --db-instance-identifier ${identifier} --query 'DBInstances[0].KmsKeyId' --output text)"`;
}
