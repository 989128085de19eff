import { full, initWebGPU, manualSeed, nn, optim, randint, randn, tidy, type Tensor } from 'tapegrad';
import { defineSuite, fmt, median, type Cell } from '../harness.js';

// What one WebGPU dispatch costs the CPU, with the backend's bind group cache and without it
// (`bindGroupCapacity = 0` creates a bind group per dispatch, as the backend did before the
// cache), in alternating rounds of one run. "encode" is the time until the ops return, less the
// time in queue.submit: every op's JavaScript, its kernel's program and the encoding. On Mesa's
// llvmpipe a submit can wait for the adapter, whose work is the CPU's too, so the encode
// figures measure the dispatch path and the step times what a step costs there.
const CHAIN = 1000;

const range = (s: number[]) => `${fmt(median(s))} (${fmt(Math.min(...s))}–${fmt(Math.max(...s))})`;

export default defineSuite({
  name: 'webgpu-dispatch',
  async run(ctx) {
    let backend: Awaited<ReturnType<typeof initWebGPU>>;
    try {
      backend = await initWebGPU();
    } catch (e) {
      return [{ title: 'WebGPU dispatch cost', columns: ['note'], rows: [[`skipped: ${(e as Error).message.split('\n')[0]}`]] }];
    }
    const capacity = backend.bindGroupCapacity;
    // time spent in queue.submit, which on llvmpipe can wait for the adapter: not the dispatch path
    const queue = backend.device.queue;
    const submit = queue.submit.bind(queue);
    let submitMs = 0;
    queue.submit = (buffers) => {
      const t = performance.now();
      submit(buffers);
      submitMs += performance.now() - t;
    };
    const rounds = ctx.quick ? 3 : 9;
    const device = 'webgpu';

    /** Per mode, per round: encode µs per dispatch, ms per call with the read, dispatches and bind group hits per call. */
    type Sample = { encodeUs: number; totalMs: number; dispatches: number; hits: number };
    async function measure(fn: () => Tensor, reps: number): Promise<Record<'off' | 'on', Sample[]>> {
      const out: Record<'off' | 'on', Sample[]> = { off: [], on: [] };
      for (let round = -1; round < rounds; round++) {
        for (const mode of ['off', 'on'] as const) {
          backend.bindGroupCapacity = mode === 'on' ? capacity : 0;
          const d0 = backend.counters.dispatches, h0 = backend.counters.bindGroupHits;
          let encode = 0;
          const t0 = performance.now();
          for (let r = 0; r < reps; r++) {
            const e0 = performance.now(), s0 = submitMs;
            const y = fn();
            encode += performance.now() - e0 - (submitMs - s0);
            const first = y.narrow(0, 0, 1);
            await first.data();
            first.dispose();
            y.dispose();
          }
          const total = performance.now() - t0;
          const dispatches = backend.counters.dispatches - d0;
          // round -1 warms up both modes (pipelines compile, the pool fills, the cache fills)
          if (round >= 0) out[mode].push({ encodeUs: (1000 * encode) / dispatches, totalMs: total / reps, dispatches: dispatches / reps, hits: (backend.counters.bindGroupHits - h0) / reps });
        }
      }
      backend.bindGroupCapacity = capacity;
      return out;
    }

    const rows: Cell[][] = [];
    const add = (what: string, s: Record<'off' | 'on', Sample[]>, unit: 'encode' | 'step') => {
      const ratio = s.off.map((o, i) => o.encodeUs / s.on[i]!.encodeUs);
      rows.push([
        what,
        fmt(median(s.on.map((x) => x.dispatches))),
        `${fmt(median(s.on.map((x) => x.hits)))}`,
        range(s.off.map((x) => x.encodeUs)),
        range(s.on.map((x) => x.encodeUs)),
        `${fmt(median(ratio), 2)}x`,
        unit === 'step' ? range(s.off.map((x) => x.totalMs)) : '—',
        unit === 'step' ? range(s.on.map((x) => x.totalMs)) : '—',
      ]);
    };

    // a chain of small elementwise ops: the dispatch path and nothing else
    const x = randn([64, 16], { device });
    const a = full([64, 16], 1.0001, { device }), b = full([64, 16], 1e-4, { device });
    const chain = (scalars: boolean) => () =>
      tidy(() => {
        let y = x;
        for (let i = 0; i < CHAIN / 2; i++) y = scalars ? y.mul(1.0001).add(1e-4) : y.mul(a).add(b);
        return y;
      });
    add(`chain of ${CHAIN} elementwise ops (tensor operands)`, await measure(chain(false), 1), 'encode');
    add(`chain of ${CHAIN} elementwise ops (number operands)`, await measure(chain(true), 1), 'encode');
    for (const t of [x, a, b]) t.dispose();

    // MNIST MLP 784-128-10 training step, batch 64, Adam
    manualSeed(0);
    const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10));
    model.to(device);
    const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
    const input = randn([64, 1, 28, 28], { device });
    const target = randint(0, 10, [64], { device });
    const step = () => {
      tidy(() => {
        const loss = nn.functional.crossEntropy(model.forward(input), target);
        opt.zeroGrad();
        loss.backward();
        opt.step();
      });
      return model.parameters()[0]!;
    };
    // a view of the first parameter: disposing it leaves the parameter
    add('MNIST MLP training step (batch 64, Adam)', await measure(() => step().narrow(0, 0, 1), ctx.quick ? 2 : 5), 'step');
    model.dispose();
    input.dispose();
    target.dispose();
    queue.submit = submit; // the suites after this one time the queue as it is

    return [{
      title: 'WebGPU: CPU cost per dispatch, bind groups created per dispatch (off) or cached (on)',
      columns: ['workload', 'dispatches', 'cache hits', 'encode µs/dispatch, off', 'encode µs/dispatch, on', 'off / on', 'ms per step, off', 'ms per step, on'],
      rows,
      notes: [
        `adapter: ${backend.adapterName}. Medians over ${rounds} alternating rounds (range in brackets); "off / on" is the median of the per-round ratios.`,
        'encode: from the first op of the chain or step to the last one returning, less the time in queue.submit (JavaScript, kernel programs, encoding); ms per step adds the submits and the read, which wait for the adapter to run the kernels.',
      ],
    }];
  },
});
