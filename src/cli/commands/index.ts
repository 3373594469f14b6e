/**
 * The command registry: each command lives in its own module and registers itself here.
 * Keep one line per command module.
 */
import type { Command } from 'commander';

export type CommandModule = { register(program: Command): void };

export const COMMAND_MODULES: CommandModule[] = [];
