import path from 'node:path';
import type { CliContext } from '../context.js';
import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  const schema = program
    .command('schema')
    .description('the schema as code: schema.sql and the generated Kysely types, both from the migrations\' head')
    .addHelpText('after', '\nExample:\n  $ cmmc-db schema dump\n  $ cmmc-db schema dump --check\n  $ cmmc-db schema types --check');

  schema
    .command('dump')
    .description('write schema.sql: the schema at the migrations\' head, built in a scratch database (dropped afterwards)')
    .option('-o, --output <file>', 'file to write (default: schema.sql in the project folder)')
    .option('--check', 'write nothing; exit 1 when the file differs from the migrations\' head (for CI)')
    .option('--stdout', 'print the schema on stdout instead of writing a file')
    .addHelpText('after', '\nExample:\n  $ cmmc-db schema dump                 # rewrite ./schema.sql\n  $ cmmc-db schema dump --check         # in CI: fail when schema.sql is stale')
    .action(
      ctx.action(async (opts: { output?: string; check?: boolean; stdout?: boolean }) => {
        const { dumpHeadSchema, schemaFilePath } = await import('../../schema-as-code/dump.js');
        const config = ctx.config();
        ctx.announce(config);
        const file = schemaFilePath(config, opts.output);
        const spinner = await ctx.out.spinner('building the migrations\' head in a scratch database');
        let text: string;
        try {
          text = await dumpHeadSchema(config);
        } catch (err) {
          spinner.stop();
          throw err;
        }
        spinner.stop();
        return writeOrCheck(ctx, file, text, opts, { against: "the migrations' head", command: 'cmmc-db schema dump' });
      }),
    );

  schema
    .command('types')
    .description('write src/schema/database.ts: the Kysely Database interface generated from the migrations\' head')
    .option('-o, --output <file>', 'file to write (default: src/schema/database.ts in the project folder)')
    .option('--check', 'write nothing; exit 1 when the file differs from what the head generates (for CI)')
    .option('--stdout', 'print the types on stdout instead of writing a file')
    .addHelpText('after', '\nExample:\n  $ cmmc-db schema types\n  $ cmmc-db schema types --check         # in CI: fail when the types are stale')
    .action(
      ctx.action(async (opts: { output?: string; check?: boolean; stdout?: boolean }) => {
        const { generateHeadTypes, typesFilePath } = await import('../../schema-as-code/typegen.js');
        const config = ctx.config();
        ctx.announce(config);
        const file = typesFilePath(config, opts.output);
        const text = await generateHeadTypes(config);
        return writeOrCheck(ctx, file, text, opts, { against: "the types of the migrations' head", command: 'cmmc-db schema types' });
      }),
    );
};

/**
 * The end of `schema dump` and `schema types`: print the generated text, check the committed file
 * against it (exit 1 when stale, naming the first difference), or write it.
 */
async function writeOrCheck(
  ctx: CliContext,
  file: string,
  text: string,
  opts: { check?: boolean; stdout?: boolean },
  words: { against: string; command: string },
): Promise<number> {
  const { compareSchemaFile } = await import('../../schema-as-code/dump.js');
  const { statSync } = await import('node:fs');
  const { writeFileAtomically } = await import('../../fs-private.js');
  const shown = path.relative(process.cwd(), file) || file;
  if (opts.stdout && !opts.check) {
    // --json: still one JSON document on stdout, the text in it.
    if (ctx.out.json) ctx.out.data({ file: null, status: 'printed', text });
    else process.stdout.write(text);
    return 0;
  }
  if (opts.check) {
    const result = compareSchemaFile(file, text);
    if (ctx.out.json) ctx.out.data({ file, status: result.upToDate ? 'ok' : 'stale', firstDifference: result.firstDifference ?? null });
    if (result.upToDate) {
      ctx.out.success(`${shown} matches the migrations' head`);
      return 0;
    }
    const d = result.firstDifference!;
    ctx.out.error(`${shown} differs from ${words.against} at line ${d.line}: expected "${d.expected}", found "${d.actual}"`);
    ctx.out.info(`run "${words.command}" and commit ${shown}`);
    return 1;
  }
  // Whole or not at all (a full disk left a truncated schema.sql), keeping the file's mode.
  const mode = statSync(file, { throwIfNoEntry: false })?.mode;
  writeFileAtomically(file, text, mode === undefined ? undefined : mode & 0o7777);
  const lines = text.split('\n').length - 1;
  if (ctx.out.json) ctx.out.data({ file, status: 'written', lines });
  ctx.out.success(`wrote ${shown} (${lines} lines)`);
  return 0;
}
