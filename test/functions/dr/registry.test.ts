// The one list of DR tasks (functions/dr/tasks.ts) against what exists: the task folders, their
// handlers and the workflows' ASL.
import "./support/aws-env";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DR_TASK_NAMES, drTask, taskPlaceholder, workflowTasks } from "../../../functions/dr/tasks";
import { readAsl, WORKFLOWS } from "../../../infra/lib/asl";

const DR = join(__dirname, "../../../functions/dr");

describe("the DR task registry", () => {
  it("lists every task folder under functions/dr and nothing else", () => {
    const folders = readdirSync(DR, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== "shared")
      .map((e) => e.name)
      .sort();
    expect([...DR_TASK_NAMES].sort()).toEqual(folders);
  });

  it.each(DR_TASK_NAMES)(
    "gives %s a pure core and a handler built from its definition",
    async (name) => {
      const core = readFileSync(join(DR, name, "core.ts"), "utf8");
      expect(core).not.toMatch(/from "(@aws-sdk\/|[./]*\/aws\/)/);
      const module = (await import(join(DR, name, "handler.ts"))) as { handler?: unknown };
      expect(typeof module.handler).toBe("function");
    },
  );

  it.each(WORKFLOWS)("lists exactly the tasks the %s ASL invokes", (workflow) => {
    const used = [...readAsl(workflow).matchAll(/\$\{([A-Za-z]+FunctionArn)\}/g)].map((m) => m[1]);
    expect(workflowTasks(workflow).map(taskPlaceholder).sort()).toEqual([...new Set(used)].sort());
  });

  it("keeps the prober, which no workflow runs, out of the tasks", () => {
    expect(DR_TASK_NAMES).not.toContain("prober");
    expect(existsSync(join(DR, "..", "monitoring", "prober", "handler.ts"))).toBe(true);
  });

  it("names each task's step once", () => {
    const steps = DR_TASK_NAMES.map((name) => drTask(name).step);
    expect(new Set(steps).size).toBe(steps.length);
  });
});
