// `npm run targets -- <primary|secondary>`: the -target flags for one region's resources, for
// applying only the surviving region during an outage (with -refresh=false).
import { loadConfig } from "./config";
import { runScript, UsageError } from "./lib/script";
import { readStacks } from "./lib/synthesized";
import { stackNameFor } from "./naming";

export function targetsFor(
  json: ReturnType<typeof readStacks>[number]["json"],
  role: string,
): string[] {
  const targets: string[] = [];
  for (const [type, resources] of Object.entries(json.resource ?? {})) {
    for (const [name, resource] of Object.entries(resources)) {
      if (resource.provider === `aws.${role}`) targets.push(`-target=${type}.${name}`);
    }
  }
  return targets;
}

if (require.main === module) {
  runScript("targets", () => {
    const role = process.argv[2];
    if (role !== "primary" && role !== "secondary") {
      throw new UsageError(
        `usage: npm run targets -- <primary|secondary>, got ${JSON.stringify(role ?? "")}`,
      );
    }
    for (const stack of readStacks(
      process.argv[3] ?? "cdktf.out",
      stackNameFor(loadConfig().environmentSuffix),
    )) {
      console.log(targetsFor(stack.json, role).join("\n"));
    }
  });
}
