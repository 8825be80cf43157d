// core/errors: every code in ERROR_CODES has a deliberate HTTP status, a deliberate exit status and a default message,
// so a new code cannot ship without someone deciding how it reaches a user; and the FactoryError class itself.
import { describe, expect, it } from 'vitest';
import { declaredHttpStatus, httpStatusFor } from '../../api/errors.js';
import { EXIT, exitStatusFor } from '../../cli/exit-status.js';
import { defaultMessageFor, ERROR_CODES, FactoryError, formatProblem, isErrorCode, isToolErrorCode, toFactoryError, TOOL_ERROR_CODES } from '../../core/errors.js';
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

describe('FactoryError', () => {
  it('carries a stable code, a message that says what to do, problems and cause', () => {
    const cause = new Error('disk');
    const error = new FactoryError('E_STORE', undefined, { cause, problems: [{ file: 'a.json', pointer: '/x', line: 2, column: 3, message: 'bad' }] });
    expect(error.code).toBe('E_STORE');
    expect(error.name).toBe('FactoryError');
    expect(error.message).toBe('The store failed; check that the database file is writable and not corrupt.');
    expect(error.cause).toBe(cause);
    expect(error.toJSON()).toEqual({ code: 'E_STORE', message: error.message, problems: [{ file: 'a.json', pointer: '/x', line: 2, column: 3, message: 'bad' }] });
  });

  it('is recognised by instanceof across copies of the module, through its brand', () => {
    const foreign = Object.create({ [Symbol.for('agent-factory.FactoryError')]: true });
    expect(foreign instanceof FactoryError).toBe(true);
    expect(new Error('x') instanceof FactoryError).toBe(false);
  });

  it('has every code of the design', () => {
    for (const code of ['E_TEMPLATE_NOT_FOUND', 'E_TEMPLATE_INVALID', 'E_TEMPLATE_IMPORT', 'E_SIGNATURE_MISSING', 'E_SIGNATURE_INVALID', 'E_KEY_REVOKED', 'E_KEY_EXPIRED', 'E_POLICY_DENIED', 'E_PERMISSION_DENIED', 'E_INPUT_INVALID', 'E_OUTPUT_INVALID', 'E_AGENT_THREW', 'E_TIMEOUT', 'E_CPU_LIMIT', 'E_MEMORY_LIMIT', 'E_OUTPUT_LIMIT', 'E_SANDBOX_CRASHED', 'E_SPAWN_LIMIT', 'E_DISPOSED', 'E_UNAUTHORIZED', 'E_FORBIDDEN', 'E_RATE_LIMITED', 'E_STORE']) {
      expect(ERROR_CODES).toContain(code);
      expect(new FactoryError(code as never).message.length).toBeGreaterThan(10);
    }
    expect(isErrorCode('E_NOPE')).toBe(false);
  });

  it('wraps foreign errors and keeps its own', () => {
    const own = new FactoryError('E_TIMEOUT');
    expect(toFactoryError(own)).toBe(own);
    expect(toFactoryError(new TypeError('boom'))).toMatchObject({ code: 'E_INTERNAL', message: 'boom' });
    expect(toFactoryError('text', 'E_AGENT_THREW')).toMatchObject({ code: 'E_AGENT_THREW', message: 'text' });
  });

  it('formats a problem as file:line:column (at pointer): message', () => {
    expect(formatProblem({ file: 'a.json', line: 2, column: 5, pointer: '/limits', message: 'bad' })).toBe('a.json:2:5 (at /limits): bad');
    expect(formatProblem({ pointer: '/x', message: 'bad' })).toBe('(at /x): bad');
    expect(formatProblem({ message: 'bad' })).toBe('bad');
  });
});
