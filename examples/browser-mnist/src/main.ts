import { cpuKernelInfo, cpuWorkersReady } from '@tapegrad/backend-cpu';
import { initWebGPU, setPoisonMode, type Device } from 'tapegrad';
import { loadMnist } from './data.js';
import { drawingPad } from './draw.js';
import { Plot } from './plot.js';
import { Trainer, type ModelName } from './train.js';

/** What the page shows, kept as plain data (the browser test reads it as `window.demo`). */
export interface DemoState {
  phase: 'loading' | 'ready' | 'training' | 'done' | 'error';
  error?: string;
  env: { crossOriginIsolated: boolean; sharedMemoryAvailable: boolean; cpuThreads: number; workerBlocks: number; webgpu?: string; webgpuError?: string };
  run?: { model: ModelName; device: Device; steps: number; losses: [number, number][]; accuracies: [number, number][]; liveTensors: [number, number][]; seconds: number };
  prediction?: { digit: number; probabilities: number[] };
}
// ?poison: fill freed and reused memory with NaN (what TAPEGRAD_POISON=1 does in Node; the browser test's poison run)
if (new URLSearchParams(location.search).has('poison')) setPoisonMode(true);

const state: DemoState = { phase: 'loading', env: { crossOriginIsolated, sharedMemoryAvailable: false, cpuThreads: 1, workerBlocks: 0 } };
(globalThis as { demo?: DemoState }).demo = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const modelSelect = $<HTMLSelectElement>('model'), deviceSelect = $<HTMLSelectElement>('device'), stepsInput = $<HTMLInputElement>('steps');
const trainButton = $<HTMLButtonElement>('train'), status = $('status'), env = $('env');
const plot = new Plot($<HTMLCanvasElement>('plot'));
let trainer: Trainer | undefined;
let stopping = false;

function showEnv(): void {
  const e = state.env;
  const cpu = `CPU: ${e.cpuThreads} thread${e.cpuThreads > 1 ? 's' : ''} (${e.crossOriginIsolated ? 'the page is cross-origin isolated: Web Workers share the WebAssembly memory' : 'the page is not cross-origin isolated, so there is no SharedArrayBuffer for worker threads'})`;
  env.textContent = `${cpu}. WebGPU: ${e.webgpu ?? `unavailable (${e.webgpuError})`}`;
}

async function main(): Promise<void> {
  const started = loadMnist();
  // start the CPU backend's workers while MNIST loads (one thread without cross-origin isolation)
  state.env.cpuThreads = await cpuWorkersReady();
  state.env.sharedMemoryAvailable = cpuKernelInfo().sharedMemoryAvailable;
  try {
    state.env.webgpu = (await initWebGPU()).adapterName || 'an adapter';
  } catch (e) {
    state.env.webgpuError = (e as Error).message;
    deviceSelect.querySelector<HTMLOptionElement>('option[value=webgpu]')!.disabled = true;
    deviceSelect.value = 'cpu';
  }
  showEnv();
  const { train, test } = await started;
  status.textContent = `${train.n.toLocaleString()} training and ${test.n.toLocaleString()} test images loaded.`;
  trainButton.disabled = false;
  state.phase = 'ready';

  trainButton.addEventListener('click', () => {
    if (state.phase === 'training') {
      stopping = true;
      return;
    }
    void run(modelSelect.value as ModelName, deviceSelect.value as Device, Math.max(1, Number(stepsInput.value) || 1));
  });

  async function run(model: ModelName, device: Device, steps: number): Promise<void> {
    state.phase = 'training';
    stopping = false;
    trainButton.textContent = 'Stop';
    modelSelect.disabled = deviceSelect.disabled = true;
    const r: NonNullable<DemoState['run']> = { model, device, steps, losses: [], accuracies: [], liveTensors: [], seconds: 0 };
    state.run = r;
    plot.reset();
    const t0 = performance.now();
    let loss = '', accuracy = '';
    const show = (step: number) => {
      const rate = (step * 64) / ((performance.now() - t0) / 1000);
      status.textContent = `step ${step}/${steps}${loss}${accuracy} · ${Math.round(rate)} images/s`;
    };
    try {
      trainer?.dispose();
      trainer = undefined;
      trainer = new Trainer(model, device, train, test);
      await trainer.run(
        steps,
        {
          onLoss: (step, value, live) => {
            r.losses.push([step, value]);
            r.liveTensors.push([step, live]);
            plot.addLoss(step, value);
            loss = ` · loss ${value.toFixed(3)}`;
            show(step);
          },
          onAccuracy: (step, a) => {
            r.accuracies.push([step, a]);
            plot.addAccuracy(step, a);
            accuracy = ` · accuracy ${(a * 100).toFixed(1)}%`;
            show(step);
          },
          stopped: () => stopping,
        },
        // on WebGPU each read of the loss waits for the GPU: read it every fifth step
        { lossEvery: device === 'webgpu' ? 5 : 1 },
      );
      r.seconds = (performance.now() - t0) / 1000;
      state.env.workerBlocks = cpuKernelInfo().workerBlocks;
      state.phase = 'done';
    } catch (e) {
      fail(e);
    } finally {
      trainButton.textContent = 'Train';
      modelSelect.disabled = deviceSelect.disabled = false;
    }
  }

  const bars = $('bars'), prediction = $('prediction');
  const pad = drawingPad($<HTMLCanvasElement>('pad'), async (grey) => {
    if (!trainer) {
      prediction.textContent = 'Train a model first.';
      return;
    }
    const p = await trainer.classify(grey);
    const digit = p.indexOf(Math.max(...p));
    state.prediction = { digit, probabilities: p };
    prediction.textContent = `It looks like a ${digit} (${(p[digit]! * 100).toFixed(0)}%).`;
    bars.replaceChildren(...p.flatMap((v, d) => {
      const label = document.createElement('span');
      label.textContent = String(d);
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.max(1, v * 160)}px`;
      return [label, bar];
    }));
  });
  $('clear').addEventListener('click', () => {
    pad.clear();
    bars.replaceChildren();
    prediction.textContent = 'Draw a digit in the black square.';
  });
}

function fail(e: unknown): void {
  state.phase = 'error';
  state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  status.textContent = state.error;
  console.error(e);
}

// whatever goes wrong shows on the page (and ends a test's wait at once)
addEventListener('error', (e) => fail(e.error ?? e.message));
addEventListener('unhandledrejection', (e) => fail(e.reason));
main().catch(fail);
