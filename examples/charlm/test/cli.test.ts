import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseOptions, UsageError } from '../src/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--conditions=@tapegrad/source', '--import', 'tsx', 'src/main.ts', ...args], { cwd: root, encoding: 'utf8' });

describe('the charlm command line', () => {
  it('--help prints the options and exits 0', () => {
    const r = cli('--help');
    expect(r.status).toBe(0);
    for (const flag of ['--model', '--steps', '--batch-size', '--context', '--lr', '--warmup', '--clip', '--device', '--seed', '--out', '--sample', '--temperature', '--top-k']) expect(r.stdout).toContain(flag);
  });
  it('a bad flag is a clear error with exit code 2', () => {
    const r = cli('--model', 'rnn');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--model must be one of lstm, transformer; got 'rnn'");
  });
  it('parses defaults, per-model defaults and every flag', () => {
    expect(parseOptions([])).toMatchObject({ model: 'lstm', steps: 1000, batchSize: 32, context: 64, dim: 128, layers: 1, lr: 3e-3, warmup: 50, clip: 1, device: 'cpu', seed: 0, out: 'out', temperature: 0.8 });
    expect(parseOptions(['--model', 'transformer'])).toMatchObject({ dim: 64, layers: 2, heads: 4 });
    expect(parseOptions([], 'webgpu').device).toBe('webgpu');
    expect(parseOptions(['--device', 'cpu'], 'webgpu').device).toBe('cpu');
    expect(parseOptions([
      '--model=transformer', '--steps', '10', '--batch-size', '8', '--context', '16', '--dim', '48', '--layers', '3', '--heads', '6', '--lr', '1e-3',
      '--warmup', '0', '--weight-decay', '0.1', '--clip', '0.5', '--seed', '7', '--out', 'x', '--eval-every', '5', '--train-chars', '1000',
      '--sample', 'm.safetensors', '--prompt', 'Once', '--length', '20', '--temperature', '1.5', '--top-k', '3',
    ])).toEqual({
      model: 'transformer', steps: 10, batchSize: 8, context: 16, dim: 48, layers: 3, heads: 6, lr: 1e-3, warmup: 0, weightDecay: 0.1, clip: 0.5,
      device: 'cpu', seed: 7, out: 'x', evalEvery: 5, trainChars: 1000, sample: 'm.safetensors', prompt: 'Once', length: 20, temperature: 1.5, topK: 3, help: false,
    });
  });
  it('rejects bad values and unknown flags', () => {
    const bad: [string[], RegExp][] = [
      [['--steps', '1.5'], /--steps must be an integer >= 1; got '1.5'/],
      [['--context', '1'], /--context must be an integer >= 2/],
      [['--lr=-1'], /--lr must be a positive number; got '-1'/],
      [['--temperature', '0'], /--temperature must be a positive number; got '0'/],
      [['--top-k', '0'], /--top-k must be an integer >= 1/],
      [['--weight-decay', 'lots'], /--weight-decay must be a number >= 0/],
      [['--model', 'transformer', '--dim', '30', '--heads', '4'], /--dim \(30\) must be a multiple of --heads \(4\)/],
      [['--device', 'tpu'], /--device must be one of cpu, webgpu/],
      [['--prompt', ''], /--prompt must hold at least one character/],
      [['--frobnicate'], /Unknown option '--frobnicate'/],
      [['extra'], /Unexpected argument 'extra'/],
    ];
    for (const [args, msg] of bad) expect(() => parseOptions(args), args.join(' ')).toThrow(msg);
    expect(() => parseOptions(['--steps', 'x'])).toThrow(UsageError);
  });
  it('trains, writes the checkpoint, plot and metrics, and --sample reloads the checkpoint', () => {
    const out = mkdtempSync(join(tmpdir(), 'tapegrad-charlm-cli-'));
    try {
      const r = cli('--steps', '12', '--train-chars', '20000', '--dim', '32', '--context', '16', '--batch-size', '8', '--warmup', '2', '--eval-every', '6', '--length', '30', '--out', out);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/12 steps of 8 x 16 characters on cpu/);
      expect(r.stdout).toMatch(/step 6: validation loss \d\.\d{3}/);
      expect(r.stdout).toMatch(/unigram baseline: +\d\.\d{3} nats\/char/);
      const sampled = /sample \(temperature 0\.8, seed 0\):\nThe (.*)$/s.exec(r.stdout);
      expect(sampled?.[1]).toHaveLength(30 + 1); // and the newline that ends the output
      for (const f of ['model.safetensors', 'loss.svg', 'metrics.json']) expect(existsSync(join(out, f)), f).toBe(true);
      expect(readFileSync(join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg[^]*validation loss[^]*unigram baseline[^]*<\/svg>\n$/);
      const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
      expect(metrics.val.map(([s]: [number, number]) => s)).toEqual([6, 12]);

      // the same seed samples the same text from the reloaded checkpoint
      const s = cli('--sample', join(out, 'model.safetensors'), '--length', '30');
      expect(s.stderr).toBe('');
      expect(s.status).toBe(0);
      expect(s.stdout).toContain(`lstm, `);
      expect(s.stdout.slice(s.stdout.indexOf('sample ('))).toBe(r.stdout.slice(r.stdout.indexOf('sample (')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
