/**
 * The environment of a program this tool starts (pg_dump, pg_restore, psql, crontab, the browser of
 * `report --open`): this process's, without the tool's own credentials. A child inherits them
 * otherwise: pg_dump connecting as the schema owner held the admin's POSTGRES_PASSWORD and the URL of
 * DATABASE_URL, psql running a plain backup's script (whose `\!` lines run a shell) every password of
 * the run, and a browser — detached, outliving the command, starting helpers of its own — all of them.
 * A client program gets the one password of its own connection back as PGPASSWORD (src/db/pg-tools.ts).
 */

/** The settings of this tool that hold a password (docs/connections.md), PGPASSWORD among them. */
export const CREDENTIAL_VARIABLES = ['DATABASE_URL', 'DB_PASSWORD', 'DB_OWNER_PASSWORD', 'POSTGRES_PASSWORD', 'PGPASSWORD'] as const;

/**
 * `env` (this process's by default) without the variables of CREDENTIAL_VARIABLES: what a child
 * program is given, with `extendEnv: false` (execa) or as `env` (node:child_process).
 */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of CREDENTIAL_VARIABLES) delete out[name];
  return out;
}
