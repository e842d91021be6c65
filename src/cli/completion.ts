/**
 * Shell completion through @bomb.sh/tab's commander adapter: `cmmc-db completion bash|zsh|fish|powershell`
 * prints the script for the shell, which calls the hidden `cmmc-db complete -- <words>` for
 * suggestions (commands, subcommands, options and their choices, read from the program itself).
 * Loaded only for those two commands and for --help, so other runs do not pay for it.
 */
import type { Command } from 'commander';

export const COMPLETION_COMMANDS = ['completion', 'complete'];

export async function addCompletion(program: Command): Promise<void> {
  const { default: tab } = await import('@bomb.sh/tab/commander');
  tab(program, { completionCommandName: 'completion' });
  const completion = program.commands.find((c) => c.name() === 'completion');
  completion?.description('print the shell completion script (bash, zsh, fish, powershell)').addHelpText(
    'after',
    '\nExample:\n  $ cmmc-db completion bash > /etc/bash_completion.d/cmmc-db\n  $ echo \'source <(cmmc-db completion zsh)\' >> ~/.zshrc\n  $ cmmc-db completion fish > ~/.config/fish/completions/cmmc-db.fish',
  );
}
