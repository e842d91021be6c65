/**
 * What every command gets: the global options, the output, the configuration and a way to open
 * the database that names the target on stderr first. Commands stay thin: they parse, call a
 * capability, and render.
 */
import type { Command } from 'commander';
import type postgres from 'postgres';
import { asOwner, describeTarget, resolveConfig, type CmmcConfig } from '../config/config.js';
import type { DbHandle, OpenOptions } from '../db/connection.js';
import { Output } from './output.js';
import { onInterrupt } from '../interrupt.js';

export interface GlobalOptions {
  url?: string;
  json?: boolean;
  debug?: boolean;
  yes?: boolean;
  quiet?: boolean;
  color?: boolean;
  migrationsDir?: string;
  env?: string;
}

export class CliContext {
  exitCode = 0;
  private program?: Command;
  private cachedOut?: Output;
  private cachedConfig?: CmmcConfig;
  private readonly handles: DbHandle[] = [];
  private readonly releases: (() => void)[] = [];
  private announced = false;
  private owner = false;

  attach(program: Command): void {
    this.program = program;
  }

  get globals(): GlobalOptions {
    return (this.program?.opts() ?? {}) as GlobalOptions;
  }

  get out(): Output {
    this.cachedOut ??= new Output({ json: this.globals.json, color: this.globals.color !== false, quiet: this.globals.quiet });
    return this.cachedOut;
  }

  config(): CmmcConfig {
    this.cachedConfig ??= resolveConfig({ url: this.globals.url, migrationsDir: this.globals.migrationsDir, environment: this.globals.env, env: process.env });
    return this.owner ? asOwner(this.cachedConfig) : this.cachedConfig;
  }

  /**
   * This command does the schema owner's work (upgrade, downgrade, stamp, seed, backup create):
   * from now on config() and open() use DB_OWNER_USER / DB_OWNER_PASSWORD when they are set.
   */
  asOwner(): void {
    this.owner = true;
  }

  /** Names the target on stderr (once per run), password masked. */
  announce(config: CmmcConfig = this.config()): void {
    if (this.announced) return;
    this.announced = true;
    this.out.info(this.out.c.dim(`database: ${describeTarget(config)}`));
  }

  /** Opens the configured database with a small pool; closed when the command ends. */
  async open(options: OpenOptions = {}): Promise<DbHandle> {
    const config = this.config();
    this.announce(config);
    const [{ openDatabase }, scratch] = await Promise.all([
      import('../db/connection.js'),
      config.kind === 'server' ? import('../schema-as-code/scratch.js') : undefined,
    ]);
    // On a server, the connection's first statement lists the scratch databases to sweep: the
    // check that it answers and the sweep's question in one round trip.
    let candidates: string[] | undefined;
    const firstQuery = scratch && (async (sql: postgres.Sql) => void (candidates = await scratch.scratchCandidates(sql)));
    const handle = await openDatabase(config, { pool: { max: 4, min: 0 }, ...(firstQuery ? { firstQuery } : {}), ...options });
    this.handles.push(handle);
    // Interrupted: close at once, so that the server rolls back whatever transaction is in flight.
    this.releases.push(onInterrupt(async () => {
      await handle.sql.end({ timeout: 0 }).catch(() => {});
      await handle.close();
    }, 'connections closed (the server rolls back any transaction in flight)'));
    // candidates is undefined when the first statement was another (a warm pool, the caller's own).
    if (scratch && (candidates === undefined || candidates.length > 0)) await scratch.sweepScratchDatabases(handle.sql, candidates);
    return handle;
  }

  /**
   * Closes what the command opened. `failed`: the command failed (threw, or ended with a non-zero
   * code), so an embedded database it created where there was none is removed again (DbHandle.close).
   */
  async closeAll({ failed = false }: { failed?: boolean } = {}): Promise<void> {
    while (this.releases.length) this.releases.pop()!();
    // The command has returned: nothing is left to wait for on a server's sessions (the embedded
    // database's are ended the usual way, before PGlite closes its folder).
    while (this.handles.length) {
      const handle = this.handles.pop()!;
      await handle.close({ now: handle.config.kind === 'server', failed });
    }
  }

  /** Wraps a command action so that its returned number becomes the exit code. */
  action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
    return async (...args: A) => {
      const code = await fn(...args);
      if (typeof code === 'number') this.exitCode = code;
    };
  }
}

/**
 * Runs `work` (reading revision files: synchronous reads) while a session to a server opens, so
 * that the server starts its backend meanwhile; resolves to both. `open` is started first and
 * given the event loop until its socket's connect is issued: its steps are promise callbacks,
 * drained before setImmediate's turn, and postgres.js then connects from a 0 ms timer, which fires
 * before ours (timers of one length run in the order they were set).
 *
 * `work` is handed `turn`, to await between its pieces (one revision file each): until `open` has
 * settled it gives the event loop a turn, so that the session's handshake and `open`'s own first
 * statements advance between files instead of waiting for all of them (each step of the handshake
 * needs this process: the SSL request, the startup message, each statement). Once `open` has
 * settled it costs nothing. A turn is a few microseconds; the handshake is milliseconds.
 *
 * When `work` fails, its error is thrown at once, as when the files were read before connecting:
 * not after a wait for the session (a writable primary may take a minute to appear), and the
 * session, if it opens after all, is closed. An embedded database (`server: false`) is opened only
 * after `work` succeeded: opening it may create its folder, which a run refused for a bad file
 * must not leave behind.
 */
export async function whileOpening<T>(open: () => Promise<DbHandle>, work: (turn: () => Promise<void>) => Promise<T>, { server }: { server: boolean }): Promise<[DbHandle, T]> {
  if (!server) {
    const done = await work(async () => {});
    return [await open(), done];
  }
  let settled = false;
  const opening = open();
  opening.then(
    () => (settled = true),
    () => (settled = true), // its failure is reported below, or is not the one to report
  );
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 0));
  const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));
  // Two: what arrives in the first (the connect, a server's answer) makes postgres.js queue its
  // reply in an immediate of its own, behind ours; the second lets that reply go out before the
  // next file (else the SSL request waited for the first file, crypto's loading included).
  const turn = async (): Promise<void> => {
    if (settled) return;
    await immediate();
    if (!settled) await immediate();
  };
  const done = await work(turn).catch((err: unknown) => {
    void opening.then((handle) => handle.close({ now: true }), () => {});
    throw err;
  });
  return [await opening, done];
}
