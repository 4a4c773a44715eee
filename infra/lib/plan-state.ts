// Turns an offline plan into the Terraform state an apply of it would leave, so a second
// configuration can be planned against it with the real provider deciding what it replaces
// (ForceNew rules live in the provider's code, not in its published schema). Values the plan
// knows are kept; values known only after apply ("known after apply") get deterministic fakes
// of the schema's type. Where the configuration sets an argument to a plain reference or a
// template of references (`${aws_kms_key.x.arn}`, `${aws_cloudwatch_log_group.y.arn}:*`), the
// argument gets exactly the value its reference resolves to, as an apply would leave it; with a
// fake of its own, a ForceNew argument such as a cluster's kms_key_id would differ from its
// source on the next plan and show a replacement that is only an artefact. Whether that holds
// is checked, not assumed: re-planning the same configuration against the state must replace
// nothing (the control, infra/lib/writer-move.ts). Pure: JSON in, JSON out.
import { createHash } from "node:crypto";
import type { TerraformJson } from "./synthesized";

/** Type expressions of `terraform providers schema -json`: "string", ["list", "string"], ... */
export type SchemaType = string | [string, unknown];

interface SchemaAttribute {
  readonly type?: SchemaType;
  readonly nested_type?: {
    readonly attributes: Record<string, SchemaAttribute>;
    nesting_mode: string;
  };
  readonly computed?: boolean;
  readonly optional?: boolean;
  readonly write_only?: boolean;
}

export interface SchemaBlock {
  readonly attributes?: Readonly<Record<string, SchemaAttribute>>;
  readonly block_types?: Readonly<
    Record<string, { readonly nesting_mode: string; readonly block: SchemaBlock }>
  >;
}

export interface ResourceSchema {
  readonly version: number;
  readonly block: SchemaBlock;
}

/** `terraform providers schema -json`, the part used here. */
export interface ProviderSchemas {
  readonly provider_schemas: Readonly<
    Record<string, { readonly resource_schemas: Readonly<Record<string, ResourceSchema>> }>
  >;
}

interface PlannedResource {
  readonly address: string;
  readonly mode: "managed" | "data";
  readonly type: string;
  readonly name: string;
  readonly provider_name: string;
  readonly schema_version?: number;
  readonly values?: Record<string, unknown>;
}

export interface ResourceChange {
  readonly address: string;
  readonly mode: "managed" | "data";
  readonly type: string;
  readonly name: string;
  readonly provider_name: string;
  readonly action_reason?: string;
  readonly change: {
    readonly actions: readonly string[];
    readonly before?: unknown;
    readonly after?: unknown;
    readonly after_unknown?: unknown;
    readonly after_sensitive?: unknown;
    readonly replace_paths?: readonly (readonly (string | number)[])[];
  };
}

/** `terraform show -json <planfile>`, the part used here. */
export interface PlanJson {
  readonly terraform_version: string;
  readonly planned_values?: { readonly root_module: { readonly resources?: PlannedResource[] } };
  readonly prior_state?: {
    readonly values?: { readonly root_module: { readonly resources?: PlannedResource[] } };
  };
  readonly resource_changes?: readonly ResourceChange[];
}

/** Terraform's state format, version 4. */
export interface StateV4 {
  readonly version: 4;
  readonly terraform_version: string;
  readonly serial: number;
  readonly lineage: string;
  readonly outputs: Record<string, never>;
  readonly resources: readonly {
    readonly mode: "managed";
    readonly type: string;
    readonly name: string;
    readonly provider: string;
    readonly instances: readonly {
      readonly schema_version: number;
      readonly attributes: Record<string, unknown>;
      readonly sensitive_attributes: unknown[];
    }[];
  }[];
}

export class PlanStateError extends Error {
  override name = "PlanStateError";
}

/** The account id every fake ARN carries. */
export const FAKE_ACCOUNT = "123456789012";

const REFERENCE = /^(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)$/;
const TEMPLATE_PART = /\$\{([^}]*)\}/g;

function hash(text: string, length = 12): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** Physical-looking ids for the types where something parses or compares them. */
const ID_PREFIX: Readonly<Record<string, string>> = {
  aws_vpc: "vpc-",
  aws_subnet: "subnet-",
  aws_security_group: "sg-",
  aws_route_table: "rtb-",
  aws_internet_gateway: "igw-",
  aws_nat_gateway: "nat-",
  aws_eip: "eipalloc-",
  aws_vpc_peering_connection: "pcx-",
  aws_vpc_endpoint: "vpce-",
};

/** The argument that is a resource's id in AWS, where the id is a name the config sets. */
const ID_FROM: Readonly<Record<string, string>> = {
  aws_rds_global_cluster: "global_cluster_identifier",
  aws_rds_cluster: "cluster_identifier",
  aws_rds_cluster_instance: "identifier",
  aws_db_subnet_group: "name",
  aws_rds_cluster_parameter_group: "name",
  aws_dynamodb_table: "name",
  aws_backup_vault: "name",
  aws_iam_role: "name",
  aws_cloudwatch_log_group: "name",
  aws_ssm_parameter: "name",
  aws_sns_topic: "arn",
  aws_kms_key: "key_id",
  aws_kms_replica_key: "key_id",
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

class Builder {
  private readonly planned = new Map<string, PlannedResource>();
  private readonly changes = new Map<string, ResourceChange>();
  private readonly filled = new Map<string, Record<string, unknown>>();
  private readonly inProgress = new Set<string>();
  private readonly regions: Record<string, string>;

  constructor(
    plan: PlanJson,
    private readonly config: TerraformJson,
    private readonly schemas: Readonly<Record<string, ResourceSchema>>,
  ) {
    for (const r of plan.planned_values?.root_module.resources ?? [])
      this.planned.set(r.address, r);
    for (const r of plan.prior_state?.values?.root_module.resources ?? []) {
      if (r.mode === "data" && !this.planned.has(r.address)) this.planned.set(r.address, r);
    }
    for (const c of plan.resource_changes ?? []) this.changes.set(c.address, c);
    this.regions = {};
    for (const p of (config.provider?.aws ?? []) as { alias?: string; region?: string }[]) {
      if (p.alias && p.region) this.regions[`aws.${p.alias}`] = p.region;
    }
  }

  /** Every attribute of a managed resource, unknowns resolved or faked. */
  resource(address: string): Record<string, unknown> {
    const done = this.filled.get(address);
    if (done) return done;
    const planned = this.planned.get(address);
    if (!planned) throw new PlanStateError(`${address} is not in the plan`);
    const schema = this.schemas[planned.type];
    if (!schema) throw new PlanStateError(`no provider schema for ${planned.type}`);
    this.inProgress.add(address);
    const unknown = this.changes.get(address)?.change.after_unknown;
    const value = this.block(
      address,
      [],
      schema.block,
      planned.values ?? {},
      isObject(unknown) ? unknown : {},
      this.rawConfig(planned),
    );
    this.inProgress.delete(address);
    this.filled.set(address, value);
    return value;
  }

  providerOf(planned: PlannedResource): string {
    const raw = this.rawConfig(planned);
    const alias = typeof raw.provider === "string" ? raw.provider : "aws";
    const [name, aliasName] = alias.split(".");
    const base = `provider["${planned.provider_name}"]`;
    return name && aliasName ? `${base}.${aliasName}` : base;
  }

  managed(): PlannedResource[] {
    return [...this.planned.values()].filter((r) => r.mode === "managed");
  }

  schemaVersion(planned: PlannedResource): number {
    return planned.schema_version ?? this.schemas[planned.type]?.version ?? 0;
  }

  sensitivePaths(address: string): unknown[] {
    const paths: unknown[] = [];
    const walk = (node: unknown, path: { type: string; value: unknown }[]) => {
      if (node === true) paths.push(path);
      else if (Array.isArray(node)) {
        node.forEach((n, i) =>
          walk(n, [...path, { type: "index", value: { value: i, type: "number" } }]),
        );
      } else if (isObject(node)) {
        for (const [k, v] of Object.entries(node))
          walk(v, [...path, { type: "get_attr", value: k }]);
      }
    };
    walk(this.changes.get(address)?.change.after_sensitive, []);
    return paths;
  }

  private rawConfig(planned: PlannedResource): Record<string, unknown> {
    const group = planned.mode === "data" ? this.config.data : this.config.resource;
    return (group?.[planned.type]?.[planned.name] ?? {}) as Record<string, unknown>;
  }

  private block(
    address: string,
    path: string[],
    schema: SchemaBlock,
    values: Record<string, unknown>,
    unknown: Record<string, unknown>,
    raw: Record<string, unknown>,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, attribute] of Object.entries(schema.attributes ?? {})) {
      const at = [...path, name];
      if (attribute.write_only) {
        out[name] = null;
      } else if (unknown[name] === true) {
        out[name] = this.unknownValue(address, at, typeOf(attribute), raw[name], values);
      } else if (unknown[name] !== undefined && unknown[name] !== false) {
        out[name] = this.partial(
          address,
          at,
          typeOf(attribute),
          values[name],
          unknown[name],
          raw[name],
        );
      } else {
        out[name] = values[name] ?? null;
      }
    }
    for (const [name, nested] of Object.entries(schema.block_types ?? {})) {
      const value = values[name];
      const u = unknown[name];
      const rawBlock = raw[name];
      const element = (v: unknown, i: number) =>
        this.block(
          address,
          [...path, name, String(i)],
          nested.block,
          isObject(v) ? v : {},
          isObject(Array.isArray(u) ? u[i] : u)
            ? ((Array.isArray(u) ? u[i] : u) as Record<string, unknown>)
            : {},
          rawElement(rawBlock, i),
        );
      if (nested.nesting_mode === "single" || nested.nesting_mode === "group") {
        out[name] = isObject(value) ? element(value, 0) : null;
      } else if (nested.nesting_mode === "map") {
        out[name] = isObject(value)
          ? Object.fromEntries(Object.entries(value).map(([k, v], i) => [k, element(v, i)]))
          : {};
      } else {
        out[name] = Array.isArray(value) ? value.map(element) : [];
      }
    }
    return out;
  }

  /** A collection the plan knows in part (a list with one unknown element, ...). */
  private partial(
    address: string,
    path: string[],
    type: SchemaType,
    value: unknown,
    unknown: unknown,
    raw: unknown,
  ): unknown {
    if (Array.isArray(value) && Array.isArray(unknown)) {
      const element = Array.isArray(type) ? (type[1] as SchemaType) : "string";
      return value.map((v, i) =>
        unknown[i] === true
          ? this.unknownValue(address, [...path, String(i)], element, rawElement(raw, i), {})
          : v,
      );
    }
    if (isObject(value) && isObject(unknown)) {
      const out: Record<string, unknown> = { ...value };
      for (const [k, u] of Object.entries(unknown)) {
        if (u === true) {
          out[k] = this.unknownValue(
            address,
            [...path, k],
            elementType(type, k),
            isObject(raw) ? raw[k] : undefined,
            {},
          );
        }
      }
      return out;
    }
    return value ?? this.fake(address, path, type, {});
  }

  private unknownValue(
    address: string,
    path: string[],
    type: SchemaType,
    raw: unknown,
    siblings: Record<string, unknown>,
  ): unknown {
    const resolved = this.resolve(raw, type);
    return resolved !== undefined ? resolved : this.fake(address, path, type, siblings);
  }

  /** The value an argument set to references would have once they exist; undefined if not pure. */
  private resolve(raw: unknown, type: SchemaType): unknown {
    if (typeof raw === "string" && raw.includes("${")) {
      let pure = true;
      const parts: unknown[] = [];
      const text = raw.replace(TEMPLATE_PART, (_, inner: string) => {
        const value = this.reference(inner.trim());
        if (value === undefined || (typeof value !== "string" && typeof value !== "number")) {
          pure = false;
          return "";
        }
        parts.push(value);
        return String(value);
      });
      if (!pure) return undefined;
      if (type === "number") return Number(text);
      if (type === "bool") return text === "true";
      return typeof type === "string" ? text : undefined;
    }
    if (Array.isArray(raw) && Array.isArray(type) && typeof type[1] === "string") {
      const values = raw.map((r) =>
        typeof r === "string" ? this.resolve(r, type[1] as SchemaType) : r,
      );
      return values.some((v) => v === undefined) ? undefined : values;
    }
    return undefined;
  }

  private reference(expression: string): unknown {
    const match = REFERENCE.exec(expression);
    if (!match) return undefined;
    const [, data, type, name, attribute] = match;
    const address = `${data ? "data." : ""}${type}.${name}`;
    const planned = this.planned.get(address);
    if (!planned) return undefined;
    const known = planned.values?.[attribute!];
    if (known !== undefined && known !== null) return known;
    if (data || this.inProgress.has(address)) return undefined;
    return this.resource(address)[attribute!];
  }

  private fake(
    address: string,
    path: string[],
    type: SchemaType,
    siblings: Record<string, unknown>,
  ): unknown {
    if (Array.isArray(type)) {
      const [kind, inner] = type;
      if (kind === "object" && isObject(inner)) {
        return Object.fromEntries(
          Object.entries(inner).map(([k, t]) => [
            k,
            this.fake(address, [...path, k], t as SchemaType, {}),
          ]),
        );
      }
      return kind === "map" ? {} : [];
    }
    if (type === "number") return 0;
    if (type === "bool") return false;
    const planned = this.planned.get(address)!;
    const attribute = path[path.length - 1]!;
    const region = this.regions[String(this.rawConfig(planned).provider ?? "")] ?? "us-east-1";
    const tag = hash(`${address}.${path.join(".")}`);
    if (path.length === 1 && attribute === "id") {
      const from = ID_FROM[planned.type];
      if (!from) return `${ID_PREFIX[planned.type] ?? "fake-"}${hash(address, 17)}`;
      const named = planned.values?.[from] ?? siblings[from];
      return typeof named === "string" ? named : this.fake(address, [from], "string", siblings);
    }
    if (attribute === "key_id") return `mrk-${hash(address, 32)}`;
    if (attribute === "arn" || attribute.endsWith("_arn")) {
      const service = planned.type.split("_")[1] ?? "fake";
      return `arn:aws:${service}:${region}:${FAKE_ACCOUNT}:${planned.type}/${tag}`;
    }
    return `fake-${attribute}-${tag}`;
  }
}

function typeOf(attribute: SchemaAttribute): SchemaType {
  if (attribute.type !== undefined) return attribute.type;
  // Nested attribute types (plugin framework): an object, or a collection of them.
  const nested = attribute.nested_type;
  if (!nested) return "string";
  const object: SchemaType = [
    "object",
    Object.fromEntries(Object.entries(nested.attributes).map(([k, a]) => [k, typeOf(a)])),
  ];
  return nested.nesting_mode === "single" ? object : [nested.nesting_mode, object];
}

function elementType(type: SchemaType, key: string): SchemaType {
  if (!Array.isArray(type)) return "string";
  const [kind, inner] = type;
  if (kind === "object" && isObject(inner)) return (inner[key] as SchemaType) ?? "string";
  return (inner as SchemaType) ?? "string";
}

/** The i-th element of a configured block or list, which cdktf writes as an object when single. */
function rawElement(raw: unknown, i: number): Record<string, unknown> {
  if (Array.isArray(raw)) return isObject(raw[i]) ? raw[i] : {};
  return i === 0 && isObject(raw) ? raw : {};
}

/** The aws provider's resource schemas out of `terraform providers schema -json`. */
export function awsResourceSchemas(schemas: ProviderSchemas): Record<string, ResourceSchema> {
  const aws = Object.entries(schemas.provider_schemas).find(([name]) =>
    name.endsWith("hashicorp/aws"),
  );
  if (!aws) throw new PlanStateError("the provider schemas hold no hashicorp/aws provider");
  return { ...aws[1].resource_schemas };
}

/**
 * The state an apply of `plan` would leave, for the managed resources the plan creates (with
 * -target: those and their dependencies). `config` is the synthesized configuration planned.
 */
export function stateFromPlan(
  plan: PlanJson,
  config: TerraformJson,
  schemas: Readonly<Record<string, ResourceSchema>>,
): StateV4 {
  const builder = new Builder(plan, config, schemas);
  const resources = builder.managed().map((planned) => ({
    mode: "managed" as const,
    type: planned.type,
    name: planned.name,
    provider: builder.providerOf(planned),
    instances: [
      {
        schema_version: builder.schemaVersion(planned),
        attributes: builder.resource(planned.address),
        sensitive_attributes: builder.sensitivePaths(planned.address),
      },
    ],
  }));
  const lineage = hash(JSON.stringify(resources.map((r) => `${r.type}.${r.name}`)), 32);
  return {
    version: 4,
    terraform_version: plan.terraform_version,
    serial: 1,
    lineage: `${lineage.slice(0, 8)}-${lineage.slice(8, 12)}-${lineage.slice(12, 16)}-${lineage.slice(16, 20)}-${lineage.slice(20, 32)}`,
    outputs: {},
    resources,
  };
}
