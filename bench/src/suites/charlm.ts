import { manualSeed, randint } from 'tapegrad';
import { cpuKernelInfo } from '@tapegrad/backend-cpu';
import { countParameters, makeModel, type ModelConfig } from '../../../examples/charlm/src/models.js';
import { makeOptimizer, makeStep } from '../../../examples/charlm/src/train.js';
import { defineSuite, speedup, type Cell } from '../harness.js';

// examples/charlm's training step at its default sizes (issue 16): a batch of 32 windows of 64
// characters over the Brown corpus's 85-character vocabulary; cross-entropy, backward, gradient
// clipping to norm 1, AdamW (weight decay on the matrices). The models are the example's own
// modules; PyTorch runs the same architecture, written in torch 1.13 (which has no
// scaled_dot_product_attention: the causal attention is spelled out). Tokens per second count the
// characters predicted: 32 · 64 per step. The batch is random characters (the time does not
// depend on them); the loss is read back every step in both frameworks.
const [V, B, T] = [85, 32, 64];
const MODELS: { name: string; config: ModelConfig }[] = [
  { name: 'LSTM, 1 layer of 128', config: { model: 'lstm', vocabSize: V, context: T, dim: 128, layers: 1, heads: 4 } },
  { name: 'transformer, 2 blocks of 64, 4 heads', config: { model: 'transformer', vocabSize: V, context: T, dim: 64, layers: 2, heads: 4 } },
];

export default defineSuite({
  name: 'charlm',
  async run(ctx) {
    const opts = { warmup: ctx.quick ? 2 : 10, reps: ctx.quick ? 3 : 15, minMs: 0 };
    const torch = ctx.torch<number[]>(`
import math
import torch.nn as nn
import torch.nn.functional as F
torch.manual_seed(0)
V, B, T = ${V}, ${B}, ${T}

class CharLSTM(nn.Module):
    def __init__(self, dim, layers):
        super().__init__()
        self.embed, self.lstm, self.head = nn.Embedding(V, dim), nn.LSTM(dim, dim, layers, batch_first=True), nn.Linear(dim, V)
    def forward(self, ids):
        return self.head(self.lstm(self.embed(ids))[0])

class CausalSelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.register_buffer('mask', torch.ones(T, T, dtype=torch.bool).triu(1))
    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        att = (q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)).masked_fill(self.mask[:t, :t], float('-inf')).softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, d))

class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1, self.attn, self.norm2 = nn.LayerNorm(dim), CausalSelfAttention(dim, heads), nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))

class CharTransformer(nn.Module):
    def __init__(self, dim, layers, heads):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(V, dim), nn.Embedding(T, dim)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(layers)])
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, V)
    def forward(self, ids):
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        for block in self.blocks: x = block(x)
        return self.head(self.norm(x))

def step_ms(model):
    params = list(model.parameters())
    opt = torch.optim.AdamW([{'params': [p for p in params if p.dim() >= 2], 'weight_decay': 0.01},
                             {'params': [p for p in params if p.dim() < 2], 'weight_decay': 0}], lr=3e-3, betas=(0.9, 0.99))
    batch = torch.randint(0, V, (B, T + 1))
    def step():
        loss = F.cross_entropy(model(batch[:, :T]).reshape(-1, V), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
    return bench(step, warmup=${opts.warmup}, reps=${opts.reps}, min_s=0)

print(json.dumps([step_ms(CharLSTM(128, 1)), step_ms(CharTransformer(64, 2, 4))]))
`);
    const rows: Cell[][] = [];
    for (const [i, { name, config }] of MODELS.entries()) {
      manualSeed(0);
      const model = makeModel(config);
      const parameters = countParameters(model);
      const opt = makeOptimizer(model, 3e-3, 0.01);
      const step = makeStep(model, opt, 1);
      const batch = randint(0, V, [B, T + 1]);
      const ours = (await ctx.time(async () => {
        const loss = step(batch);
        await loss.item();
        loss.dispose();
      }, opts)).median;
      batch.dispose();
      model.dispose();
      const theirs = torch?.[i];
      const perSecond = (ms: number | undefined) => (ms === undefined ? undefined : Math.round((B * T) / (ms / 1000)));
      rows.push([name, parameters, ours, perSecond(ours), theirs, perSecond(theirs), speedup(ours, theirs)]);
    }
    const info = cpuKernelInfo();
    return [{
      title: `examples/charlm's training step, batch ${B} x ${T} characters, float32: ms per step and tokens per second (higher is better)`,
      columns: ['model', 'parameters', 'tapegrad ms/step', 'tapegrad tokens/s', 'PyTorch ms/step', 'PyTorch tokens/s', 'tapegrad speed-up'],
      rows,
      notes: [
        `A step: forward, cross-entropy, backward, clipGradNorm, AdamW, the loss read back. Medians of ${opts.reps} steps after ${opts.warmup} untimed ones.`,
        `tapegrad: WebAssembly ${info.simd}, ${info.threads} thread(s); PyTorch: ${torch ? 'torch CPU, default threads' : 'not available'}. Above 1x tapegrad is faster.`,
      ],
    }];
  },
});
