// The diagrams in the docs are generated from the sources (scripts/diagrams.ts): these fail,
// naming the command that regenerates them, as soon as an ASL file or the stack changes without
// the docs following.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  architectureDiagram,
  aslToMermaid,
  ROOT,
  WORKFLOW_FILES,
  workflowDiagrams,
} from "../../scripts/diagrams";

const STALE = "is out of date with its sources: run `npm run diagrams` and commit the result";

describe("generated diagrams", () => {
  it("state-machines/README.md shows each workflow as its ASL defines it", () => {
    const { file, content } = workflowDiagrams();
    const current = readFileSync(join(ROOT, file), "utf8");
    if (current !== content) throw new Error(`${file} ${STALE}`);
  });

  it("README.md shows the architecture of the current stack", async () => {
    const { file, content } = await architectureDiagram();
    const current = readFileSync(join(ROOT, file), "utf8");
    if (current !== content) throw new Error(`${file} ${STALE}`);
  }, 60_000);

  it.each(WORKFLOW_FILES)("draws every state and transition of %s", (workflow) => {
    const asl = JSON.parse(
      readFileSync(join(ROOT, "state-machines", `${workflow}.asl.json`), "utf8"),
    ) as {
      StartAt: string;
      States: Record<
        string,
        {
          Next?: string;
          Default?: string;
          Choices?: { Next: string }[];
          Catch?: { Next: string }[];
        }
      >;
    };
    const mermaid = aslToMermaid(asl as Parameters<typeof aslToMermaid>[0]);
    const edges = mermaid.split("\n").filter((l) => /-->|-\.->/.test(l));
    for (const [name, state] of Object.entries(asl.States)) {
      expect(mermaid).toMatch(new RegExp(`^  ${name}[\\[({]`, "m"));
      const targets = [
        state.Next,
        state.Default,
        ...(state.Choices ?? []).map((c) => c.Next),
        ...(state.Catch ?? []).map((c) => c.Next),
      ].filter(Boolean);
      const drawn = edges
        .filter((l) => l.trimStart().startsWith(`${name} `))
        .map((l) => l.split(" ").at(-1));
      expect(drawn.sort()).toEqual((targets as string[]).sort());
    }
  });

  it("labels Choice rules with their condition and Catch edges with their errors", () => {
    const mermaid = aslToMermaid({
      StartAt: "Check",
      States: {
        Check: {
          Type: "Choice",
          Choices: [
            {
              Variable: "$.steps.CheckPromotion.polls",
              NumericGreaterThanEquals: 14,
              Next: "Stop",
            },
          ],
          Default: "Work",
        },
        Work: {
          Type: "Task",
          Next: "Done",
          Catch: [{ ErrorEquals: ["States.ALL"], Next: "Stop" }],
        },
        Stop: { Type: "Fail" },
        Done: { Type: "Succeed" },
      },
    });
    expect(mermaid).toContain('Check -->|"polls >= 14"| Stop');
    expect(mermaid).toContain("Check -->|otherwise| Work");
    expect(mermaid).toContain('Work -.->|"States.ALL"| Stop');
    expect(mermaid).toContain("class Stop fail");
  });
});
