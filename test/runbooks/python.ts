// Runs a runbook's Python step with a fake boto3, as SSM's aws:executeScript would call it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { scriptPath } from "../../infra/lib/runbook";

/** A fake boto3: every client call is recorded and answered from `responses[service.method]`. */
const FAKE_BOTO3 = `
import json, os

CALLS = []
_scenario = json.loads(os.environ["FAKE_BOTO3"])

class ExecutionAlreadyExists(Exception):
    pass

_ERRORS = {"ExecutionAlreadyExists": ExecutionAlreadyExists}

def _error(name):
    """The client exception class of that name (botocore makes one per modeled error)."""
    if name not in _ERRORS:
        _ERRORS[name] = type(name, (Exception,), {})
    return _ERRORS[name]

class _ExceptionsMeta(type):
    def __getattr__(cls, name):
        return _error(name)

class _Exceptions(metaclass=_ExceptionsMeta):
    ExecutionAlreadyExists = ExecutionAlreadyExists

class _Client:
    exceptions = _Exceptions

    def __init__(self, service, region_name=None):
        self.service, self.region = service, region_name

    def __getattr__(self, method):
        def call(**kwargs):
            key = self.service + "." + method
            CALLS.append({"call": key, "region": self.region, "args": kwargs})
            queue = _scenario.get(key)
            answer = queue.pop(0) if isinstance(queue, list) and len(queue) > 1 else (queue[0] if isinstance(queue, list) else queue)
            if isinstance(answer, dict) and "raise" in answer:
                raise _error(answer["raise"])(answer.get("message", answer["raise"]))
            return answer
        return call

def client(service, region_name=None):
    return _Client(service, region_name)
`;

const RUNNER = `
import json, sys, time
time.sleep = lambda seconds: None
import boto3
module = __import__(sys.argv[1])
try:
    result = {"ok": getattr(module, sys.argv[2])(json.loads(sys.argv[3]), None)}
except Exception as error:
    result = {"error": str(error)}
result["calls"] = boto3.CALLS
# Request bodies (Lambda payloads) are bytes: recorded as text.
print(json.dumps(result, default=lambda o: o.decode("utf-8") if isinstance(o, bytes) else str(o)))
`;

export interface PythonStepResult {
  readonly ok?: Record<string, unknown>;
  readonly error?: string;
  readonly calls: Array<{ call: string; region: string; args: Record<string, unknown> }>;
}

export function hasPython(): boolean {
  return spawnSync("python3", ["--version"]).status === 0;
}

/**
 * Runs `handler` of a step's script. A list of scripts is one script, concatenated in order, as
 * the document inlines them (`${RestoreCommonScript}` then the step's own).
 */
export function runStep(
  script: string | readonly string[],
  handler: string,
  events: Record<string, unknown>,
  responses: Record<string, unknown>,
): PythonStepResult {
  const dir = mkdtempSync(join(tmpdir(), "runbook-py-"));
  try {
    writeFileSync(join(dir, "boto3.py"), FAKE_BOTO3);
    writeFileSync(join(dir, "runner.py"), RUNNER);
    let module: string;
    if (typeof script === "string") {
      module = scriptPath(script);
    } else {
      module = join(dir, "inlined_step.py");
      writeFileSync(module, script.map((s) => readFileSync(scriptPath(s), "utf8")).join("\n"));
    }
    const result = spawnSync(
      "python3",
      [
        join(dir, "runner.py"),
        module.split("/").pop()!.replace(/\.py$/, ""),
        handler,
        JSON.stringify(events),
      ],
      {
        encoding: "utf8",
        env: {
          // No __pycache__ in the source tree: it would change the synth cache key.
          PYTHONDONTWRITEBYTECODE: "1",
          PATH: process.env.PATH,
          PYTHONPATH: `${dir}:${dirname(module)}`,
          FAKE_BOTO3: JSON.stringify(responses),
        },
      },
    );
    if (result.status !== 0) throw new Error(`python3 failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as PythonStepResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
