import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseOptions, UsageError } from '../src/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--conditions=@tapegrad/source', '--import', 'tsx', 'src/main.ts', ...args], { cwd: root, encoding: 'utf8' });

describe('the mnist command line', () => {
  it('--help prints the options and exits 0', () => {
    const r = cli('--help');
    expect(r.status).toBe(0);
    for (const flag of ['--model', '--epochs', '--batch-size', '--lr', '--optimizer', '--device', '--seed', '--out', '--eval', '--compile', '--amp', '--help']) expect(r.stdout).toContain(flag);
  });
  it('a bad flag is a clear error with exit code 2', () => {
    const r = cli('--model', 'resnet');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--model must be one of mlp, cnn; got 'resnet'");
  });
  it('parses defaults and every flag', () => {
    expect(parseOptions([])).toMatchObject({ model: 'mlp', epochs: 3, batchSize: 64, lr: 0.002, optimizer: 'adam', device: 'cpu', seed: 0, out: 'out', compile: false });
    // TAPEGRAD_DEVICE=webgpu pnpm mnist: main passes tapegrad's default device
    expect(parseOptions([], 'webgpu').device).toBe('webgpu');
    expect(parseOptions(['--device', 'cpu'], 'webgpu').device).toBe('cpu');
    expect(parseOptions(['--compile']).compile).toBe(true);
    expect(parseOptions([]).amp).toBe(false);
    expect(parseOptions(['--amp']).amp).toBe(true);
    expect(parseOptions(['--optimizer', 'sgd']).lr).toBe(0.1);
    expect(parseOptions(['--model=cnn', '--epochs', '2', '--batch-size', '128', '--lr', '1e-3', '--device', 'webgpu', '--seed', '7', '--out', 'x', '--eval', 'm.safetensors']))
      .toMatchObject({ model: 'cnn', epochs: 2, batchSize: 128, lr: 0.001, device: 'webgpu', seed: 7, out: 'x', eval: 'm.safetensors' });
  });
  it('rejects bad values and unknown flags', () => {
    const bad: [string[], RegExp][] = [
      [['--epochs', '1.5'], /--epochs must be an integer >= 1; got '1.5'/],
      [['--batch-size', '0'], /--batch-size must be an integer >= 1/],
      [['--lr=-1'], /--lr must be a positive number; got '-1'/],
      [['--lr', 'fast'], /--lr must be a positive number/],
      [['--optimizer', 'lbfgs'], /--optimizer must be one of sgd, adam/],
      [['--device', 'tpu'], /--device must be one of cpu, webgpu/],
      [['--seed=-3'], /--seed must be an integer >= 0/],
      [['--frobnicate'], /Unknown option '--frobnicate'/],
      [['extra'], /Unexpected argument 'extra'/],
      [['--epochs'], /--epochs/],
    ];
    for (const [args, msg] of bad) expect(() => parseOptions(args), args.join(' ')).toThrow(msg);
    expect(() => parseOptions(['--epochs', 'x'])).toThrow(UsageError);
  });
});
