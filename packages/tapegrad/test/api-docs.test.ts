// The API reference (`pnpm run docs`, TypeDoc over the core packages) must build without
// warnings: every public export documented, no broken links. Checked here so that CI, which runs
// the tests, catches an undocumented export when it lands, not when someone next builds the docs.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Application, LogLevel, type Logger } from 'typedoc';
import { expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

it('the API reference builds without warnings', async () => {
  const problems: string[] = [];
  const app = await Application.bootstrap({ options: join(root, 'typedoc.json'), logLevel: LogLevel.Warn });
  const logger = app.logger as Logger & { log(message: string, level: LogLevel): void };
  const log = logger.log.bind(logger);
  logger.log = (message, level) => {
    if (level >= LogLevel.Warn) problems.push(message);
    else log(message, level);
  };
  const project = await app.convert();
  expect(project, problems.join('\n')).toBeDefined();
  app.validate(project!);
  expect(problems).toEqual([]);
});
