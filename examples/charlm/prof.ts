import { manualSeed, nn, randn, randint, tidy, arange, type Tensor } from 'tapegrad';
import { CausalSelfAttention, Block } from './src/models.js';
manualSeed(0);
const [B, T, D] = [32, 64, 64];
const time = async (name: string, f: () => void) => {
  for (let i = 0; i < 3; i++) f();
  const ts: number[] = [];
  for (let i = 0; i < 9; i++) { const t0 = performance.now(); f(); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  console.log(name.padEnd(40), ts[4]!.toFixed(1), 'ms');
};
const x = randn([B, T, D]).requiresGrad_();
const attn = new CausalSelfAttention(D, 4);
const block = new Block(D, 4);
const ln = new nn.LayerNorm(D);
const mlp = new nn.Sequential(new nn.Linear(D, 4 * D), new nn.GELU(), new nn.Linear(4 * D, D));
const lin = new nn.Linear(D, 3 * D);
const gelu = new nn.GELU();
const h = randn([B, T, 4 * D]).requiresGrad_();
const q = randn([B, 4, T, 16]).requiresGrad_();
const emb = new nn.Embedding(85, D);
const ids = randint(0, 85, [B, T]);
const head = new nn.Linear(D, 85);
for (const [name, f] of [
  ['attention fwd+bwd', () => attn.forward(x).sum().backward()],
  ['sdpa causal fwd+bwd', () => nn.functional.scaledDotProductAttention(q, q, q, { isCausal: true }).sum().backward()],
  ['qkv linear fwd+bwd', () => lin.forward(x).sum().backward()],
  ['layernorm fwd+bwd', () => ln.forward(x).sum().backward()],
  ['mlp fwd+bwd', () => mlp.forward(x).sum().backward()],
  ['gelu fwd+bwd', () => gelu.forward(h).sum().backward()],
  ['block fwd+bwd', () => block.forward(x).sum().backward()],
  ['embedding fwd+bwd', () => emb.forward(ids).sum().backward()],
  ['pos embedding fwd+bwd', () => emb.forward(arange(0, T)).sum().backward()],
  ['head fwd+bwd', () => head.forward(x).sum().backward()],
] as [string, () => void][]) await time(name, () => tidy(f));
