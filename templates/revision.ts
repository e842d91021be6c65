/**
 * {{message}}
 *
 * Revision ID: {{revision}}
 * Revises: {{downRevisionText}}
 * Create Date: {{created}}
 */
import { sql, type Kysely } from 'kysely';

export const revision = '{{revision}}';
export const downRevision: string | string[] | null = {{downRevision}};
export const message = {{messageLiteral}};
export const branchLabels: string[] = {{branchLabels}};
export const dependsOn: string[] = {{dependsOn}};
export const transactional = true;

export async function up(db: Kysely<any>): Promise<void> {
  // await db.schema.createTable('widget').addColumn('id', 'uuid', (c) => c.primaryKey()).execute();
  // await sql`CREATE INDEX ...`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // await db.schema.dropTable('widget').execute();
}
