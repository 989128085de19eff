// A value per async flow, for memory's scopes and autocast's regions: an AsyncLocalStorage where
// the runtime has one (Node 20.16 and later), whose store awaits carry to their continuations.
// Without one (browsers) the program is one flow, held in one variable.
interface AsyncLocalStorage<S> {
  getStore(): S | undefined;
  enterWith(store: S | undefined): void;
  run<R>(store: S, fn: () => R): R;
}
type AsyncHooks = { AsyncLocalStorage: new <S>() => AsyncLocalStorage<S> };
const asyncHooks = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:async_hooks') as
  | AsyncHooks
  | undefined;

/** @internal The running flow's value: `enter` sets it for the rest of the flow, `run` for `fn`'s context only (where flows exist). */
export interface FlowStore<S> {
  get(): S | undefined;
  enter(s: S | undefined): void;
  run<R>(s: S, fn: () => R): R;
}

/** @internal */
export function flowStore<S>(): FlowStore<S> {
  const als = asyncHooks && new asyncHooks.AsyncLocalStorage<S>();
  if (als) return { get: () => als.getStore(), enter: (s) => als.enterWith(s), run: (s, fn) => als.run(s, fn) };
  let only: S | undefined;
  return {
    get: () => only,
    enter: (s) => void (only = s),
    run: (s, fn) => ((only = s), fn()),
  };
}
