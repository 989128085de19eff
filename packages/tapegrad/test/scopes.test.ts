// Scopes across `await` (issue 15, item 6): each async flow has its own chain of scopes where
// the runtime has AsyncLocalStorage (Node here); without it (browsers) the fallback is one chain,
// checked in a child process that has no AsyncLocalStorage. Interleavings are made with
// microtask turns, so every run takes the same order.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeEach, describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';

const gc = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();
/** Collect garbage and let the finalizers run; returns the CPU's live bytes. */
async function collect(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 0));
  }
  return tg.memory().devices.cpu?.bytes ?? 0;
}
// Earlier tests' garbage is finalized first, so the exact counts below cannot drop when a read
// gives the event loop a turn.
beforeEach(collect);
/** Whether a tensor made now, outside every scope the test opened, is left to the finalizer (no stale scope holds it). */
async function noScopeHolds(): Promise<boolean> {
  const base = await collect();
  (() => void tg.zeros([1000]))();
  return (await collect()) === base;
}
const turn = () => Promise.resolve();
const live = () => tg.memory().tensors;

describe('scopes in concurrent async flows (AsyncLocalStorage)', () => {
  it('two loops that each hold a scope across awaits run at the same time (Promise.all)', async () => {
    const before = live();
    const loop = async (name: string) => {
      const mine: tg.Tensor[] = [];
      for (let i = 0; i < 3; i++) {
        using s = tg.scope();
        const x = tg.rand([4]);
        await turn(); // the other loop opens its scope and makes its tensors here
        const y = x.mul(2);
        await y.sum().item();
        expect(s.tracks(x) && s.tracks(y), `${name} step ${i}: its own scope holds what it made`).toBe(true);
        mine.push(x, y);
      }
      return mine;
    };
    const [a, b] = await Promise.all([loop('a'), loop('b')]);
    expect([...a, ...b].every((t) => t.isDisposed)).toBe(true);
    expect(live()).toBe(before);
    expect(await noScopeHolds()).toBe(true);
  });

  it('a loop started without await leaves alone the tensors its caller makes once its first scope has closed', async () => {
    let firstStepDone!: () => void;
    const stepped = new Promise<void>((r) => (firstStepDone = r));
    const loop = async () => {
      for (let i = 0; i < 3; i++) {
        using _s = tg.scope();
        const x = tg.rand([4]);
        await turn();
        await x.sum().item();
        if (i === 0) queueMicrotask(firstStepDone);
      }
    };
    const pending = loop();
    await stepped; // the loop is in its second step, inside a scope it opened after an await
    const x = tg.ones([2]); // the caller's
    await pending;
    expect(x.isDisposed).toBe(false);
    expect(x.sum().itemSync()).toBe(2);
    x.dispose();
  });

  it('withScope gives a task its own scope from its first line: the caller may make tensors while it runs', async () => {
    const before = live();
    let made: tg.Tensor[] = [];
    const task = tg.withScope(async () => {
      const x = tg.rand([4]);
      await turn();
      const y = x.add(1);
      made = [x, y];
      await turn();
      return { total: y.sum(), label: 'kept' }; // returned tensors survive the scope
    });
    const callers = tg.ones([3]); // made while the task is pending, before its first await resumed
    const { total, label } = await task;
    expect(made.every((t) => t.isDisposed)).toBe(true);
    expect(callers.isDisposed).toBe(false);
    expect(total.isDisposed).toBe(false);
    expect(label).toBe('kept');
    expect(live()).toBe(before + 2);
    total.dispose();
    callers.dispose();
    expect(await noScopeHolds()).toBe(true);
  });

  it('nested scopes and tidy inside each of two concurrent flows stay in their own flow', async () => {
    const before = live();
    const flow = (name: string) =>
      tg.withScope(async () => {
        using outer = tg.scope();
        await turn();
        let up: tg.Tensor;
        {
          using inner = tg.scope();
          await turn();
          up = inner.keep(tg.rand([2])); // handed to this flow's outer scope, whatever the other flow has open
          await turn();
        }
        const doubled = tg.tidy(() => tg.rand([2]).mul(2).add(up)); // tidy's scope, inside this flow
        await turn();
        expect(outer.tracks(up) && outer.tracks(doubled), `${name}: the outer scope of its own flow holds them`).toBe(true);
        await turn();
        return [up, doubled];
      });
    const results = await Promise.all([flow('a'), flow('b')]);
    expect(live()).toBe(before);
    expect(results.flat().every((t) => t.isDisposed)).toBe(true);
  });

  it('an exception inside a scope across an await closes it; the flow beside it carries on', async () => {
    const before = live();
    let thrown: tg.Tensor | undefined;
    const failing = async () => {
      using _s = tg.scope();
      thrown = tg.rand([2]);
      await turn();
      throw new Error('boom');
    };
    const other = async () => {
      using s = tg.scope();
      const x = tg.rand([2]);
      await turn();
      await turn();
      expect(s.tracks(x)).toBe(true);
      return x.sum().itemSync() >= 0;
    };
    const [f, o] = await Promise.allSettled([failing(), other()]);
    expect(f).toMatchObject({ status: 'rejected', reason: { message: 'boom' } });
    expect(o).toEqual({ status: 'fulfilled', value: true });
    expect(thrown!.isDisposed).toBe(true);
    expect(live()).toBe(before);
    expect(await noScopeHolds()).toBe(true);
  });

  it('a scope closed out of order closes all the same, throws, and leaves no scope open', async () => {
    const before = live();
    const outer = tg.scope();
    const a = tg.rand([2]);
    const inner = tg.scope();
    const b = tg.rand([2]);
    expect(() => outer[Symbol.dispose]()).toThrow(/closed while a scope opened after it in the same flow is still open; it closed all the same/);
    expect(a.isDisposed).toBe(true);
    const c = tg.rand([2]);
    expect(inner.tracks(c)).toBe(true); // the inner scope is still the innermost
    inner[Symbol.dispose]();
    expect(b.isDisposed && c.isDisposed).toBe(true);
    expect(live()).toBe(before);
    expect(await noScopeHolds()).toBe(true);
  });

  it('withScope rejects with what fn throws, after disposing what fn made', async () => {
    const before = live();
    await expect(
      tg.withScope(async () => {
        tg.rand([3]);
        await turn();
        throw new tg.ValueError('bad');
      }),
    ).rejects.toThrow('bad');
    expect(live()).toBe(before);
  });
});

// Child processes: each case needs a fresh process (no AsyncLocalStorage, or an exit code to check).
const pkg = fileURLToPath(new URL('..', import.meta.url));
function runNode(args: string[]) {
  return spawnSync(process.execPath, ['--conditions=@tapegrad/source', '--import', 'tsx', ...args], { cwd: pkg, encoding: 'utf8', timeout: 30_000 });
}
const runScript = (script: string) => runNode(['--input-type=module', '-e', `import * as tg from 'tapegrad';\n${script}`]);

describe('tidy(async fn)', () => {
  it('throws its error, and the body that goes on after its await does not end the process with an unhandled rejection', () => {
    const r = runScript(`
      let message;
      try {
        tg.tidy(async () => { const x = tg.rand([3]); await null; x.sum(); });
      } catch (e) { message = e.message; }
      await new Promise((r) => setTimeout(r, 20)); // the body has resumed and thrown by now
      console.log(message);
      console.log('still running, live tensors:', tg.memory().tensors);`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      'tidy: fn returned a Promise; tidy cannot span an await, use `await withScope(async () => ...)` instead\nstill running, live tensors: 0\n',
    );
  });
  it('the tensors its body makes after the throw belong to the scope around the tidy', async () => {
    const before = live();
    let late: tg.Tensor | undefined;
    let heldByOuter = false;
    await tg.withScope(async () => {
      const outer = tg.scope();
      expect(() => tg.tidy(async () => {
        await turn();
        late = tg.rand([2]);
        heldByOuter = outer.tracks(late);
      })).toThrow(/tidy cannot span an await/);
      await turn();
      await turn();
      outer[Symbol.dispose]();
    });
    expect(heldByOuter).toBe(true);
    expect(late!.isDisposed).toBe(true);
    expect(live()).toBe(before);
  });
});

describe('scopes without AsyncLocalStorage (browsers): one chain for the program', () => {
  it('sequential async scopes work; interleaved ones fail with a clear error and leave no scope open', () => {
    const r = runNode(['test/fixtures/scopes-without-als.ts']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        'sequential 0',
        'rejected: TapegradError: scope: a scope closed while a scope opened after it in the same flow is still open',
        'fulfilled',
        'after 0',
        'later true false 2',
        'end 1',
        '',
      ].join('\n'),
    );
  });
});
