import { DeviceError, ShapeError, TapegradError, fmt, getBackend, isTensor, keep, shapesEqual, tidy, type Device, type Tensor } from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';

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

/** Tensors by dotted PyTorch-style name ('fc.weight', 'bn.running_mean'), as Module.stateDict() returns them. */
export type StateDict = Record<string, Tensor>;
/** The keys Module.loadStateDict() did not match (non-empty only with `strict: false`). */
export interface LoadResult {
  /** The module's names that the state dict lacked. */
  missingKeys: string[];
  /** The state dict's names that the module lacks. */
  unexpectedKeys: string[];
}

/**
 * The base class of layers and models (torch.nn.Module). Subclasses assign parameters
 * (`this.weight = parameter(...)`), buffers (`buffer(...)`) and submodules to fields and
 * implement `forward`; the module finds them by looking at its own fields, in assignment order.
 */
export abstract class Module {
  /** Training mode (dropout active, batch statistics); see train() and eval(). */
  training = true;

  /** The computation: call `m.forward(x)` (there is no `m(x)` in TypeScript). */
  abstract forward(...inputs: any[]): Tensor;

  private ownFields(): [string, unknown][] {
    return Object.entries(this).filter(([k]) => k !== 'training');
  }
  /** Direct submodules with their field names. */
  namedChildren(): [string, Module][] {
    return this.ownFields().filter((e): e is [string, Module] => e[1] instanceof Module);
  }
  /** Direct submodules. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }
  /** This module and every submodule, depth first, named by dotted path ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [field, m] of this.namedChildren()) {
      const name = torchName(field);
      out.push(...m.namedModules(prefix ? `${prefix}.${name}` : name));
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
      for (const [k, v] of m.ownFields()) {
        if (isTensor(v) && kind.has(v) && !seen.has(v)) {
          seen.add(v);
          out.push([path ? `${path}.${torchName(k)}` : torchName(k), v]);
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
   * view of another tensor's storage.
   */
  to(device: Device): this {
    const moving = this.tensorsOff(device);
    const slow = moving.find(([t]) => !getBackend(t.device).readSync);
    if (slow) throw new DeviceError(`Module.to: moving off '${slow[0].device}' needs an asynchronous read; use \`await model.toAsync('${device}')\``);
    // the copies are made before anything moves, so a failure (an unknown device) changes nothing
    const copies = tidy(() => noGrad(() => moving.map(([t]) => t.to(device))));
    return this.adopt(moving, copies);
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
      for (const [k, v] of m.ownFields()) {
        if (isTensor(v) && (PARAMETERS.has(v) || BUFFERS.has(v))) out[path ? `${path}.${torchName(k)}` : torchName(k)] = v;
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
  /** The constructor arguments shown by toString(). */
  protected extraRepr(): string {
    return '';
  }
}
