#!/usr/bin/env node
// Applies patches/ to the installed dependencies with patch-package (npm's postinstall).
//
// Today one patch, postgres+3.4.9.patch, for eight defects of postgres.js 3.4.9 and one of libpq's ways:
// (1) a reserved connection whose backend is terminated: an uncatchable TypeError when it is used
//     again, its later queries waiting for ever, end() never resolving, and the dead connection
//     handed out again after release() (porsager/postgres issues 1154, 1199, 1208; upstream PR 1209);
// (2) target_session_attrs=read-write accepts a hot standby: it checks default_transaction_read_only
//     only, libpq also in_hot_standby (see hapostgres/pg_auto_failover issue 970);
// (3) a failing array-types query of a new connection (fetch_types) killed the process with an
//     unhandled rejection (porsager/postgres issues 1192, 1205, 1223; test/driver-fetch-types.test.ts);
// (4) target_session_attrs=prefer-standby never took a primary when no listed host is a standby:
//     its host counter never grew (porsager/postgres issue 1174, PR 1175); as libpq, a first pass over
//     the hosts wants a standby, the second takes any (test/connection-targets.test.ts);
// (5) "any", libpq's default, was refused, so PGTARGETSESSIONATTRS overrode a target that says any;
// (6) TLS: the certificate was checked against "localhost" for an IP host (Node is now given the
//     host connected to), and a certificate refused at one host moved on to the next, where libpq
//     stops (test/connection-tls.test.ts);
// (7) a query that failed after some of its rows had come left the next query on the connection
//     its rows after as many empty slots (the row counter was reset only on CommandComplete;
//     porsager/postgres issues 1119, 1181, PRs 1120, 1190; test/driver-rows-after-error.test.ts);
// (8) a COPY ... FROM STDIN refused by the server after its data had all been sent (a bad row) never
//     settled the writable: the caller, `cmmc-db seed` of such a file among them, waited for ever and
//     no ROLLBACK was sent (porsager/postgres issue 1173, PR 1183; test/copy-refused.test.ts);
// (9) sslmode=prefer with TLS settings (a client certificate): an `ssl` object marked `prefer: true`
//     falls back to plain text at a server without TLS, as libpq does; upstream has only the string
//     'prefer', which takes no certificate (test/connection-libpq-probes.test.ts).
// DROP the patch, and this script with it, once a postgres release contains all these fixes: bump
// "postgres" in package.json, delete patches/postgres+*.patch, and run test/driver-patch.test.ts,
// test/connection-targets.test.ts, test/connection-tls.test.ts, test/driver-fetch-types.test.ts,
// test/driver-rows-after-error.test.ts, test/copy-refused.test.ts and test/connection-libpq-probes.test.ts,
// which must still pass.
//
// patch-package applies patches relative to the folder whose node_modules holds the package. In
// this project's own checkout that is the project; where cmmc-db is installed as a dependency,
// postgres is usually hoisted to the application's node_modules, so the folder is found from
// where `postgres` resolves. A patch that no longer applies is reported and does not fail the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const patches = path.join(here, 'patches');

/** The nearest folder, from `from` upwards, whose node_modules holds `name` (as Node resolves it). */
function rootHolding(name, from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'node_modules', name, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return null;
  }
}

const root = rootHolding('postgres', here);
const withCli = rootHolding('patch-package', here);
const cli = withCli && path.join(withCli, 'node_modules', 'patch-package', 'index.js');
if (!existsSync(patches) || !root || !cli || !existsSync(cli)) process.exit(0);
const result = spawnSync(process.execPath, [cli, '--patch-dir', path.relative(root, patches)], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.warn('cmmc-db: the postgres.js patch was not applied (see above); a terminated session during upgrade may crash the process');
}
