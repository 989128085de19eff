import { IndexError, TapegradError, ValueError, flatten, isTensor, type Tensor } from '@tapegrad/tensor';
import { Module, isParameter, parameter } from './module.js';
import { ENTRIES, type Entry } from './entries.js';

/** Modules applied in order; they are its children '0', '1', ... as in PyTorch. */
export class Sequential extends Module {
  /** @param modules - The modules, in the order they are applied. */
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => ((this as unknown as Record<string, Module>)[String(i)] = m));
  }
  /** The number of modules. */
  get length(): number {
    return this.children().length;
  }
  /** The i-th module (negative i counts from the end). */
  at(i: number): Module | undefined {
    return this.children().at(i);
  }
  /** Feed `x` through each module in turn. */
  forward(x: Tensor): Tensor {
    for (const m of this.children()) x = m.forward(x);
    return x;
  }
}

/** Flatten dims startDim..endDim into one (default: all but the batch dim), as torch.nn.Flatten. */
export class Flatten extends Module {
  /**
   * @param startDim - First dim to flatten (default 1; negative counts from the end).
   * @param endDim - Last dim to flatten, inclusive (default -1).
   */
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  /** x with dims startDim..endDim merged into one. */
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}

// ---- ModuleList, ModuleDict, ParameterList, ParameterDict (issue 16) ----------------------------
// Their elements live in private storage, not in fields, and [ENTRIES] lists them: named by
// index ('layers.0.weight') or by key verbatim, as PyTorch's containers name them.

function checkModule(cls: string, what: string, m: unknown): Module {
  if (!(m instanceof Module)) throw new ValueError(`${cls}: ${what} must be a Module; got ${describe(m)}`);
  return m;
}
function checkKey(cls: string, key: unknown): string {
  if (typeof key !== 'string' || key === '' || key.includes('.')) {
    throw new ValueError(`${cls}: a key must be a non-empty string without '.' (it becomes part of state-dict names); got ${JSON.stringify(key) ?? String(key)}`);
  }
  return key;
}
// A tensor becomes a parameter (requiring grad), as torch's containers wrap tensors in Parameter;
// one that is a parameter already keeps its requiresGrad.
function asParameter(cls: string, what: string, t: unknown): Tensor {
  if (!isTensor(t)) throw new ValueError(`${cls}: ${what} must be a Tensor; got ${describe(t)}`);
  return isParameter(t) ? t : parameter(t);
}
const describe = (v: unknown) => (v === null ? 'null' : typeof v === 'object' ? (v as object).constructor?.name ?? 'an object' : typeof v);

/** An index into a list of `length` items (negative counts from the end), checked. */
function at(cls: string, i: number, length: number, end = false): number {
  const j = i < 0 ? i + length : i;
  if (!Number.isInteger(i) || j < 0 || j > length || (j === length && !end)) {
    throw new IndexError(`${cls}: index ${i} is out of range for ${length} item(s)`);
  }
  return j;
}

/**
 * A list of modules registered as children '0', '1', ... (torch.nn.ModuleList): what a model
 * holds its repeated blocks in. A plain array of modules is not registered (and is an error
 * when the module's parameters are listed). It has no forward: iterate over it in yours.
 */
export class ModuleList<M extends Module = Module> extends Module {
  readonly #items: M[] = [];
  /** @param modules - The modules, in order. */
  constructor(modules: Iterable<M> = []) {
    super();
    this.extend(modules);
  }
  /** The number of modules. */
  get length(): number {
    return this.#items.length;
  }
  /** The i-th module (negative i counts from the end); out of range throws an IndexError. */
  at(i: number): M {
    return this.#items[at('ModuleList', i, this.#items.length)]!;
  }
  /** Replace the i-th module (negative i counts from the end). */
  set(i: number, module: M): this {
    this.#items[at('ModuleList', i, this.#items.length)] = checkModule('ModuleList', 'an item', module) as M;
    return this;
  }
  /** Add a module at the end (returns this). */
  append(module: M): this {
    this.#items.push(checkModule('ModuleList', 'an item', module) as M);
    return this;
  }
  /** Add modules at the end (returns this). */
  extend(modules: Iterable<M>): this {
    for (const m of modules) this.append(m);
    return this;
  }
  /** Insert a module before index i (i = length appends; negative counts from the end). */
  insert(i: number, module: M): this {
    this.#items.splice(at('ModuleList', i, this.#items.length, true), 0, checkModule('ModuleList', 'an item', module) as M);
    return this;
  }
  /** Remove and return the i-th module (default the last). */
  pop(i = -1): M {
    return this.#items.splice(at('ModuleList', i, this.#items.length), 1)[0]!;
  }
  /** The modules, in order. */
  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }
  /** @internal */
  override [ENTRIES](): Entry[] {
    return [...super[ENTRIES](), ...this.#items.map((m, i): Entry => [String(i), String(i), m])];
  }
  /** A ModuleList has no forward (as in PyTorch): iterate over it in your module's forward. */
  forward(): Tensor {
    throw new TapegradError('ModuleList: a ModuleList has no forward; iterate over it in your module\'s forward (or use Sequential)');
  }
}

/**
 * Modules by name, registered as children named by their keys verbatim (torch.nn.ModuleDict),
 * in insertion order. A plain object of modules is not registered (and is an error when the
 * module's parameters are listed). Keys are non-empty strings without '.'.
 */
export class ModuleDict<M extends Module = Module> extends Module {
  readonly #items = new Map<string, M>();
  /** @param modules - The modules by key, as an object or as [key, module] pairs. */
  constructor(modules: Record<string, M> | Iterable<[string, M]> = {}) {
    super();
    this.update(modules);
  }
  /** The number of modules. */
  get size(): number {
    return this.#items.size;
  }
  /** The module under `key`; a missing key throws an IndexError naming the keys there are. */
  get(key: string): M {
    const m = this.#items.get(key);
    if (!m) throw new IndexError(`ModuleDict: no module under key ${JSON.stringify(key)}; the keys are ${JSON.stringify([...this.#items.keys()])}`);
    return m;
  }
  /** Whether there is a module under `key`. */
  has(key: string): boolean {
    return this.#items.has(key);
  }
  /** Put a module under `key` (a new key goes last; an existing one keeps its place). Returns this. */
  set(key: string, module: M): this {
    this.#items.set(checkKey('ModuleDict', key), checkModule('ModuleDict', `the value of ${JSON.stringify(key)}`, module) as M);
    return this;
  }
  /** Set every [key, module] of an object or of pairs (returns this). */
  update(modules: Record<string, M> | Iterable<[string, M]>): this {
    const pairs = Symbol.iterator in modules ? (modules as Iterable<[string, M]>) : Object.entries(modules as Record<string, M>);
    for (const [k, m] of pairs) this.set(k, m);
    return this;
  }
  /** Remove and return the module under `key` (a missing key throws an IndexError). */
  pop(key: string): M {
    const m = this.get(key);
    this.#items.delete(key);
    return m;
  }
  /** Remove every module. */
  clear(): void {
    this.#items.clear();
  }
  /** The keys, in insertion order. */
  keys(): IterableIterator<string> {
    return this.#items.keys();
  }
  /** The modules, in insertion order. */
  values(): IterableIterator<M> {
    return this.#items.values();
  }
  /** The [key, module] pairs, in insertion order. */
  entries(): IterableIterator<[string, M]> {
    return this.#items.entries();
  }
  /** The [key, module] pairs, as a Map iterates. */
  [Symbol.iterator](): IterableIterator<[string, M]> {
    return this.#items.entries();
  }
  /** @internal */
  override [ENTRIES](): Entry[] {
    return [...super[ENTRIES](), ...[...this.#items].map(([k, m]): Entry => [k, k, m])];
  }
  /** A ModuleDict has no forward (as in PyTorch): pick its modules in your module's forward. */
  forward(): Tensor {
    throw new TapegradError('ModuleDict: a ModuleDict has no forward; use its modules in your module\'s forward');
  }
}

/**
 * A list of parameters registered as '0', '1', ... (torch.nn.ParameterList). A tensor added
 * becomes a parameter (requiring grad) unless it is one already.
 */
export class ParameterList extends Module {
  readonly #items: Tensor[] = [];
  /** @param parameters - The tensors, in order. */
  constructor(parameters: Iterable<Tensor> = []) {
    super();
    this.extend(parameters);
  }
  /** The number of parameters. */
  get length(): number {
    return this.#items.length;
  }
  /** The i-th parameter (negative i counts from the end); out of range throws an IndexError. */
  at(i: number): Tensor {
    return this.#items[at('ParameterList', i, this.#items.length)]!;
  }
  /** Replace the i-th parameter (returns this). */
  set(i: number, t: Tensor): this {
    this.#items[at('ParameterList', i, this.#items.length)] = asParameter('ParameterList', 'an item', t);
    return this;
  }
  /** Add a parameter at the end (returns this). */
  append(t: Tensor): this {
    this.#items.push(asParameter('ParameterList', 'an item', t));
    return this;
  }
  /** Add parameters at the end (returns this). */
  extend(ts: Iterable<Tensor>): this {
    for (const t of ts) this.append(t);
    return this;
  }
  /** The parameters, in order. */
  [Symbol.iterator](): Iterator<Tensor> {
    return this.#items[Symbol.iterator]();
  }
  /** @internal */
  override [ENTRIES](): Entry[] {
    return [...super[ENTRIES](), ...this.#items.map((t, i): Entry => [String(i), String(i), t])];
  }
  /** A ParameterList has no forward: use its parameters in your module's forward. */
  forward(): Tensor {
    throw new TapegradError('ParameterList: a ParameterList has no forward; use its parameters in your module\'s forward');
  }
  protected override extraRepr(): string {
    return this.#items.map((t, i) => `(${i}): Parameter(${t.dtype} [${t.shape.join(', ')}])`).join(', ');
  }
}

/**
 * Parameters by name, registered under their keys verbatim (torch.nn.ParameterDict), in
 * insertion order. A tensor added becomes a parameter unless it is one already.
 */
export class ParameterDict extends Module {
  readonly #items = new Map<string, Tensor>();
  /** @param parameters - The tensors by key, as an object or as [key, tensor] pairs. */
  constructor(parameters: Record<string, Tensor> | Iterable<[string, Tensor]> = {}) {
    super();
    this.update(parameters);
  }
  /** The number of parameters. */
  get size(): number {
    return this.#items.size;
  }
  /** The parameter under `key`; a missing key throws an IndexError naming the keys there are. */
  get(key: string): Tensor {
    const t = this.#items.get(key);
    if (!t) throw new IndexError(`ParameterDict: no parameter under key ${JSON.stringify(key)}; the keys are ${JSON.stringify([...this.#items.keys()])}`);
    return t;
  }
  /** Whether there is a parameter under `key`. */
  has(key: string): boolean {
    return this.#items.has(key);
  }
  /** Put a parameter under `key` (returns this). */
  set(key: string, t: Tensor): this {
    this.#items.set(checkKey('ParameterDict', key), asParameter('ParameterDict', `the value of ${JSON.stringify(key)}`, t));
    return this;
  }
  /** Set every [key, tensor] of an object or of pairs (returns this). */
  update(parameters: Record<string, Tensor> | Iterable<[string, Tensor]>): this {
    const pairs = Symbol.iterator in parameters ? (parameters as Iterable<[string, Tensor]>) : Object.entries(parameters as Record<string, Tensor>);
    for (const [k, t] of pairs) this.set(k, t);
    return this;
  }
  /** Remove and return the parameter under `key` (a missing key throws an IndexError). */
  pop(key: string): Tensor {
    const t = this.get(key);
    this.#items.delete(key);
    return t;
  }
  /** The keys, in insertion order. */
  keys(): IterableIterator<string> {
    return this.#items.keys();
  }
  /** The parameters, in insertion order. */
  values(): IterableIterator<Tensor> {
    return this.#items.values();
  }
  /** The [key, parameter] pairs, in insertion order. */
  entries(): IterableIterator<[string, Tensor]> {
    return this.#items.entries();
  }
  /** The [key, parameter] pairs, as a Map iterates. */
  [Symbol.iterator](): IterableIterator<[string, Tensor]> {
    return this.#items.entries();
  }
  /** @internal */
  override [ENTRIES](): Entry[] {
    return [...super[ENTRIES](), ...[...this.#items].map(([k, t]): Entry => [k, k, t])];
  }
  /** A ParameterDict has no forward: use its parameters in your module's forward. */
  forward(): Tensor {
    throw new TapegradError('ParameterDict: a ParameterDict has no forward; use its parameters in your module\'s forward');
  }
  protected override extraRepr(): string {
    return [...this.#items].map(([k, t]) => `(${k}): Parameter(${t.dtype} [${t.shape.join(', ')}])`).join(', ');
  }
}
