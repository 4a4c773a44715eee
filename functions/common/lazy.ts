// Lazily built objects, for SDK clients and adapters a function may not need on every path.
// Loading an AWS SDK client package costs tens of milliseconds of cold init each (npm run
// bench:cold-init); a function that builds the client at module scope pays it even when the
// request never calls the service. Pure: no AWS imports.

/**
 * An object of type T built by `build` on the first access to any of its properties; every
 * later access goes to that one object, with methods bound to it (so `this` stays right and a
 * test's prototype stub, e.g. aws-sdk-client-mock, still applies).
 */
export function lazy<T extends object>(build: () => T): T {
  let built: T | undefined;
  const target = () => (built ??= build());
  return new Proxy({} as T, {
    get(_, key) {
      const object = target();
      const value = Reflect.get(object, key, object) as unknown;
      return typeof value === "function"
        ? (value as (...args: unknown[]) => unknown).bind(object)
        : value;
    },
    has: (_, key) => Reflect.has(target(), key),
    set: (_, key, value) => Reflect.set(target(), key, value),
    getPrototypeOf: () => Reflect.getPrototypeOf(target()),
  });
}

/**
 * `load()` on the first call, the same value after (for a lazily required SDK package and what
 * is built from it: a bare `require` per call would resolve the module again every time).
 */
export function once<T>(load: () => T): () => T {
  let loaded: { value: T } | undefined;
  return () => (loaded ??= { value: load() }).value;
}
