import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** Each command module exports one of these; src/cli/commands/index.ts lists them all. */
export type RegisterCommand = (program: Command, ctx: CliContext) => void;
