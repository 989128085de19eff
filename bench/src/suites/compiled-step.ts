import { cpuBackend } from '@tapegrad/backend-cpu';
import { compile, initWebGPU, manualSeed, nn, optim, randint, randn, tidy, type Tensor } from 'tapegrad';
import { dawnAsNavigatorGpu, defineSuite, tfjsWebgpu, fmt, median, roundRatios, type Cell } from '../harness.js';
import { makeModel } from './mnist-epoch.js';

// The compiled training step on both devices, beside the peers that compile or run on WebGPU
// too (issue 19): for the MNIST MLP and CNN (batch 64, SGD with momentum 0.9, as mnist-epoch),
// the kernel calls (CPU) and dispatches and submits (WebGPU) of one step, eager and compiled;
// then steps per second of tapegrad eager and compiled, TF.js's webgpu backend and jax-js's
// `jit` (its wasm backend on the CPU rows, its webgpu one on the WebGPU rows). Every step ends
// by reading the loss (what a training loop that logs does, and what makes a GPU step finish).
// The contenders take turns in rounds, each timed for a while per round; ratios are per round,
// their median quoted, so that load from other processes falls on all of them alike.
const B = 64, LR = 0.01, MOMENTUM = 0.9;
type Kind = 'mlp' | 'cnn';
type Step = () => Promise<unknown>;

function tapegradStep(kind: Kind, device: 'cpu' | 'webgpu') {
  manualSeed(0);
  const model = makeModel(kind).to(device);
  const opt = new optim.SGD(model.parameters(), { lr: LR, momentum: MOMENTUM });
  manualSeed(1);
  const x = randn(kind === 'mlp' ? [B, 784] : [B, 1, 28, 28]).to(device), y = randint(0, 10, [B]).to(device);
  const step = (x: Tensor, y: Tensor) => {
    const loss = nn.functional.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss;
  };
  const compiled = compile(step);
  const read = async (l: Tensor) => {
    await l.data();
    l.dispose();
  };
  const eagerCall = () => tidy(() => step(x, y)), compiledCall = () => compiled(x, y);
  return {
    eager: () => read(eagerCall()),
    compiled: () => read(compiledCall()),
    eagerCall,
    compiledCall,
    read,
    stats: () => compiled.stats(),
    dispose: () => {
      opt.zeroGrad();
      opt.dispose();
      compiled.reset();
      for (const t of [...model.parameters(), x, y]) t.dispose();
    },
  };
}

/** TF.js: the same models (NHWC, as TF.js convolves), tf.train.momentum. */
function tfjsStep(tf: typeof import('@tensorflow/tfjs-core'), kind: Kind): { step: Step; dispose: () => void } {
  const init = (shape: number[], fanIn: number) => tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)));
  const vars = kind === 'mlp'
    ? [init([784, 128], 784), init([128], 784), init([128, 10], 128), init([10], 128)]
    : [init([3, 3, 1, 8], 9), init([8], 9), init([3, 3, 8, 16], 72), init([16], 72), init([16 * 49, 10], 784), init([10], 784)];
  const x = tf.randomNormal(kind === 'mlp' ? [B, 784] : [B, 28, 28, 1]);
  const y = tf.oneHot(tf.randomUniform([B], 0, 10, 'int32'), 10).asType('float32');
  const opt = tf.train.momentum(LR, MOMENTUM);
  const forward = () => {
    if (kind === 'mlp') return tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, vars[0]!), vars[1]!)), vars[2]!), vars[3]!);
    let h = tf.maxPool(tf.relu(tf.add(tf.conv2d(x as never, vars[0]! as never, 1, 'same'), vars[1]!)) as never, 2, 2, 'valid');
    h = tf.maxPool(tf.relu(tf.add(tf.conv2d(h, vars[2]! as never, 1, 'same'), vars[3]!)) as never, 2, 2, 'valid');
    return tf.add(tf.matMul(tf.reshape(h, [B, 16 * 49]), vars[4]!), vars[5]!);
  };
  return {
    step: async () => {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward()) as never, true, vars as never)!;
      await loss.data();
      loss.dispose();
    },
    dispose: () => {
      tf.dispose([x, y, ...vars]);
      opt.dispose();
    },
  };
}

/** jax-js: the same models under one `jit` of value-and-grad and the momentum update. */
async function jaxStep(kind: Kind, device: 'wasm' | 'webgpu'): Promise<{ step: Step; dispose: () => void }> {
  const { defaultDevice, jit, lax, nn: jnn, numpy: np, random, tree, valueAndGrad } = await import('@jax-js/jax');
  type Arr = InstanceType<typeof np.Array>;
  defaultDevice(device);
  const keys = [1, 2, 3, 4].map((k) => random.key(k));
  const normal = (k: number, shape: number[], scale: number) => random.normal(keys[k]!, shape).mul(scale);
  let params: Record<string, Arr> = kind === 'mlp'
    ? { w1: normal(0, [784, 128], 0.05), b1: np.zeros([128]), w2: normal(1, [128, 10], 0.09), b2: np.zeros([10]) }
    : { c1: normal(0, [8, 1, 3, 3], 0.3), b1: np.zeros([1, 8, 1, 1]), c2: normal(1, [16, 8, 3, 3], 0.1), b2: np.zeros([1, 16, 1, 1]), w: normal(2, [16 * 49, 10], 0.03), b: np.zeros([10]) };
  let velocity = tree.map((p: Arr) => np.zerosLike(p.ref), params) as Record<string, Arr>;
  const x = normal(3, kind === 'mlp' ? [B, 784] : [B, 1, 28, 28], 1);
  const y = jnn.oneHot(np.array(Array.from({ length: B }, (_, i) => (i * 7) % 10), { dtype: np.int32 }), 10);
  const pool = (a: Arr) => lax.reduceWindow(a, (w: Arr) => np.max(w), [1, 1, 2, 2], [1, 1, 2, 2]);
  const forward = (p: Record<string, Arr>, x: Arr): Arr => {
    if (kind === 'mlp') return np.matmul(jnn.relu(np.matmul(x, p.w1!).add(p.b1!)), p.w2!).add(p.b2!);
    let h = pool(jnn.relu(lax.conv(x, p.c1!, [1, 1], 'SAME').add(p.b1!)));
    h = pool(jnn.relu(lax.conv(h, p.c2!, [1, 1], 'SAME').add(p.b2!)));
    return np.matmul(h.reshape([B, 16 * 49]), p.w!).add(p.b!);
  };
  const loss = (p: Record<string, Arr>, x: Arr, y: Arr) => jnn.logSoftmax(forward(p, x)).mul(y).sum().mul(-1 / B);
  const update = jit((p: Record<string, Arr>, v: Record<string, Arr>, x: Arr, y: Arr) => {
    const [l, g] = valueAndGrad(loss)(tree.ref(p), x, y);
    const v2 = tree.map((v: Arr, g: Arr) => v.mul(MOMENTUM).add(g), v, g);
    return [l, tree.map((p: Arr, v: Arr) => p.sub(v.mul(LR)), p, tree.ref(v2)), v2];
  });
  return {
    step: async () => {
      const [l, p, v] = update(params, velocity, x.ref, y.ref) as [Arr, Record<string, Arr>, Record<string, Arr>];
      params = p;
      velocity = v;
      await l.data();
    },
    dispose: () => {
      for (const a of [x, y, ...Object.values(params), ...Object.values(velocity)]) a.dispose();
    },
  };
}

/**
 * Milliseconds the CPU spends issuing one WebGPU step (until the call returns, less the time in
 * queue.submit, which on a software adapter can wait for the adapter's work): the median of 10.
 */
let submitMs = 0;
async function encodeMs(call: () => Tensor, read: (l: Tensor) => Promise<void>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now(), s0 = submitMs;
    const l = call();
    samples.push(performance.now() - t0 - (submitMs - s0));
    await read(l);
  }
  return median(samples);
}

/** Calls of the CPU backend's run() during fn. */
async function kernelCalls(fn: Step): Promise<number> {
  const run = cpuBackend.run;
  let n = 0;
  cpuBackend.run = (...a) => (n++, run(...a));
  try {
    await fn();
  } finally {
    cpuBackend.run = run;
  }
  return n;
}

/** Milliseconds per step of each contender, per round: each runs for at least `ms` a round, taking turns. */
async function race(contenders: Record<string, Step>, rounds: number, ms: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  const names = Object.keys(contenders);
  for (const n of names) {
    out[n] = [];
    for (let i = 0; i < 3; i++) await contenders[n]!(); // warm-up: shaders, traces, V8
  }
  for (let r = 0; r < rounds; r++) {
    // rotate who goes first
    for (const n of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
      let steps = 0;
      const t0 = performance.now();
      while (steps < 3 || performance.now() - t0 < ms) {
        await contenders[n]!();
        steps++;
      }
      out[n]!.push((performance.now() - t0) / steps);
    }
  }
  return out;
}

export default defineSuite({
  name: 'compiled-step',
  async run(ctx) {
    const rounds = ctx.quick ? 1 : 3, ms = ctx.quick ? 300 : 1500;
    // one GPU object for all three: tapegrad's backend and, as navigator.gpu, TF.js's and jax-js's
    const gpu = await dawnAsNavigatorGpu();
    let gpuWhy: string | undefined, adapter = '';
    let counters: { dispatches: number; submits: number } | undefined;
    try {
      const b = await initWebGPU({ gpu });
      adapter = b.adapterName;
      counters = b.counters;
      const queue = b.device.queue, submit = queue.submit.bind(queue);
      queue.submit = (buffers) => {
        const t = performance.now();
        submit(buffers);
        submitMs += performance.now() - t;
      };
    } catch (e) {
      gpuWhy = (e as Error).message.split('\n')[0];
    }

    const { tf, tfWhy } = await tfjsWebgpu(ctx);
    const { init } = await import('@jax-js/jax');
    const jaxDevices = await init();

    const calls: Cell[][] = [], speed: Cell[][] = [];
    for (const kind of ['mlp', 'cnn'] as const) {
      // counts
      const cpu = tapegradStep(kind, 'cpu');
      for (let i = 0; i < 3; i++) await cpu.eager(), await cpu.compiled();
      const row: Cell[] = [kind, await kernelCalls(cpu.eager), await kernelCalls(cpu.compiled)];
      row.push(`${fmt((row[1] as number) / (row[2] as number), 2)}x`);
      if (counters) {
        const g = tapegradStep(kind, 'webgpu');
        for (let i = 0; i < 4; i++) await g.eager(), await g.compiled();
        const count = async (fn: Step) => {
          const d = counters.dispatches, s = counters.submits;
          await fn();
          return [counters.dispatches - d, counters.submits - s];
        };
        const [de, se] = await count(g.eager), [dc, sc] = await count(g.compiled);
        const graph = g.stats().graphs[0]!;
        const [ee, ec] = [await encodeMs(g.eagerCall, g.read), await encodeMs(g.compiledCall, g.read)];
        row.push(de, dc, `${fmt(de! / dc!, 2)}x`, `${se} / ${sc}`, ee, ec, fmt(graph.peakBytes / 1024, 3));
        g.dispose();
      } else row.push(undefined, undefined, undefined, undefined, undefined, undefined, undefined);
      calls.push(row);

      // steps per second on the CPU: tapegrad eager and compiled, jax-js jit on wasm
      const jaxCpu = jaxDevices.includes('wasm') ? await jaxStep(kind, 'wasm') : undefined;
      const c = await race({ eager: cpu.eager, compiled: cpu.compiled, ...(jaxCpu ? { jax: jaxCpu.step } : {}) }, rounds, ms);
      const ratio = (a: string, b: string, r: Record<string, number[]>) => (r[a] && r[b] ? roundRatios(r[a]!.map((t, i) => t / r[b]![i]!)) : '—');
      speed.push([kind, 'CPU', 1000 / median(c.eager!), 1000 / median(c.compiled!), ratio('eager', 'compiled', c), '—', jaxCpu ? 1000 / median(c.jax!) : undefined, ratio('jax', 'compiled', c)]);
      jaxCpu?.dispose();
      cpu.dispose();

      if (!counters) continue;
      const g = tapegradStep(kind, 'webgpu');
      const tfg = tfWhy ? undefined : tfjsStep(tf, kind);
      const jaxGpu = jaxDevices.includes('webgpu') ? await jaxStep(kind, 'webgpu') : undefined;
      const w = await race({ eager: g.eager, compiled: g.compiled, ...(tfg ? { tfjs: tfg.step } : {}), ...(jaxGpu ? { jax: jaxGpu.step } : {}) }, rounds, ms);
      speed.push([kind, 'WebGPU', 1000 / median(w.eager!), 1000 / median(w.compiled!), ratio('eager', 'compiled', w), tfg ? `${fmt(1000 / median(w.tfjs!))} (${ratio('tfjs', 'compiled', w)})` : '—', jaxGpu ? 1000 / median(w.jax!) : undefined, ratio('jax', 'compiled', w)]);
      tfg?.dispose();
      jaxGpu?.dispose();
      g.dispose();
    }
    await tf.setBackend('cpu');

    const notes = [
      `WebGPU: ${gpuWhy ? `none (${gpuWhy})` : adapter}; on a software adapter (Mesa's llvmpipe) the GPU's work is the CPU's too, so these are not GPU figures.`,
      tfWhy ?? 'TF.js 4.22 webgpu runs in Node on the `webgpu` package\'s navigator.gpu (the same GPU object as tapegrad\'s and jax-js\'s).',
      `jax-js 0.1.25 devices found: ${jaxDevices.join(', ')}.`,
    ];
    return [
      {
        title: 'Kernel calls (CPU) and dispatches (WebGPU) per training step, eager and compiled (batch 64, SGD momentum)',
        columns: ['model', 'CPU eager kernel calls', 'CPU compiled', 'fewer', 'WebGPU eager dispatches', 'WebGPU compiled', 'fewer', 'submits eager / compiled', 'WebGPU encode ms eager', 'compiled', 'compiled peak KiB'],
        rows: calls,
        notes: [
          "Counted at the CPU backend's run() and at the WebGPU backend's dispatch counter, for one step after warm-up; the step reads its loss (one submit of its own on WebGPU; eager submits mid-step too, where the optimizer checks the device's errors). Encode ms: the CPU's time to issue a WebGPU step (until the call returns, less the time in queue.submit), median of 10. A compiled step runs the kernels the eager one ran (until fusion passes merge them), the optimizer's update of every parameter as one multi-tensor kernel in both; on WebGPU it is one command buffer, its bind groups and metadata built once.",
          ...notes,
        ],
      },
      {
        title: 'Training steps per second, tapegrad eager and compiled beside TF.js webgpu and jax-js jit (each step reads its loss)',
        columns: ['model', 'device', 'tapegrad eager', 'tapegrad compiled', 'compiled / eager', 'TF.js webgpu (compiled / it)', 'jax-js jit (wasm on CPU rows, webgpu on WebGPU rows)', 'compiled / jax-js'],
        rows: speed,
        notes: [`${rounds} round(s) taking turns, each contender stepping for at least ${ms} ms a round after 3 warm-up steps; ratios: the median of per-round ratios (range in brackets), above 1 where tapegrad compiled is faster.`, ...notes],
      },
    ];
  },
});
