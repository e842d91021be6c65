/**
 * Shell completion through @bomb.sh/tab's commander adapter: `cmmc-db completion bash|zsh|fish|powershell`
 * prints the script for the shell, which calls the hidden `cmmc-db complete -- <words>` for
 * suggestions (commands, subcommands, options and their choices, read from the program itself).
 * Loaded only for those two commands and for --help, so other runs do not pay for it.
 *
 * Three things the adapter leaves out are added here: the global options (--json, --url, --yes...)
 * after a command, where commander accepts them; file and folder names after an option that takes
 * one (the adapter answers "no files" for every word); and, in the bash script, `-o default` (without
 * which bash never falls back to file names), a second `source` that works, and a bash without the
 * bash-completion package (repairBashScript).
 */
import type { Command, Option } from 'commander';

export const COMPLETION_COMMANDS = ['completion', 'complete'];

const DESCRIPTION = 'print the shell completion script (bash, zsh, fish, powershell)';

/** The parts of the adapter's completer this file reaches into (its `complete` prints the answer). */
interface Completer {
  commands: Map<string, { options: Map<string, unknown>; option(name: string, description: string, handlerOrAlias?: (() => void) | string, alias?: string): unknown; description: string }>;
  parse(words: string[]): void;
  complete(current: string): void;
}

/** The directives of the completion protocol (cobra's, which the scripts read): 0 lets the shell list files, 16 folders. */
const LIST_FILES = 0;
const LIST_FOLDERS = 16;

export async function addCompletion(program: Command): Promise<void> {
  const { default: tab } = await import('@bomb.sh/tab/commander');
  const completer = tab(program, { completionCommandName: 'completion' }) as unknown as Completer;
  const completion = program.commands.find((c) => c.name() === 'completion');
  completion?.description(DESCRIPTION).addHelpText(
    'after',
    '\nExample:\n  $ cmmc-db completion bash > /etc/bash_completion.d/cmmc-db\n  $ echo \'source <(cmmc-db completion zsh)\' >> ~/.zshrc\n  $ cmmc-db completion fish > ~/.config/fish/completions/cmmc-db.fish',
  );
  const listed = completer.commands.get('completion');
  if (listed) listed.description = DESCRIPTION;
  addGlobalOptions(program, completer);
  completePaths(program, completer);
  if (completion) repairBashOutput(completion);
}

/** Offers the program's options after every command too: `cmmc-db current --js<Tab>` gave nothing. */
function addGlobalOptions(program: Command, completer: Completer): void {
  const globals = program.options.filter((o) => o.long && o.long !== '--version');
  for (const [name, command] of completer.commands) {
    if (name === 'complete') continue;
    for (const o of globals) {
      const long = o.long!.slice(2);
      if (command.options.has(long)) continue;
      const short = o.short?.slice(1);
      // A handler marks an option that takes a value, so that its value is not read as a command.
      if (o.required || o.optional) command.option(long, o.description, () => {}, short);
      else command.option(long, o.description, short);
    }
  }
}

/** What an option's value names, from its flags (`--html <file>`, `--dir <dir>`); undefined for other values. */
function pathKind(o: Option): 'file' | 'dir' | undefined {
  const m = /<(file|dir|folder|path)>|\[(file|dir|folder|path)\]/.exec(o.flags);
  const word = m?.[1] ?? m?.[2];
  return word === undefined ? undefined : word === 'dir' || word === 'folder' ? 'dir' : 'file';
}

/** Every option of the program and its commands that names a file or a folder, by its flags (--html, -o). */
function pathOptions(program: Command): Map<string, 'file' | 'dir'> {
  const found = new Map<string, 'file' | 'dir'>();
  const walk = (c: Command) => {
    for (const o of c.options) {
      const kind = pathKind(o);
      if (kind) for (const flag of [o.long, o.short]) if (flag) found.set(flag, kind);
    }
    c.commands.forEach(walk);
  };
  walk(program);
  return found;
}

/**
 * After an option that takes a file or a folder (`report --html <Tab>`), answers with the directive
 * that lets the shell list them: the adapter answered "no file names" (4) for every word.
 */
function completePaths(program: Command, completer: Completer): void {
  const paths = pathOptions(program);
  const parse = completer.parse.bind(completer);
  const complete = completer.complete.bind(completer);
  let listing: number | undefined;
  completer.complete = (current: string) => {
    if (listing === undefined) return complete(current);
    console.log(`:${listing}`);
  };
  completer.parse = (words: string[]) => {
    // The word before the one being completed (the last, '' for a new word).
    const before = words.at(-2);
    const kind = before === undefined ? undefined : paths.get(before);
    listing = kind === undefined ? undefined : kind === 'dir' ? LIST_FOLDERS : LIST_FILES;
    parse(words);
  };
}

/**
 * The bash script as @bomb.sh/tab writes it, repaired for the shells users have:
 * - registered with `-o default`: bash lists files only when the function answers nothing, and only then;
 * - its directive constants made plain names of this script's own: `readonly ShellCompDirectiveError=1`
 *   at the top level made a second `source` (a re-read ~/.bashrc, or another CLI's script built by the
 *   same library) print "readonly variable" six times;
 * - words read from COMP_WORDS when bash-completion's `_get_comp_words_by_ref` is not loaded (a bash
 *   without the bash-completion package): every Tab printed "_get_comp_words_by_ref: command not found".
 */
export function repairBashScript(script: string): string {
  return script
    .replace(/^complete -F (\S+) /m, 'complete -o default -F $1 ')
    .replace(/^readonly (ShellCompDirective\w+)=/gm, '__cmmc_db_$1=')
    .replace(/\$(ShellCompDirective\w+)\b/g, '$__cmmc_db_$1')
    .replace(
      /^(\s*)_get_comp_words_by_ref -n "=:" cur prev words cword$/m,
      '$1if declare -F _get_comp_words_by_ref >/dev/null; then\n' +
        '$1    _get_comp_words_by_ref -n "=:" cur prev words cword\n' +
        '$1else\n' +
        '$1    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"\n' +
        '$1fi',
    );
}

/** Prints `completion bash`'s script through repairBashScript. */
function repairBashOutput(completion: Command): void {
  completion.hook('preAction', (_, action) => {
    if (action.args[0] !== 'bash') return;
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
      (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(typeof chunk === 'string' ? repairBashScript(chunk) : chunk, ...rest)) as typeof process.stdout.write;
  });
}
