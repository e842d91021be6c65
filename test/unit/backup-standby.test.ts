/** The pure parts of `backup --from-standby`: the URL it asks with, and the recovery-conflict hint. */
import { describe, expect, it } from 'vitest';
import { recoveryConflictHint, standbyUrl } from '../../src/backup/standby.js';

describe('standbyUrl', () => {
  it('asks for a standby on a single-host URL', () => {
    expect(standbyUrl('postgres://u:p@db:5432/app')).toBe('postgres://u:p@db:5432/app?target_session_attrs=standby');
  });
  it('replaces the formation URL\'s read-write and keeps the other settings, several hosts included', () => {
    expect(standbyUrl('postgres://a:5432,b:5433/app?target_session_attrs=read-write&sslmode=prefer')).toBe(
      'postgres://a:5432,b:5433/app?sslmode=prefer&target_session_attrs=standby',
    );
  });
});

describe('recoveryConflictHint', () => {
  // The messages PostgreSQL 15 sends when WAL replay cancels a query on a standby (postgres.c, errdetail_recovery_conflict).
  it.each([
    'pg_dump: error: Dumping the contents of table "evidence" failed: PQgetResult() failed.\npg_dump: detail: Error message from server: ERROR:  canceling statement due to conflict with recovery\nDETAIL:  User query might have needed to see row versions that must be removed.',
    'pg_dump failed: FATAL:  terminating connection due to conflict with recovery',
    'ERROR:  canceling statement due to conflict with recovery DETAIL:  User was holding a relation lock for too long.',
  ])('names max_standby_streaming_delay and hot_standby_feedback for %#', (message) => {
    const hint = recoveryConflictHint(message);
    expect(hint).toContain('max_standby_streaming_delay');
    expect(hint).toContain('hot_standby_feedback');
  });
  it('stays out of other failures', () => {
    expect(recoveryConflictHint('pg_dump: error: connection to server at "db" failed: Connection refused')).toBeUndefined();
  });
});
