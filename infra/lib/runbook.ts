// Renders the SSM Automation documents in runbooks/: inlines each `${XxxScript}` line with
// runbooks/scripts/xxx.py (indented to the line's column), then substitutes the other
// `${Name}` placeholders through the same checks as the workflows.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AslRenderError, renderPlaceholders } from "./asl";

export const RUNBOOKS_DIR = join(__dirname, "..", "..", "runbooks");

const SCRIPT_LINE = /^( *)\$\{([A-Za-z]+)Script\}$/gm;

function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

export function scriptPath(name: string): string {
  return join(RUNBOOKS_DIR, "scripts", `${snakeCase(name)}.py`);
}

/** The runbook with its scripts inlined, placeholders not yet substituted. */
export function readRunbook(name: string): string {
  const text = readFileSync(join(RUNBOOKS_DIR, `${name}.yaml`), "utf8");
  return text.replace(SCRIPT_LINE, (_, indent: string, script: string) =>
    readFileSync(scriptPath(script), "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => (line === "" ? "" : indent + line))
      .join("\n"),
  );
}

/**
 * The runbook ready for `aws_ssm_document`. Values go into YAML strings and text, so they may
 * not hold quotes or line breaks.
 */
export function renderRunbook(
  name: string,
  substitutions: Readonly<Record<string, string>>,
): string {
  return renderPlaceholders(readRunbook(name), substitutions, (value) => {
    if (/["\n\r]/.test(value)) {
      throw new AslRenderError(
        `runbook values may not contain quotes or line breaks, got ${JSON.stringify(value)}`,
      );
    }
    return value;
  });
}
