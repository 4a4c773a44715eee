import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { AssetType, TerraformAsset, TerraformStack } from "cdktf";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Naming } from "../naming";
import { regionCode } from "../naming";
import type { Bundle } from "./bundle";
import { bundleAll, DIST } from "./bundle";
import type { Statement } from "./policy";
import { assumeRoleStatement, policyDocument } from "./policy";
import { createZip } from "./zip";

export const LAMBDA_RUNTIME = "nodejs22.x";

interface BuiltCode {
  readonly zipFile: string;
  readonly sourceCodeHash: string;
  readonly bytes: number;
}

// Jest workers synthesize in parallel; each gets its own folder so no bundle is read half-written.
// Inside the checkout's dist/ (git-ignored), not the OS temp dir: the bundle cache still lasts
// from one test run to the next, and it goes with the checkout instead of piling up in /tmp
// (one 23 MB folder per worker and clone, never removed).
const DIST_ROOT = process.env.JEST_WORKER_ID
  ? join(DIST, "..", "jest-workers", `worker-${process.env.JEST_WORKER_ID}`)
  : DIST;

const built = new Map<string, BuiltCode>();
let bundles: Map<string, Bundle> | undefined;

/** The deterministic zip of `functions/<group>/<name>/handler.ts`, built once per process. */
export function buildFunction(group: string, name: string): BuiltCode {
  const key = `${group}/${name}`;
  const cached = built.get(key);
  if (cached) return cached;
  bundles ??= new Map(
    bundleAll(FUNCTION_GROUPS, DIST_ROOT).map((b) => [`${b.group}/${b.name}`, b]),
  );
  const bundle = bundles.get(key);
  if (!bundle) {
    throw new Error(`function source must exist at functions/${key}/handler.ts, found none`);
  }
  const zipFile = join(DIST_ROOT, group, `${name}.zip`);
  const code = join(bundle.outdir, "index.js");
  // A zip newer than its bundle is the zip of that bundle: reuse it.
  const current = existsSync(zipFile) && statSync(zipFile).mtimeMs >= statSync(code).mtimeMs;
  const zip = current
    ? readFileSync(zipFile)
    : createZip(
        bundle.files.map((file) => ({
          name: file,
          data: readFileSync(join(bundle.outdir, file)),
        })),
      );
  if (!current) writeFileSync(zipFile, zip);
  const result = {
    zipFile,
    sourceCodeHash: createHash("sha256").update(zip).digest("base64"),
    bytes: bundle.bytes,
  };
  built.set(key, result);
  return result;
}

const assets = new WeakMap<TerraformStack, Map<string, TerraformAsset>>();

/** One asset per function per stack, shared by both regions' copies of the function. */
function assetFor(scope: Construct, group: string, name: string): TerraformAsset {
  const stack = TerraformStack.of(scope);
  let byKey = assets.get(stack);
  if (!byKey) {
    byKey = new Map();
    assets.set(stack, byKey);
  }
  const key = `${group}-${name}`;
  let asset = byKey.get(key);
  if (!asset) {
    asset = new TerraformAsset(stack, `code-${key}`, {
      path: buildFunction(group, name).zipFile,
      type: AssetType.FILE,
    });
    byKey.set(key, asset);
  }
  return asset;
}

/**
 * What Lambda needs to attach a function to a VPC, instead of the managed
 * AWSLambdaVPCAccessExecutionRole (which also grants logs:* writes on every log group): the
 * network-interface actions only. AWS documents them on "*" (Lambda, "Giving Lambda functions
 * access to resources in an Amazon VPC": execution role permissions), since Lambda creates and
 * deletes the interfaces in subnets it chooses at run time.
 */
export const VPC_NETWORK_INTERFACES: Statement = {
  sid: "VpcNetworkInterfaces",
  actions: [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
  ],
  resources: ["*"],
};

/** The region's customer-managed key, as a function's log group and role need it. */
export interface FunctionKey {
  readonly arn: string;
  readonly accountId: string;
  /** Log groups are created after it: CloudWatch Logs checks the key policy. */
  readonly policy: ITerraformDependable;
}

/** Source folders of the functions: `functions/<group>/<name>/handler.ts`. */
export const FUNCTION_GROUPS = ["payments", "dr", "monitoring", "reports", "drills"] as const;
export type FunctionGroup = (typeof FUNCTION_GROUPS)[number];

export interface NodejsFunctionProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: string;
  readonly key: FunctionKey;
  /** Source folder: `functions/<group>/<source>/handler.ts`. */
  readonly group: FunctionGroup;
  readonly source: string;
  /** Physical name component: `payments-<component>-<suffix>`, identical in both regions. */
  readonly component: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  readonly environment: Readonly<Record<string, string>>;
  /** What the function may do beyond writing its own logs and traces. */
  readonly statements: Statement[];
  readonly logRetentionDays: number;
  /** @default - not in a VPC */
  readonly vpc?: { readonly subnetIds: string[]; readonly securityGroupIds: string[] };
  /** @default - unreserved */
  readonly reservedConcurrency?: number;
}

/**
 * A Node.js Lambda bundled by esbuild: its own KMS-encrypted log group with retention, its own
 * least-privilege role, X-Ray active tracing and JSON logs.
 */
export class NodejsFunction extends Construct {
  public readonly function: LambdaFunction;
  public readonly role: IamRole;
  public readonly logGroup: CloudwatchLogGroup;
  public readonly functionName: string;

  constructor(scope: Construct, id: string, props: NodejsFunctionProps) {
    super(scope, id);
    const { provider, naming, region, key } = props;
    if (props.memorySize < 128 || props.memorySize > 10240) {
      throw new Error(`memory size must be 128 to 10240 MB, got ${props.memorySize}`);
    }
    this.functionName = naming.name("lambdaFunction", props.component);
    this.logGroup = new CloudwatchLogGroup(this, "logs", {
      provider,
      name: `/aws/lambda/${this.functionName}`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: key.arn,
      dependsOn: [key.policy],
    });
    const own = this.ownRole(props);
    this.role = own.role;
    // X-Ray segment uploads have no resource-level permissions.
    const managed = ["arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"];
    const attachments = managed.map(
      (policyArn, i) =>
        new IamRolePolicyAttachment(this, `managed-${i}`, {
          provider,
          role: this.role.name,
          policyArn,
        }),
    );

    const asset = assetFor(this, props.group, props.source);
    const code = buildFunction(props.group, props.source);
    this.function = new LambdaFunction(this, "function", {
      provider,
      functionName: this.functionName,
      description: props.description,
      role: this.role.arn,
      runtime: LAMBDA_RUNTIME,
      architectures: ["arm64"],
      handler: "index.handler",
      filename: asset.path,
      sourceCodeHash: code.sourceCodeHash,
      memorySize: props.memorySize,
      timeout: props.timeoutSeconds,
      reservedConcurrentExecutions: props.reservedConcurrency,
      tracingConfig: { mode: "Active" },
      loggingConfig: { logFormat: "JSON", logGroup: this.logGroup.name },
      environment: {
        variables: {
          NODE_OPTIONS: "--enable-source-maps",
          // Trust the RDS certificate authorities for TLS to Aurora.
          NODE_EXTRA_CA_CERTS: "/var/runtime/ca-cert.pem",
          POWERTOOLS_SERVICE_NAME: props.component,
          POWERTOOLS_METRICS_NAMESPACE: "PaymentsDR",
          POWERTOOLS_LOG_LEVEL: "INFO",
          ...props.environment,
        },
      },
      vpcConfig: props.vpc
        ? { subnetIds: props.vpc.subnetIds, securityGroupIds: props.vpc.securityGroupIds }
        : undefined,
      tags: { "region-code": regionCode(region) },
      // Lambda checks the role's network-interface permissions when it creates a VPC function.
      dependsOn: [this.logGroup, own.policy, ...attachments],
    });
  }

  private ownRole(props: NodejsFunctionProps): { role: IamRole; policy: IamRolePolicy } {
    const { provider, naming, region, key } = props;
    const role = new IamRole(this, "role", {
      provider,
      name: naming.name("iamRole", `fn-${props.component}`, region),
      description: `${this.functionName} in ${region}`,
      assumeRolePolicy: policyDocument(this, "trust", provider, [
        assumeRoleStatement(["lambda.amazonaws.com"], key.accountId),
      ]),
    });
    const policy = new IamRolePolicy(this, "policy", {
      provider,
      role: role.id,
      name: "least-privilege",
      policy: policyDocument(this, "permissions", provider, [
        {
          sid: "OwnLogs",
          actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
          resources: [`${this.logGroup.arn}:*`],
        },
        ...(props.vpc ? [VPC_NETWORK_INTERFACES] : []),
        ...props.statements,
      ]),
    });
    return { role, policy };
  }
}
