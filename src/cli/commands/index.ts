/**
 * The command registry: each command lives in its own module and registers itself here.
 * Keep one line per command module.
 */
import type { Command } from 'commander';
import * as admin from './admin.js';
import * as alias from './alias.js';
import * as checkConfig from './check-config.js';
import * as cp from './cp.js';
import * as createNode from './create-node.js';
import * as debug from './debug.js';
import * as demo from './demo.js';
import * as get from './get.js';
import * as ln from './ln.js';
import * as ls from './ls.js';
import * as mkdir from './mkdir.js';
import * as mv from './mv.js';
import * as put from './put.js';
import * as rm from './rm.js';
import * as run from './run.js';
import * as webopen from './webopen.js';

export type CommandModule = { register(program: Command): void };

export const COMMAND_MODULES: CommandModule[] = [
  createNode,
  checkConfig,
  debug,
  admin,
  run,
  put,
  get,
  alias,
  mkdir,
  ls,
  cp,
  mv,
  ln,
  rm,
  webopen,
  demo,
];
