// aws-local-stepfunctions 3.0.0 calls Promise.withResolvers (Node 22); Node 20 lacks it. Imported
// before the library by the lab's orchestrator and by the tests' workflow harnesses.
interface WithResolvers {
  withResolvers?: <T>() => {
    promise: Promise<T>;
    resolve: (value: T | PromiseLike<T>) => void;
    reject: (reason?: unknown) => void;
  };
}

const P = Promise as unknown as WithResolvers;
if (typeof P.withResolvers !== "function") {
  P.withResolvers = <T>() => {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};
