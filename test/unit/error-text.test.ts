/** errorText: one line of text for anything thrown, never "[object Object]" (PGlite's file-system errors are plain objects). */
import { describe, expect, it } from 'vitest';
import { errorText } from '../../src/errors.js';

describe('errorText', () => {
  it('an Error gives its message', () => {
    expect(errorText(new Error('relation "x" does not exist'))).toBe('relation "x" does not exist');
  });
  it('an object with an errno and no message (Emscripten ErrnoError) names the errno', () => {
    expect(errorText({ errno: 44 })).toBe("file-system error ENOENT (no such file) (the embedded database's errno 44)");
    // WASI's 28 is EINVAL, not Linux's ENOSPC: it must not read as a full disk.
    expect(errorText({ errno: 28 })).toBe("file-system error EINVAL (invalid argument: a file is not what was expected) (the embedded database's errno 28)");
    expect(errorText({ errno: 999 })).toBe("file-system error (the embedded database's errno 999)");
  });
  it('an object with a code and no message gives the code', () => {
    expect(errorText({ code: 'ENXIO' })).toBe('ENXIO');
  });
  it('a string or a number is itself', () => {
    expect(errorText('went wrong')).toBe('went wrong');
    expect(errorText(42)).toBe('42');
    expect(errorText(undefined)).toBe('undefined');
  });
  it('any other object is shown as JSON, not "[object Object]"', () => {
    expect(errorText({ reason: 'x' })).toBe('{"reason":"x"}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(errorText(cyclic)).toBe('unknown error');
    expect(errorText(new Error(''))).not.toContain('[object Object]');
  });
});
