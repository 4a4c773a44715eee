// A small EventBridge pattern matcher (exact values, prefix filters, nested fields), enough to
// test the replication rules' patterns against concrete events.
type Pattern = { [key: string]: Pattern | Array<string | { prefix: string }> };

function matchesValue(value: unknown, filters: Array<string | { prefix: string }>): boolean {
  return filters.some((filter) =>
    typeof filter === "string"
      ? value === filter
      : typeof value === "string" && value.startsWith(filter.prefix),
  );
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
