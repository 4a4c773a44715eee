// Runs a task's core with only the calls its declaration (`*_TASK.permissions`) allows, the way
// its IAM role will: an undeclared call fails with AccessDeniedError, as AWS would answer it
// (IAM evaluates an implicit deny for anything the role's policies do not allow), and is
// recorded so the workflow harness can fail the test loudly even where the ASL catches the error.
import { PARAMETERS } from "../../../../functions/common/contract";
import type { DrDeps } from "../../../../functions/dr/shared/deps";
import { AccessDeniedError } from "../../../../functions/dr/shared/errors";
import type { TaskPermissions } from "../../../../functions/dr/shared/permissions";
import { allowedCalls } from "../../../../functions/dr/shared/permissions";
import type { RegionPorts } from "../../../../functions/dr/shared/ports";

export interface Denial {
  readonly task: string;
  readonly call: string;
}

function guarded<T extends object>(
  target: T,
  port: string,
  check: (method: string, args: unknown[]) => string | undefined,
): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      // Every port method is async: a refusal is a rejected promise, as the SDK's would be.
      return async (...args: unknown[]) => {
        const denied = check(String(prop), args);
        if (denied) throw new AccessDeniedError(`not authorized to perform ${denied}`);
        return (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
      };
    },
  });
}

/** `deps` as the task's role sees them; each refused call is pushed to `denials`. */
export function withPermissions(
  deps: DrDeps,
  task: string,
  permissions: TaskPermissions,
  denials: Denial[],
): DrDeps {
  const allowed = allowedCalls(permissions);
  const parameterName = (key: keyof typeof PARAMETERS) =>
    `${deps.topology.parameterPrefix}/${PARAMETERS[key]}`;
  const readable = new Set((permissions.parameters?.read ?? []).map(parameterName));
  const writable = new Set((permissions.parameters?.write ?? []).map(parameterName));
  const check =
    (port: string) =>
    (method: string, args: unknown[]): string | undefined => {
      let call = `${port}.${method}`;
      let ok = allowed.has(call);
      if (ok && port === "parameters") {
        call = `${call}(${String(args[0])})`;
        ok = (method === "get" ? readable : writable).has(String(args[0]));
      }
      if (ok) return undefined;
      denials.push({ task, call });
      return call;
    };
  const ports = (region: string, profile: Parameters<DrDeps["ports"]>[1]): RegionPorts => {
    const inner = deps.ports(region, profile);
    return {
      region: inner.region,
      get database() {
        return guarded(inner.database, "database", check("database"));
      },
      get control() {
        return guarded(inner.control, "control", check("control"));
      },
      get parameters() {
        return guarded(inner.parameters, "parameters", check("parameters"));
      },
      get metrics() {
        return guarded(inner.metrics, "metrics", check("metrics"));
      },
      get events() {
        return guarded(inner.events, "events", check("events"));
      },
      get notifier() {
        return guarded(inner.notifier, "notifier", check("notifier"));
      },
      get replica() {
        return guarded(inner.replica, "replica", check("replica"));
      },
    };
  };
  return {
    ...deps,
    ports,
    dns: () => guarded(deps.dns(), "dns", check("dns")),
    reports: guarded(deps.reports, "reports", check("reports")),
    http: permissions.http
      ? deps.http
      : guarded(deps.http, "http", (method) => {
          denials.push({ task, call: `http.${method}` });
          return `http.${method}`;
        }),
  };
}
