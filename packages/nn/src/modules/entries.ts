// Internal to @tapegrad/nn (not exported): the hook containers override to say what they hold.

/**
 * A module's `[ENTRIES]()` lists what it may register as [field, name in state dicts, value]:
 * by default its own fields, named in PyTorch's snake_case; ModuleList and the other containers
 * list their elements, named by index or by their key verbatim.
 */
export const ENTRIES: unique symbol = Symbol('tapegrad.Module.entries');

/** One candidate for registration: [field, name in state dicts, value]. */
export type Entry = [field: string, name: string, value: unknown];
