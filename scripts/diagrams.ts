// npm run diagrams            regenerate the Mermaid diagrams in the docs from the sources
// npm run diagrams -- --check exit 1 (naming the file and this command) when a diagram is stale
//
// - Each workflow, from its ASL (state-machines/<name>.asl.json): a Mermaid flowchart in
//   state-machines/README.md between `<!-- diagram:<name> -->` markers. Next/Default edges are
//   solid, Choice rules labelled with their condition, Catch edges dotted with the errors.
// - The architecture, from a synth of the default configuration: one node per top-level
//   construct and region (with its resource count), and every Terraform reference that crosses
//   regions as an edge, in README.md between `<!-- diagram:architecture -->` markers.
// test/docs/diagrams.test.ts fails when either is out of date.
import { testingApp } from "../infra/lib/testing-app";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(__dirname, "..");
/** Every workflow with an ASL file, in the order of its README section. */
export const WORKFLOW_FILES = readdirSync(join(ROOT, "state-machines"))
  .filter((f) => f.endsWith(".asl.json"))
  .map((f) => f.replace(/\.asl\.json$/, ""))
  .sort();

type Json = Record<string, unknown>;
interface AslState extends Json {
  Type: string;
  Next?: string;
  Default?: string;
  End?: boolean;
  Choices?: Json[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
}

/** One Choice rule as a short label: `polls >= 14`, `approved is present`, `not(...)`. */
export function ruleLabel(rule: Json): string {
  if (Array.isArray(rule.And)) return (rule.And as Json[]).map(ruleLabel).join(" and ");
  if (Array.isArray(rule.Or)) return (rule.Or as Json[]).map(ruleLabel).join(" or ");
  if (rule.Not) return `not ${ruleLabel(rule.Not as Json)}`;
  const variable = String(rule.Variable ?? "")
    .split(".")
    .slice(-1)[0];
  const ops: Record<string, string> = {
    BooleanEquals: "=",
    StringEquals: "=",
    NumericEquals: "=",
    NumericGreaterThanEquals: ">=",
    NumericGreaterThan: ">",
    NumericLessThan: "<",
    NumericLessThanEquals: "<=",
    IsPresent: "is present",
    IsBoolean: "is boolean",
    IsNull: "is null",
    IsString: "is string",
    IsNumeric: "is numeric",
  };
  for (const [key, op] of Object.entries(ops)) {
    if (key in rule) {
      const value = rule[key];
      return key.startsWith("Is")
        ? value === true
          ? `${variable} ${op}`
          : `${variable} not ${op.replace("is ", "")}`
        : `${variable} ${op} ${JSON.stringify(value)}`;
    }
  }
  const other = Object.keys(rule).find((k) => k !== "Variable" && k !== "Next");
  return `${variable} ${other ?? "?"}`;
}

const quote = (text: string) => `"${text.replace(/"/g, "#quot;")}"`;

/** A Mermaid flowchart of one state machine definition. */
export function aslToMermaid(asl: { StartAt: string; States: Record<string, AslState> }): string {
  const lines = ["flowchart TD", `  start((start)) --> ${asl.StartAt}`];
  const fails: string[] = [];
  const succeeds: string[] = [];
  for (const [name, state] of Object.entries(asl.States)) {
    const shape =
      state.Type === "Choice"
        ? `{${quote(name)}}`
        : state.Type === "Wait"
          ? `([${quote(`${name}`)}])`
          : state.Type === "Fail" || state.Type === "Succeed"
            ? `([${quote(name)}])`
            : `[${quote(name)}]`;
    lines.push(`  ${name}${shape}`);
    if (state.Type === "Fail") fails.push(name);
    if (state.Type === "Succeed") succeeds.push(name);
  }
  for (const [name, state] of Object.entries(asl.States)) {
    for (const rule of state.Choices ?? [])
      lines.push(`  ${name} -->|${quote(ruleLabel(rule))}| ${String(rule.Next)}`);
    if (state.Default) lines.push(`  ${name} -->|otherwise| ${state.Default}`);
    if (state.Next) lines.push(`  ${name} --> ${state.Next}`);
    for (const c of state.Catch ?? [])
      lines.push(`  ${name} -.->|${quote(c.ErrorEquals.join(", "))}| ${c.Next}`);
  }
  if (fails.length)
    lines.push(`  classDef fail fill:#fde2e2,stroke:#c0392b`, `  class ${fails.join(",")} fail`);
  if (succeeds.length)
    lines.push(`  classDef done fill:#e2f5e2,stroke:#27ae60`, `  class ${succeeds.join(",")} done`);
  return lines.join("\n");
}

interface TerraformJson {
  resource?: Record<string, Record<string, Json>>;
}

/** `network-primary_vpc_1A2B` -> `network-primary`: the top-level construct of a resource. */
function groupOf(logicalName: string): string {
  return logicalName.split("_")[0]!;
}

/** The architecture as a Mermaid flowchart, from a synthesized stack. */
export function architectureMermaid(
  json: TerraformJson,
  regions: { primary: string; secondary: string },
): string {
  const nodes = new Map<
    string,
    { role: string; group: string; count: number; types: Set<string> }
  >();
  const where = new Map<string, string>();
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    for (const [name, resource] of Object.entries(byName)) {
      const role = String(resource.provider ?? "aws.primary").replace(/^aws\./, "");
      const group = groupOf(name);
      const id = `${role}_${group}`.replace(/[^A-Za-z0-9_]/g, "_");
      where.set(`${type}.${name}`, id);
      const node = nodes.get(id) ?? { role, group, count: 0, types: new Set<string>() };
      node.count++;
      node.types.add(type.replace(/^aws_/, ""));
      nodes.set(id, node);
    }
  }
  const edges = new Map<string, Set<string>>();
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    for (const [name, resource] of Object.entries(byName)) {
      const from = where.get(`${type}.${name}`)!;
      const text = JSON.stringify(resource);
      for (const match of text.matchAll(/\$\{(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)[.}[]/g)) {
        const to = where.get(`${match[1]}.${match[2]}`);
        if (!to || to === from) continue;
        if (nodes.get(to)!.role === nodes.get(from)!.role) continue;
        const key = `${from} --> ${to}`;
        const via = edges.get(key) ?? new Set<string>();
        via.add(type.replace(/^aws_/, ""));
        edges.set(key, via);
      }
    }
  }
  const lines = ["flowchart LR"];
  for (const [role, region] of [
    ["primary", regions.primary],
    ["secondary", regions.secondary],
  ] as const) {
    lines.push(`  subgraph ${role}["${role}: ${region}"]`);
    for (const [id, node] of [...nodes]
      .filter(([, n]) => n.role === role)
      .sort(([a], [b]) => a.localeCompare(b))) {
      const label = node.group.replace(new RegExp(`-?${role}$`), "") || node.group;
      lines.push(`    ${id}[${quote(`${label} (${node.count})`)}]`);
    }
    lines.push("  end");
  }
  for (const [key, via] of [...edges].sort(([a], [b]) => a.localeCompare(b))) {
    const [from, to] = key.split(" --> ");
    const list = [...via].sort();
    lines.push(
      `  ${from} -->|${quote(list.slice(0, 3).join(", ") + (list.length > 3 ? ", ..." : ""))}| ${to}`,
    );
  }
  return lines.join("\n");
}

/** Replaces the block between `<!-- diagram:<name> -->` and `<!-- /diagram:<name> -->`. */
export function spliceDiagram(
  document: string,
  name: string,
  mermaid: string,
  file: string,
): string {
  const start = `<!-- diagram:${name} (generated by npm run diagrams from ${file}; do not edit) -->`;
  const end = `<!-- /diagram:${name} -->`;
  const pattern = new RegExp(`<!-- diagram:${name} [^\\n]*-->[\\s\\S]*?<!-- /diagram:${name} -->`);
  const block = `${start}\n\`\`\`mermaid\n${mermaid}\n\`\`\`\n${end}`;
  if (!pattern.test(document))
    throw new Error(`no <!-- diagram:${name} ... --> markers in the document`);
  return document.replace(pattern, () => block);
}

export interface Generated {
  readonly file: string;
  readonly content: string;
}

export function workflowDiagrams(): Generated {
  const file = "state-machines/README.md";
  let doc = readFileSync(join(ROOT, file), "utf8");
  for (const workflow of WORKFLOW_FILES) {
    const source = `state-machines/${workflow}.asl.json`;
    const asl = JSON.parse(readFileSync(join(ROOT, source), "utf8")) as Parameters<
      typeof aslToMermaid
    >[0];
    doc = spliceDiagram(doc, workflow, aslToMermaid(asl), source);
  }
  return { file, content: doc };
}

export async function architectureDiagram(): Promise<Generated> {
  // Loaded on demand: synth pulls in the whole provider, the workflow diagrams do not need it.
  const { loadConfig } = await import("../infra/config");
  const { buildApp } = await import("../infra/main");
  const { Testing } = await import("cdktf");
  const config = loadConfig({});
  const app = buildApp(config, testingApp().outdir);
  const stack = app.node.children[0] as Parameters<typeof Testing.synth>[0];
  const json = JSON.parse(Testing.synth(stack)) as TerraformJson;
  const file = "README.md";
  const doc = readFileSync(join(ROOT, file), "utf8");
  const mermaid = architectureMermaid(json, {
    primary: config.primary.region,
    secondary: config.secondary.region,
  });
  return {
    file,
    content: spliceDiagram(doc, "architecture", mermaid, "a synth of the default configuration"),
  };
}

async function main(): Promise<number> {
  const check = process.argv.includes("--check");
  const generated = [workflowDiagrams(), await architectureDiagram()];
  let stale = 0;
  for (const { file, content } of generated) {
    const current = readFileSync(join(ROOT, file), "utf8");
    if (current === content) continue;
    if (check) {
      console.error(`diagrams: ${file} is out of date with its sources: run \`npm run diagrams\``);
      stale++;
    } else {
      writeFileSync(join(ROOT, file), content);
      console.log(`diagrams: wrote ${file}`);
    }
  }
  if (!check && stale === 0) console.log("diagrams: up to date");
  return stale === 0 ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(`diagrams: ${(error as Error).message}`);
      process.exitCode = 1;
    },
  );
}
