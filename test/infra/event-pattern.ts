// A small EventBridge pattern matcher (exact values, prefix and wildcard filters, nested
// fields, anything-but), enough to test the rules' patterns against concrete events. Lambda's
// event filtering uses the same syntax and semantics
// (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).
type Filter = string | { prefix: string } | { wildcard: string } | { "anything-but": string[] };
type Pattern = { [key: string]: Pattern | Filter[] };

/** EventBridge wildcard: `*` matches any run of characters (eb-create-pattern-operators). */
function wildcard(value: string, pattern: string): boolean {
  const regex = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${regex.join(".*")}$`).test(value);
}

function matchesValue(value: unknown, filters: Filter[]): boolean {
  return filters.some((filter) => {
    if (typeof filter === "string") return value === filter;
    if (typeof value !== "string") return false;
    // "anything-but" matches a present value outside the list, never a missing field
    // (eb-create-pattern-operators, "Anything-but matching").
    if ("anything-but" in filter) return !filter["anything-but"].includes(value);
    return "prefix" in filter ? value.startsWith(filter.prefix) : wildcard(value, filter.wildcard);
  });
}

export function matches(pattern: Pattern, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, filter]) => {
    const value = event[key];
    if (Array.isArray(filter)) return matchesValue(value, filter);
    return (
      typeof value === "object" &&
      value !== null &&
      matches(filter, value as Record<string, unknown>)
    );
  });
}
