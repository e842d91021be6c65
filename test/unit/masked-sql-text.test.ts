import { describe, expect, it } from 'vitest';
import { maskedSqlText } from '../../src/config/printable.js';

describe('maskedSqlText', () => {
  it('masks the password of every statement form that carries one, and leaves the rest of the statement as it was', () => {
    const cases: [string, string][] = [
      ["ALTER ROLE app PASSWORD 'pw''x'", "ALTER ROLE app PASSWORD '****'"],
      ["CREATE ROLE a LOGIN ENCRYPTED PASSWORD E'pw\\'x' VALID UNTIL 'infinity'", "CREATE ROLE a LOGIN ENCRYPTED PASSWORD '****' VALID UNTIL 'infinity'"],
      ['alter user a with password $q$pw$q$; select 1', "alter user a with password '****'; select 1"],
      ['alter user a with password $$pw$$; select 1', "alter user a with password '****'; select 1"],
      ['alter user a password NULL', 'alter user a password NULL'],
      ["ALTER ROLE app PASSWORD 'cut by track_activity_query_size", "ALTER ROLE app PASSWORD '****'"],
      ["CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'u', password 'pw')", "CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'u', password '****')"],
      ["SELECT dblink_connect('host=h password=pw dbname=d')", "SELECT dblink_connect('host=h password=**** dbname=d')"],
      ["CREATE SUBSCRIPTION s CONNECTION 'postgresql://u:pw@h/d?sslmode=require' PUBLICATION p", "CREATE SUBSCRIPTION s CONNECTION 'postgresql://u:****@h/d?sslmode=require' PUBLICATION p"],
      ["SELECT dblink('postgresql://u@h/d?password=pw&x=1', 'select 1')", "SELECT dblink('postgresql://u@h/d?password=****&x=1', 'select 1')"],
      ["SELECT 1 FROM creds WHERE password = 'pw' AND x = 1", 'SELECT 1 FROM creds WHERE password = **** AND x = 1'],
      ['PGPASSWORD=pw pg_receivewal -D /x', 'PGPASSWORD=**** pg_receivewal -D /x'],
      ["select password_hash from users where email = 'a@b'", "select password_hash from users where email = 'a@b'"],
    ];
    for (const [text, masked] of cases) expect(maskedSqlText(text), text).toBe(masked);
  });
});
