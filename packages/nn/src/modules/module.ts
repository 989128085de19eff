import { DeviceError, DTYPES, DTypeError, ShapeError, TapegradError, cast, fmt, getBackend, isFloating, guardValue, inspectCustom, isTensor, keep, shapesEqual, tidy, type Device, type DType, type Tensor } from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';
import { ENTRIES, type Entry } from './entries.js';

// A Module finds its parameters, buffers and submodules by looking at its own fields, as
// PyTorch's __setattr__ registers them: `this.weight = parameter(...)`, `this.runningMean =
// buffer(...)`, `this.fc = new Linear(...)`. Field order is registration order.

// Names in namedParameters/namedBuffers/stateDict are PyTorch's spelling of the field names
// (runningMean -> running_mean), so checkpoints move between tapegrad and PyTorch unchanged.
const torchName = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const PARAMETERS = new WeakSet<Tensor>();
const BUFFERS = new WeakSet<Tensor>();

/**
 * Mark a tensor as a module parameter (torch.nn.Parameter): it requires grad (unless told
 * otherwise) and lives until disposed by hand, whatever scope created it.
 */
export function parameter(t: Tensor, requiresGrad = true): Tensor {
  t.requiresGrad_(requiresGrad);
  PARAMETERS.add(keep(t));
  return t;
}
/** Mark a tensor as a module buffer: state saved in the stateDict but not trained (running statistics). */
export function buffer(t: Tensor): Tensor {
  BUFFERS.add(keep(t));
  return t;
}
/** Whether `t` is a tensor marked by {@link parameter}. */
export function isParameter(t: unknown): t is Tensor {
  return isTensor(t) && PARAMETERS.has(t);
}

const isRegistered = (v: unknown): v is Tensor => isTensor(v) && (PARAMETERS.has(v) || BUFFERS.has(v));

// A module, parameter or buffer found in a plain container, with the path it was found at.
type Held = [path: string, value: Module | Tensor];
function containerKind(v: unknown): string | undefined {
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'a Map';
  if (v instanceof Set) return 'a Set';
  if (typeof v !== 'object' || v === null || isTensor(v)) return undefined;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null ? 'a plain object' : undefined;
}
function findHeld(v: object, path: string, out: Held[], seen: Set<object>): void {
  if (seen.has(v)) return;
  seen.add(v);
  const items: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [`${path}[${i}]`, x])
    : v instanceof Map ? [...v].map(([k, x]) => [`${path}.get(${JSON.stringify(k) ?? String(k)})`, x])
      : v instanceof Set ? [...v].map((x) => [`${path} (a Set)`, x])
        : Object.entries(v).map(([k, x]) => [/^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`, x]);
  for (const [p, x] of items) {
    if (typeof x !== 'object' || x === null) continue;
    if (x instanceof Module || isRegistered(x)) out.push([p, x]);
    else if (containerKind(x)) findHeld(x, p, out, seen);
  }
}
function unregisteredMessage(m: Module, lost: Held[]): string {
  const what = ([p, x]: Held) => `${p} is ${x instanceof Module ? `a ${x.constructor.name}` : PARAMETERS.has(x) ? 'a parameter' : 'a buffer'}`;
  const field = lost[0]![0].split(/[[. ]/)[0]!;
  const kind = containerKind((m as unknown as Record<string, unknown>)[field]) ?? 'a container';
  const more = lost.length > 3 ? `, and ${lost.length - 3} more` : '';
  const kinds = [...new Set(lost.map(([, x]) => (x instanceof Module ? 'modules' : PARAMETERS.has(x) ? 'parameters' : 'buffers')))].join(' and ');
  return `${m.constructor.name}: field '${field}' holds ${kinds} in ${kind} (${lost.slice(0, 3).map(what).join(', ')}${more}), ` +
    'which a Module does not look into: they would be missing from parameters(), stateDict() and to(). ' +
    'Hold modules in a ModuleList (for an array) or a ModuleDict (for an object), parameters in a ParameterList or a ParameterDict, ' +
    'and each buffer in a field of its own; keep references to modules registered elsewhere in a #private field or a getter.';
}

/** Tensors by dotted PyTorch-style name ('fc.weight', 'bn.running_mean'), as Module.stateDict() returns them. */
export type StateDict = Record<string, Tensor>;
/** The keys Module.loadStateDict() did not match (non-empty only with `strict: false`). */
export interface LoadResult {
  /** The module's names that the state dict lacked. */
  missingKeys: string[];
  /** The state dict's names that the module lacks. */
  unexpectedKeys: string[];
}

const isDType = (x: unknown): x is DType => (DTYPES as readonly unknown[]).includes(x);
// PyTorch: "nn.Module.to only accepts floating point or complex dtypes"
function checkFloatDType(op: string, dtype: unknown): void {
  if (!isDType(dtype) || !isFloating(dtype)) throw new DTypeError(`${op}: dtype must be a floating-point dtype (float16, bfloat16, float32, float64), as PyTorch's; got ${String(dtype)}`);
}

/**
 * The base class of layers and models (torch.nn.Module). Subclasses assign parameters
 * (`this.weight = parameter(...)`), buffers (`buffer(...)`) and submodules to fields and
 * implement `forward`; the module finds them by looking at its own fields, in assignment order.
 */
export abstract class Module {
  /** Training mode (dropout active, batch statistics); see train() and eval(). */
  training = true;

  /**
   * The computation, which subclasses implement. Run a module with {@link Module.call}
   * (`model.call(x)`, PyTorch's `model(x)`), or call `forward` itself: the two are the same. Most
   * layers return a Tensor; some return what PyTorch returns (the recurrent layers
   * `[output, hN]`, attention `[output, weights]`), hence `any`.
   */
  abstract forward(...inputs: any[]): any;

  /**
   * Run the module on its inputs: `model.call(x)` is PyTorch's `model(x)` (a TypeScript class
   * instance cannot be called like a function; docs/ARCHITECTURE.md says why tapegrad does not
   * fake it). Typed as this module's own `forward`: same arguments, same result.
   */
  call(...inputs: Parameters<this['forward']>): ReturnType<this['forward']> {
    this.guardFields();
    return this.forward(...inputs) as ReturnType<this['forward']>;
  }

  /**
   * @internal While `compile` traces: the trace holds only while this module's training flag and
   * fields (its submodules, parameters, buffers and settings) stay the same values and objects.
   * Called where a module is run or listed; layers whose forward depends on the mode call it too.
   */
  protected guardFields(): void {
    guardValue(() => [this.training, ...this[ENTRIES]().flatMap(([field, , v]) => [field, v])], `${this.constructor.name}'s training flag and fields`, this);
  }

  /** @internal What this module may register; containers override it (see entries.ts). */
  [ENTRIES](): Entry[] {
    return Object.entries(this).filter(([k]) => k !== 'training').map(([k, v]) => [k, torchName(k), v]);
  }
  // The entries that are registered: submodules, parameters and buffers. A plain array, object,
  // Map or Set is not looked into, as PyTorch does not look into a list: what it holds would be
  // silently missing from parameters() and stateDict(), so holding a module, parameter or buffer
  // there is an error, unless this module registers that one anyway (a list of references).
  private registered(): [string, string, Module | Tensor][] {
    this.guardFields();
    const out: [string, string, Module | Tensor][] = [];
    const held: Held[] = [];
    for (const [field, name, v] of this[ENTRIES]()) {
      if (v instanceof Module || isRegistered(v)) out.push([field, name, v]);
      else if (containerKind(v)) findHeld(v as object, field, held, new Set());
    }
    if (held.length) {
      const owned = new Set<unknown>();
      for (const [, , v] of out) {
        if (!(v instanceof Module)) owned.add(v);
        else for (const m of v.modules()) [m, ...m.parameters(false), ...m.buffers(false)].forEach((x) => owned.add(x));
      }
      const lost = held.filter(([, x]) => !owned.has(x));
      if (lost.length) throw new TapegradError(unregisteredMessage(this, lost));
    }
    return out;
  }
  /** Direct submodules with their field names (a ModuleList's indices, a ModuleDict's keys). */
  namedChildren(): [string, Module][] {
    return this.registered().filter((e): e is [string, string, Module] => e[2] instanceof Module).map(([field, , m]) => [field, m]);
  }
  /** Direct submodules. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }
  /**
   * This module and every submodule, depth first, named by dotted path ('' for this one).
   * Throws a TapegradError if a field holds modules, parameters or buffers in a plain array,
   * object, Map or Set, where they would not be registered: use {@link ModuleList},
   * {@link ModuleDict}, {@link ParameterList} or {@link ParameterDict}.
   */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [, name, m] of this.registered()) {
      if (m instanceof Module) out.push(...m.namedModules(prefix ? `${prefix}.${name}` : name));
    }
    return out;
  }
  /** This module and every submodule, depth first. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }
  private namedTensors(kind: WeakSet<Tensor>, prefix: string, recurse: boolean): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const mods: [string, Module][] = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [path, m] of mods) {
      for (const [, name, v] of m.registered()) {
        if (isTensor(v) && kind.has(v) && !seen.has(v)) {
          seen.add(v);
          out.push([path ? `${path}.${name}` : name, v]);
        }
      }
    }
    return out;
  }
  /** Parameters with dotted names ('0.weight', 'fc.bias'), in PyTorch's snake_case; a shared parameter appears once. */
  namedParameters(prefix = '', recurse = true): [string, Tensor][] {
    return this.namedTensors(PARAMETERS, prefix, recurse);
  }
  /** Parameters, of submodules too unless `recurse` is false; a shared parameter appears once. */
  parameters(recurse = true): Tensor[] {
    return this.namedParameters('', recurse).map(([, t]) => t);
  }
  /** Buffers (running statistics and other untrained state) with dotted snake_case names. */
  namedBuffers(prefix = '', recurse = true): [string, Tensor][] {
    return this.namedTensors(BUFFERS, prefix, recurse);
  }
  /** Buffers, of submodules too unless `recurse` is false. */
  buffers(recurse = true): Tensor[] {
    return this.namedBuffers('', recurse).map(([, t]) => t);
  }
  /** The number of elements in all parameters (the "parameter count"). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Set training mode here and in every submodule (returns this). */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  /** Evaluation mode: train(false). */
  eval(): this {
    return this.train(false);
  }
  /** Call fn on every submodule and this module (children first), as torch's apply. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }
  /** Drop (dispose) the gradients of all parameters. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * Move parameters, buffers and their gradients to another device, in place (returns this), as
   * torch's `module.to(device)`. The tensors stay the same objects (their data moves under them,
   * as PyTorch keeps parameter identity), so an optimizer made before still holds the model's
   * parameters. Off a device that cannot be read synchronously (WebGPU) use {@link Module.toAsync}.
   * Throws, moving nothing, if a parameter or buffer to move was disposed, is not a leaf, or is a
   * view of another tensor's storage. With a dtype (`to('float16')`, `to('webgpu', 'float16')`)
   * it also converts the floating-point ones in place, as {@link Module.half} and the others do.
   */
  to(device: Device | DType, dtype?: DType): this {
    if (isDType(device)) return this.toDType(device);
    if (dtype !== undefined) checkFloatDType('Module.to', dtype);
    this.toDevice(device);
    return dtype === undefined ? this : this.toDType(dtype);
  }
  private toDevice(device: Device): void {
    const moving = this.tensorsOff(device);
    const slow = moving.find(([t]) => !getBackend(t.device).readSync);
    if (slow) throw new DeviceError(`Module.to: moving off '${slow[0].device}' needs an asynchronous read; use \`await model.toAsync('${device}')\``);
    // the copies are made before anything moves, so a failure (an unknown device) changes nothing
    const copies = tidy(() => noGrad(() => moving.map(([t]) => t.to(device))));
    this.adopt(moving, copies);
  }

  /**
   * Convert floating-point parameters and buffers, and their gradients, to `dtype` in place, as
   * PyTorch's `module.to(dtype)`: integer and bool buffers (a BatchNorm's step count) keep theirs,
   * and the tensors stay the same objects, so an optimizer made before still holds them (its
   * state keeps its dtype, as PyTorch's). Throws, converting nothing, as {@link Module.to} does.
   */
  private toDType(dtype: DType): this {
    checkFloatDType('Module.to', dtype);
    const out = new Map<Tensor, Tensor | null>();
    for (const [kind, named] of [['parameter', this.namedParameters()], ['buffer', this.namedBuffers()]] as const) {
      for (const [name, t] of named) {
        if (!isFloating(t.dtype)) continue;
        if (t.dtype !== dtype) {
          t.assertMovable(`Module.to: ${kind} '${name}'`);
          out.set(t, null);
        }
        if (t.grad && t.grad.dtype !== dtype) {
          t.grad.assertLive(`Module.to: the gradient of ${kind} '${name}'`);
          out.set(t.grad, t);
        }
      }
    }
    const moving = [...out];
    const copies = tidy(() => noGrad(() => moving.map(([t]) => cast(t, dtype))));
    return this.adopt(moving, copies);
  }
  /** Floating-point parameters and buffers to float16 (PyTorch's `module.half()`). */
  half(): this {
    return this.toDType('float16');
  }
  /** Floating-point parameters and buffers to bfloat16 (PyTorch's `module.bfloat16()`). */
  bfloat16(): this {
    return this.toDType('bfloat16');
  }
  /** Floating-point parameters and buffers to float32 (PyTorch's `module.float()`). */
  float(): this {
    return this.toDType('float32');
  }
  /** Floating-point parameters and buffers to float64 (PyTorch's `module.double()`). */
  double(): this {
    return this.toDType('float64');
  }
  /** {@link Module.to} from any device (WebGPU to CPU too), reading asynchronously: `await model.toAsync('cpu')`. */
  async toAsync(device: Device): Promise<this> {
    const moving = this.tensorsOff(device);
    const settled = await Promise.allSettled(moving.map(([t]) => t.toAsync(device)));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) {
      for (const r of settled) if (r.status === 'fulfilled') r.value.dispose();
      throw failed.reason;
    }
    return this.adopt(moving, settled.map((r) => (r as PromiseFulfilledResult<Tensor>).value));
  }
  // The distinct parameters and buffers not on `device`, each checked that it can move, and the
  // gradients not there, each with the tensor it belongs to.
  private tensorsOff(device: Device): [Tensor, Tensor | null][] {
    getBackend(device);
    const out = new Map<Tensor, Tensor | null>();
    for (const [kind, named] of [['parameter', this.namedParameters()], ['buffer', this.namedBuffers()]] as const) {
      for (const [name, t] of named) {
        if (t.device !== device) {
          t.assertMovable(`Module.to: ${kind} '${name}'`);
          out.set(t, null);
        }
        if (t.grad && t.grad.device !== device) {
          t.grad.assertLive(`Module.to: the gradient of ${kind} '${name}'`);
          out.set(t.grad, t);
        }
      }
    }
    return [...out];
  }
  // A parameter or buffer takes its copy's storage; a gradient (which may be a view) is replaced by its copy.
  private adopt(moving: [Tensor, Tensor | null][], copies: Tensor[]): this {
    moving.forEach(([t, owner], i) => {
      if (!owner) return t.adoptStorage(copies[i]!);
      t.dispose();
      owner.grad = keep(copies[i]!);
    });
    return this;
  }

  /**
   * Parameters and buffers by dotted name, in registration order (torch's state_dict). The
   * tensors are the module's own: read or save them, do not dispose them.
   */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [path, m] of this.namedModules()) {
      for (const [, name, v] of m.registered()) {
        if (isTensor(v)) out[path ? `${path}.${name}` : name] = v;
      }
    }
    return out;
  }

  /**
   * Copy values into this module's parameters and buffers, in place. With strict (default),
   * missing and unexpected keys are an error; a shape mismatch always is. Nothing is written
   * unless every check passes.
   */
  loadStateDict(state: StateDict | Map<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const { strict = true } = options;
    const given = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !(k in own));
    const problems: string[] = [];
    if (strict && missingKeys.length) problems.push(`missing keys: ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length) problems.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
    for (const [k, t] of given) {
      const mine = own[k];
      if (!mine) continue;
      if (!isTensor(t)) problems.push(`${k}: expected a Tensor; got ${typeof t}`);
      else if (!shapesEqual(t.shape, mine.shape)) problems.push(`${k}: shape ${fmt(t.shape)} in the state dict, ${fmt(mine.shape)} in the module`);
    }
    if (problems.length) {
      const err = problems.some((p) => p.includes(' in the module')) ? ShapeError : TapegradError;
      throw new err(`loadStateDict: error(s) loading state dict into ${this.constructor.name}:\n  ${problems.join('\n  ')}`);
    }
    noGrad(() => {
      for (const [k, t] of given) {
        const dst = own[k];
        if (!dst) continue;
        const src = t.device === dst.device ? t : t.to(dst.device);
        dst.copy_(src);
        if (src !== t) src.dispose();
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Dispose every parameter, buffer and gradient of this module and its submodules. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }

  /** PyTorch-style summary: the class, its constructor arguments and its children, indented. */
  toString(): string {
    const kids = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (!kids.length) return `${head})`;
    const body = kids.map(([n, m]) => `  (${n}): ${m.toString().replace(/\n/g, '\n  ')}`).join('\n');
    return `${head}\n${body}\n)`;
  }
  /** What console.log(model) and util.inspect(model) print in Node: {@link Module.toString}'s summary. */
  [inspectCustom](): string {
    return this.toString();
  }
  /** The constructor arguments shown by toString(). */
  protected extraRepr(): string {
    return '';
  }
}
