/** Every command of the CLI, in the order `cmmc-db --help` lists them. One module per command. */
import type { RegisterCommand } from './types.js';
import { register as revision } from './revision.js';
import { register as upgrade } from './upgrade.js';
import { register as downgrade } from './downgrade.js';
import { register as current } from './current.js';
import { register as status } from './status.js';
import { register as history } from './history.js';
import { register as heads } from './heads.js';
import { register as branches } from './branches.js';
import { register as show } from './show.js';
import { register as stamp } from './stamp.js';
import { register as merge } from './merge.js';
import { register as check } from './check.js';
import { register as seed } from './seed.js';
import { register as init } from './init.js';
import { register as backup } from './backup.js';
import { register as doctor } from './doctor.js';
import { register as refresh } from './refresh.js';
import { register as schema } from './schema.js';
import { register as testMigrations } from './test-migrations.js';
import { register as health } from './health.js';

export const COMMANDS: RegisterCommand[] = [
  revision,
  upgrade,
  downgrade,
  current,
  status,
  history,
  heads,
  branches,
  show,
  stamp,
  merge,
  check,
  seed,
  init,
  backup,
  doctor,
  refresh,
  schema,
  testMigrations,
  health,
];
