#!/usr/bin/env node
// Starts the CLI. Kept tiny: everything else is loaded by the command that needs it.
import { run } from '../dist/cli/main.js';

process.exitCode = await run(process.argv);
