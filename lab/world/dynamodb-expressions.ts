// The parts of DynamoDB's expression language the project's code sends (the control table's
// conditional writes, Powertools idempotency, the sessions table): condition expressions with
// comparisons, AND/OR/NOT, BETWEEN, IN, attribute_exists/attribute_not_exists/attribute_type/
// begins_with/contains/size; update expressions with SET (+, -, if_not_exists, list_append),
// REMOVE and ADD. Anything else is a ValidationException naming what is not modelled, so a new
// call in the code fails loudly in the lab instead of being misread.
// Grammar: "Condition expressions" and "Update expressions", Amazon DynamoDB Developer Guide
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html,
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html).

export type AttributeValue =
  | { S: string }
  | { N: string }
  | { B: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { M: Record<string, AttributeValue> }
  | { L: AttributeValue[] }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] };

export type Item = Record<string, AttributeValue>;

export class ValidationException extends Error {
  override name = "ValidationException";
}

interface Context {
  readonly names: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, AttributeValue>>;
}

type PathPart = string | number;

type Operand =
  | { kind: "path"; path: PathPart[] }
  | { kind: "value"; value: AttributeValue }
  | { kind: "size"; path: PathPart[] }
  | { kind: "if_not_exists"; path: PathPart[]; fallback: Operand }
  | { kind: "list_append"; a: Operand; b: Operand }
  | { kind: "arith"; op: "+" | "-"; a: Operand; b: Operand };

type Condition =
  | { kind: "and" | "or"; a: Condition; b: Condition }
  | { kind: "not"; a: Condition }
  | { kind: "compare"; op: string; a: Operand; b: Operand }
  | { kind: "between"; a: Operand; low: Operand; high: Operand }
  | { kind: "in"; a: Operand; list: Operand[] }
  | { kind: "function"; name: string; args: Operand[] };

const TOKEN =
  /\s*(<>|<=|>=|[=<>(),.[\]+-]|#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|\d+)/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let index = 0;
  while (index < text.length) {
    if (/^\s*$/.test(text.slice(index))) break;
    TOKEN.lastIndex = index;
    const match = TOKEN.exec(text);
    if (!match)
      throw new ValidationException(
        `Invalid expression: unexpected text at "${text.slice(index)}"`,
      );
    tokens.push(match[1]!);
    index = TOKEN.lastIndex;
  }
  return tokens;
}

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: string[],
    private readonly ctx: Context,
  ) {}

  peek(offset = 0): string | undefined {
    return this.tokens[this.i + offset];
  }

  next(): string {
    const token = this.tokens[this.i++];
    if (token === undefined) throw new ValidationException("Invalid expression: unexpected end");
    return token;
  }

  expect(token: string): void {
    const got = this.next();
    if (got.toUpperCase() !== token) {
      throw new ValidationException(`Invalid expression: expected ${token}, got ${got}`);
    }
  }

  done(): boolean {
    return this.i >= this.tokens.length;
  }

  keyword(word: string): boolean {
    return this.peek()?.toUpperCase() === word;
  }

  condition(): Condition {
    let left = this.conjunction();
    while (this.keyword("OR")) {
      this.next();
      left = { kind: "or", a: left, b: this.conjunction() };
    }
    return left;
  }

  private conjunction(): Condition {
    let left = this.negation();
    while (this.keyword("AND")) {
      this.next();
      left = { kind: "and", a: left, b: this.negation() };
    }
    return left;
  }

  private negation(): Condition {
    if (this.keyword("NOT")) {
      this.next();
      return { kind: "not", a: this.negation() };
    }
    return this.primary();
  }

  private primary(): Condition {
    if (this.peek() === "(") {
      this.next();
      const inner = this.condition();
      this.expect(")");
      return inner;
    }
    const name = this.peek()?.toLowerCase();
    if (
      this.peek(1) === "(" &&
      [
        "attribute_exists",
        "attribute_not_exists",
        "attribute_type",
        "begins_with",
        "contains",
      ].includes(name ?? "")
    ) {
      this.next();
      return { kind: "function", name: name!, args: this.arguments() };
    }
    const a = this.operand();
    if (this.keyword("BETWEEN")) {
      this.next();
      const low = this.operand();
      this.expect("AND");
      return { kind: "between", a, low, high: this.operand() };
    }
    if (this.keyword("IN")) {
      this.next();
      return { kind: "in", a, list: this.arguments() };
    }
    const op = this.next();
    if (!["=", "<>", "<", "<=", ">", ">="].includes(op)) {
      throw new ValidationException(`Invalid expression: expected a comparator, got ${op}`);
    }
    return { kind: "compare", op, a, b: this.operand() };
  }

  private arguments(): Operand[] {
    this.expect("(");
    const args = [this.value()];
    while (this.peek() === ",") {
      this.next();
      args.push(this.value());
    }
    this.expect(")");
    return args;
  }

  /** An operand, or operand +/- operand (SET only). */
  value(): Operand {
    const a = this.operand();
    const op = this.peek();
    if (op === "+" || op === "-") {
      this.next();
      return { kind: "arith", op, a, b: this.operand() };
    }
    return a;
  }

  operand(): Operand {
    const token = this.peek();
    if (token?.startsWith(":")) {
      this.next();
      const value = this.ctx.values[token];
      if (!value) {
        throw new ValidationException(
          `An expression attribute value used in expression is not defined; attribute value: ${token}`,
        );
      }
      return { kind: "value", value };
    }
    const fn = token?.toLowerCase();
    if (this.peek(1) === "(" && (fn === "size" || fn === "if_not_exists" || fn === "list_append")) {
      this.next();
      this.expect("(");
      let result: Operand;
      if (fn === "size") result = { kind: "size", path: this.path() };
      else if (fn === "if_not_exists") {
        const path = this.path();
        this.expect(",");
        result = { kind: "if_not_exists", path, fallback: this.value() };
      } else {
        const a = this.value();
        this.expect(",");
        result = { kind: "list_append", a, b: this.value() };
      }
      this.expect(")");
      return result;
    }
    return { kind: "path", path: this.path() };
  }

  path(): PathPart[] {
    const parts: PathPart[] = [this.name()];
    for (;;) {
      if (this.peek() === ".") {
        this.next();
        parts.push(this.name());
      } else if (this.peek() === "[") {
        this.next();
        parts.push(Number(this.next()));
        this.expect("]");
      } else return parts;
    }
  }

  private name(): string {
    const token = this.next();
    if (token.startsWith("#")) {
      const name = this.ctx.names[token];
      if (name === undefined) {
        throw new ValidationException(
          `An expression attribute name used in the document path is not defined; attribute name: ${token}`,
        );
      }
      return name;
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(token)) {
      throw new ValidationException(`Invalid expression: expected an attribute name, got ${token}`);
    }
    return token;
  }
}

function resolve(item: Item | undefined, path: PathPart[]): AttributeValue | undefined {
  let current: AttributeValue | undefined = item ? { M: item } : undefined;
  for (const part of path) {
    if (!current) return undefined;
    if (typeof part === "number")
      current = "L" in current ? (current.L as AttributeValue[])[part] : undefined;
    else current = "M" in current ? (current.M as Record<string, AttributeValue>)[part] : undefined;
  }
  return current;
}

function evaluate(item: Item | undefined, operand: Operand): AttributeValue | undefined {
  switch (operand.kind) {
    case "value":
      return operand.value;
    case "path":
      return resolve(item, operand.path);
    case "size": {
      const v = resolve(item, operand.path);
      if (!v) return undefined;
      const n =
        "S" in v
          ? v.S.length
          : "L" in v
            ? v.L.length
            : "M" in v
              ? Object.keys(v.M).length
              : "SS" in v
                ? v.SS.length
                : "NS" in v
                  ? v.NS.length
                  : undefined;
      return n === undefined ? undefined : { N: String(n) };
    }
    case "if_not_exists":
      return resolve(item, operand.path) ?? evaluate(item, operand.fallback);
    case "list_append": {
      const a = evaluate(item, operand.a);
      const b = evaluate(item, operand.b);
      if (!a || !b || !("L" in a) || !("L" in b)) {
        throw new ValidationException("list_append needs two lists");
      }
      return { L: [...a.L, ...b.L] };
    }
    case "arith": {
      const a = evaluate(item, operand.a);
      const b = evaluate(item, operand.b);
      if (!a || !b || !("N" in a) || !("N" in b)) {
        throw new ValidationException(
          "An operand in the update expression has an incorrect data type",
        );
      }
      const r = operand.op === "+" ? Number(a.N) + Number(b.N) : Number(a.N) - Number(b.N);
      return { N: String(r) };
    }
  }
}

function typeOf(v: AttributeValue): string {
  return Object.keys(v)[0]!;
}

function compare(a: AttributeValue | undefined, b: AttributeValue | undefined): number | undefined {
  if (!a || !b || typeOf(a) !== typeOf(b)) return undefined;
  if ("N" in a && "N" in b) return Number(a.N) - Number(b.N);
  if ("S" in a && "S" in b) return a.S < b.S ? -1 : a.S > b.S ? 1 : 0;
  if ("B" in a && "B" in b) return a.B < b.B ? -1 : a.B > b.B ? 1 : 0;
  return JSON.stringify(a) === JSON.stringify(b) ? 0 : NaN;
}

function test(item: Item | undefined, c: Condition): boolean {
  switch (c.kind) {
    case "and":
      return test(item, c.a) && test(item, c.b);
    case "or":
      return test(item, c.a) || test(item, c.b);
    case "not":
      return !test(item, c.a);
    case "compare": {
      const r = compare(evaluate(item, c.a), evaluate(item, c.b));
      if (c.op === "<>") return r === undefined || r !== 0;
      if (r === undefined || Number.isNaN(r)) return false;
      return { "=": r === 0, "<": r < 0, "<=": r <= 0, ">": r > 0, ">=": r >= 0 }[c.op] ?? false;
    }
    case "between": {
      const v = evaluate(item, c.a);
      const low = compare(v, evaluate(item, c.low));
      const high = compare(v, evaluate(item, c.high));
      return low !== undefined && high !== undefined && low >= 0 && high <= 0;
    }
    case "in":
      return c.list.some((o) => compare(evaluate(item, c.a), evaluate(item, o)) === 0);
    case "function": {
      const [first, second] = c.args;
      const path = first?.kind === "path" ? first.path : undefined;
      switch (c.name) {
        case "attribute_exists":
          return path !== undefined && resolve(item, path) !== undefined;
        case "attribute_not_exists":
          return path !== undefined && resolve(item, path) === undefined;
        case "attribute_type": {
          const v = first ? evaluate(item, first) : undefined;
          const t = second ? evaluate(item, second) : undefined;
          return v !== undefined && t !== undefined && "S" in t && typeOf(v) === t.S;
        }
        case "begins_with": {
          const v = first ? evaluate(item, first) : undefined;
          const p = second ? evaluate(item, second) : undefined;
          return !!v && !!p && "S" in v && "S" in p && v.S.startsWith(p.S);
        }
        case "contains": {
          const v = first ? evaluate(item, first) : undefined;
          const p = second ? evaluate(item, second) : undefined;
          if (!v || !p) return false;
          if ("S" in v && "S" in p) return v.S.includes(p.S);
          if ("SS" in v && "S" in p) return v.SS.includes(p.S);
          if ("NS" in v && "N" in p) return v.NS.includes(p.N);
          if ("L" in v) return v.L.some((e) => compare(e, p) === 0);
          return false;
        }
      }
      return false;
    }
  }
}

/** Does `item` (undefined when absent) satisfy the condition expression? */
export function checkCondition(
  expression: string | undefined,
  item: Item | undefined,
  ctx: Context,
): boolean {
  if (!expression) return true;
  const parser = new Parser(tokenize(expression), ctx);
  const condition = parser.condition();
  if (!parser.done())
    throw new ValidationException(`Invalid ConditionExpression: unexpected ${parser.peek()}`);
  return test(item, condition);
}

function setPath(item: Item, path: PathPart[], value: AttributeValue | undefined): void {
  let container: Item | AttributeValue[] = item;
  for (let i = 0; i < path.length - 1; i++) {
    const part = path[i]!;
    const next: AttributeValue | undefined = Array.isArray(container)
      ? container[part as number]
      : container[part as string];
    if (!next || !("M" in next || "L" in next)) {
      throw new ValidationException(
        "The document path provided in the update expression is invalid for update",
      );
    }
    container = "M" in next ? next.M : next.L;
  }
  const last = path[path.length - 1]!;
  if (Array.isArray(container)) {
    if (value === undefined) container.splice(last as number, 1);
    else container[last as number] = value;
  } else if (value === undefined) delete container[last as string];
  else container[last as string] = value;
}

/** Applies an update expression to a copy of `item` (a new item when absent) and returns it. */
export function applyUpdate(
  expression: string,
  item: Item | undefined,
  key: Item,
  ctx: Context,
): Item {
  const result: Item = structuredClone(item ?? key);
  const parser = new Parser(tokenize(expression), ctx);
  const seen = new Set<string>();
  while (!parser.done()) {
    const clause = parser.next().toUpperCase();
    if (seen.has(clause))
      throw new ValidationException(
        `Invalid UpdateExpression: The "${clause}" section can only be used once`,
      );
    seen.add(clause);
    const actions: (() => void)[] = [];
    for (;;) {
      if (clause === "SET") {
        const path = parser.path();
        parser.expect("=");
        const value = parser.value();
        // Every right-hand side reads the item as it was before the update.
        const computed = evaluate(item ?? key, value);
        if (computed === undefined) {
          throw new ValidationException(
            "The provided expression refers to an attribute that does not exist in the item",
          );
        }
        actions.push(() => setPath(result, path, computed));
      } else if (clause === "REMOVE") {
        const path = parser.path();
        actions.push(() => setPath(result, path, undefined));
      } else if (clause === "ADD") {
        const path = parser.path();
        const value = parser.operand();
        const add = evaluate(undefined, value);
        const current = resolve(item, path);
        if (!add || !("N" in add))
          throw new ValidationException("ADD is modelled for numbers only in the lab");
        const sum = {
          N: String(Number(current && "N" in current ? current.N : 0) + Number(add.N)),
        };
        actions.push(() => setPath(result, path, sum));
      } else {
        throw new ValidationException(`the lab's DynamoDB does not model the ${clause} clause`);
      }
      if (parser.peek() === ",") {
        parser.next();
        continue;
      }
      break;
    }
    for (const action of actions) action();
  }
  return result;
}
