// core/errors: every code in ERROR_CODES has a deliberate HTTP status, a deliberate exit status and a default message,
// so a new code cannot ship without someone deciding how it reaches a user.
import { describe, expect, it } from 'vitest';
import { declaredHttpStatus, httpStatusFor } from '../../api/errors.js';
import { EXIT, exitStatusFor } from '../../cli/exit-status.js';
import { defaultMessageFor, ERROR_CODES, FactoryError, isErrorCode, isToolErrorCode, TOOL_ERROR_CODES } from '../../core/errors.js';
import { fileErrorCode } from '../../sandbox/permissions.js';

const EXIT_STATUSES: readonly number[] = Object.values(EXIT).filter((status) => status !== EXIT.ok);

describe.each(ERROR_CODES.map((code) => [code]))('%s', (code) => {
  it('has an HTTP status of its own (not the fallback for unknown codes)', () => {
    const status = declaredHttpStatus(code);
    expect(status, `no row for ${code} in api/errors.ts`).toBeTypeOf('number');
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(600);
    expect(httpStatusFor(code)).toBe(status);
  });

  it('has an exit status, one of the documented ones', () => {
    expect(EXIT_STATUSES, `no row for ${code} in cli/exit-status.ts`).toContain(exitStatusFor(code));
  });

  it('has a default message that is what a bare FactoryError says', () => {
    const message = defaultMessageFor(code);
    expect(message).toBeTypeOf('string');
    expect(message.length).toBeGreaterThan(15);
    expect(new FactoryError(code).message).toBe(message);
  });
});

describe('the lookups', () => {
  it('know no code outside the list', () => {
    for (const notACode of ['E_NOPE', 'toString', '__proto__', 'constructor', '']) {
      expect(isErrorCode(notACode)).toBe(false);
      expect(declaredHttpStatus(notACode)).toBeUndefined();
      expect(exitStatusFor(notACode as never)).toBe(EXIT.internal);
    }
    expect(httpStatusFor('E_NOPE')).toBe(500);
    // An inherited property of a plain object is not a status.
    for (const inherited of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) expect(httpStatusFor(inherited)).toBe(500);
  });

  it('send only a bug to "internal, please report it"', () => {
    expect(ERROR_CODES.filter((code) => exitStatusFor(code) === EXIT.internal)).toEqual(['E_INTERNAL']);
  });

  it('decide the codes that once fell through to internal', () => {
    const decided = Object.fromEntries(['E_FORBIDDEN', 'E_UNAUTHORIZED', 'E_STORE', 'E_RATE_LIMITED', 'E_DISPOSED', 'E_NOT_IMPLEMENTED', 'E_UNAVAILABLE'].map((code) => [code, exitStatusFor(code as never)]));
    expect(decided).toEqual({ E_FORBIDDEN: 3, E_UNAUTHORIZED: 3, E_STORE: 6, E_RATE_LIMITED: 6, E_DISPOSED: 6, E_NOT_IMPLEMENTED: 6, E_UNAVAILABLE: 6 });
  });
});

describe('tool codes', () => {
  it('are codes, spelled as agents match on them', () => {
    expect(TOOL_ERROR_CODES).toEqual(expect.arrayContaining(['E_FETCH', 'ENOENT', 'EISDIR', 'EACCES', 'EIO']));
    for (const code of TOOL_ERROR_CODES) {
      expect(isErrorCode(code)).toBe(true);
      expect(isToolErrorCode(code)).toBe(true);
    }
    expect(isToolErrorCode('E_STORE')).toBe(false);
  });

  it('reach a user as the cause of an agent failure, so they map as E_AGENT_THREW does', () => {
    for (const code of TOOL_ERROR_CODES) {
      expect([code, httpStatusFor(code), exitStatusFor(code)]).toEqual([code, httpStatusFor('E_AGENT_THREW'), exitStatusFor('E_AGENT_THREW')]);
    }
  });

  it('keep a documented system code, and give EIO for any other', () => {
    expect(fileErrorCode('EACCES')).toBe('EACCES');
    expect(fileErrorCode('ENOSPC')).toBe('ENOSPC');
    expect(fileErrorCode('EXDEV')).toBe('EIO');
    expect(fileErrorCode('E_FETCH')).toBe('EIO');
    expect(fileErrorCode(undefined)).toBe('EIO');
  });
});
