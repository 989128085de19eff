// The API reference (`pnpm run docs`, TypeDoc over every @tapegrad/* package) must build without
// warnings: every public export documented, no broken links. Checked here so that CI, which runs
// the tests, catches an undocumented export when it lands, not when someone next builds the docs.
// One conversion (a few seconds) serves every check below.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Application, LogLevel, ReflectionKind, type DeclarationReflection, type Logger, type ProjectReflection } from 'typedoc';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as {
  entryPoints: string[];
  requiredToBeDocumented: string[];
  packagesRequiringDocumentation: string[];
  validation: Record<string, boolean>;
};
const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.typedoc.json'), 'utf8')) as { include: string[] };

// The scoped packages hold the code; the umbrella `tapegrad` only re-exports them.
const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir, name: (JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as { name: string }).name }))
  .filter(({ name }) => name.startsWith('@tapegrad/'));

let app: Application;
let project: ProjectReflection;
const problems: string[] = [];

beforeAll(async () => {
  app = await Application.bootstrap({ options: join(root, 'typedoc.json'), logLevel: LogLevel.Warn });
  const logger = app.logger as Logger & { log(message: string, level: LogLevel): void };
  const log = logger.log.bind(logger);
  logger.log = (message, level) => {
    if (level >= LogLevel.Warn) problems.push(message);
    else log(message, level);
  };
  const converted = await app.convert();
  expect(converted, problems.join('\n')).toBeDefined();
  project = converted!;
}, 120_000);

function validate(): string[] {
  problems.length = 0;
  app.validate(project);
  return problems.slice();
}

describe('the API reference', () => {
  it('covers every @tapegrad/* package and requires each to document its exports', () => {
    expect(packages.map((p) => p.name)).toEqual(expect.arrayContaining(['@tapegrad/tensor', '@tapegrad/nn', '@tapegrad/data']));
    for (const { dir, name } of packages) {
      expect(config.entryPoints, name).toContain(`packages/${dir}/src/index.ts`);
      expect(config.packagesRequiringDocumentation, name).toContain(name);
      expect(tsconfig.include, name).toContain(`packages/${dir}/src`);
    }
    expect(config.validation.notDocumented).toBe(true);
    for (const kind of ['Namespace', 'Enum', 'Variable', 'Function', 'Class', 'Interface', 'TypeAlias']) {
      expect(config.requiredToBeDocumented).toContain(kind);
    }
  });

  it('builds without warnings', () => {
    expect(validate()).toEqual([]);
  });

  it('lists each package under its name, with a summary and its exports', () => {
    for (const { name } of packages) {
      const module = project.getChildByName(name) as DeclarationReflection | undefined;
      expect(module?.comment?.summary.length, `${name} has a package summary (@packageDocumentation)`).toBeGreaterThan(0);
      expect(module!.children!.length, name).toBeGreaterThan(5);
    }
    for (const ns of ['functional', 'init', 'optim']) {
      expect(project.getChildByName(['@tapegrad/nn', ns])?.kind).toBe(ReflectionKind.Namespace);
    }
  });

  // The validation must really look at nn and data: strip one export's docs in each and it warns.
  it.each([
    ['@tapegrad/nn', ['functional', 'crossEntropy']],
    ['@tapegrad/nn', ['optim', 'SGD']],
    ['@tapegrad/data', ['loadMnist']],
  ])('warns when %s %j loses its docs', (module, path) => {
    const reflection = project.getChildByName([module, ...path]) as DeclarationReflection;
    expect(reflection, path.join('.')).toBeDefined();
    const holders = [reflection, ...(reflection.signatures ?? [])];
    const saved = holders.map((r) => r.comment);
    for (const r of holders) r.comment = undefined;
    try {
      const warnings = validate();
      expect(warnings.join('\n')).toContain(path.at(-1));
      expect(warnings.join('\n')).toContain('does not have any documentation');
    } finally {
      holders.forEach((r, i) => (r.comment = saved[i]));
    }
  });
});
