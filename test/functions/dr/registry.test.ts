// The one list of DR tasks (functions/dr/tasks.ts) against what exists: the task folders, their
// handlers and the workflows' ASL.
import "./support/aws-env";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DR_TASK_NAMES, drTask, taskPlaceholder, workflowTasks } from "../../../functions/dr/tasks";
import { readAsl, WORKFLOWS } from "../../../infra/lib/asl";

const DR = join(__dirname, "../../../functions/dr");
/** An import of the SDK, Powertools, an adapter folder or the logger: none belongs in a core. */
const AWS_IMPORT = /from "(@aws-sdk\/|@aws-lambda-powertools\/|[^"]*\/aws\/|[^"]*common\/logger)/;

interface AslTask {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: { readonly FunctionName?: string };
}

describe("the DR task registry", () => {
  it("lists every task folder under functions/dr and nothing else", () => {
    const folders = readdirSync(DR, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== "shared")
      .map((e) => e.name)
      .sort();
    expect([...DR_TASK_NAMES].sort()).toEqual(folders);
  });

  it.each(DR_TASK_NAMES)(
    "gives %s a core free of AWS code and a handler built from its definition",
    async (name) => {
      const core = readFileSync(join(DR, name, "core.ts"), "utf8");
      expect(core).not.toMatch(AWS_IMPORT);
      const module = (await import(join(DR, name, "handler.ts"))) as { handler?: unknown };
      expect(typeof module.handler).toBe("function");
    },
  );

  it.each(WORKFLOWS)("lists exactly the tasks the %s ASL invokes", (workflow) => {
    const used = [...readAsl(workflow).matchAll(/\$\{([A-Za-z]+FunctionArn)\}/g)].map((m) => m[1]);
    expect(workflowTasks(workflow).map(taskPlaceholder).sort()).toEqual([...new Set(used)].sort());
  });

  it("finds the import of an adapter in a core", () => {
    expect('import { x } from "../shared/aws/route53";').toMatch(AWS_IMPORT);
    expect('import { y } from "@aws-sdk/client-rds";').toMatch(AWS_IMPORT);
    expect('import { z } from "../shared/topology";').not.toMatch(AWS_IMPORT);
  });

  it.each(WORKFLOWS)(
    "invokes a callback task exactly through waitForTaskToken states in %s",
    (workflow) => {
      const states = Object.values(
        (JSON.parse(readAsl(workflow)) as { States: Record<string, AslTask> }).States,
      ).filter((s) => s.Type === "Task");
      for (const name of workflowTasks(workflow)) {
        const placeholder = `\${${taskPlaceholder(name)}}`;
        const running = states.filter(
          (s) => s.Resource === placeholder || s.Parameters?.FunctionName === placeholder,
        );
        expect(running.length).toBeGreaterThan(0);
        const callback = drTask(name).invocation === "callback";
        for (const state of running) {
          expect(state.Resource?.endsWith(".waitForTaskToken") ?? false).toBe(callback);
        }
      }
    },
  );

  it("keeps the prober, which no workflow runs, out of the tasks", () => {
    expect(DR_TASK_NAMES).not.toContain("prober");
    expect(existsSync(join(DR, "..", "monitoring", "prober", "handler.ts"))).toBe(true);
  });

  it("names each task's step once", () => {
    const steps = DR_TASK_NAMES.map((name) => drTask(name).step);
    expect(new Set(steps).size).toBe(steps.length);
  });
});
