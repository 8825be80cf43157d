// core/: the error hierarchy, the manual clock, configuration resolution and the logger.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, createManualClock, ERROR_CODES, FactoryError, formatProblem, isErrorCode, resolveConfig, toFactoryError } from '../../core/index.js';

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

describe('createManualClock', () => {
  it('moves only when told to', () => {
    const clock = createManualClock(1_000);
    const start = clock.monotonic();
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
    expect(clock.monotonic() - start).toBe(250);
  });
});

describe('resolveConfig', () => {
  it('derives every path from the root and honours AF_HOME and AF_ENV', () => {
    const config = resolveConfig({ root: '/project', processEnv: {} });
    expect(config).toEqual({
      root: '/project',
      home: '/project/.af',
      env: 'dev',
      agentsDir: '/project/agents',
      cacheDir: '/project/.af/cache',
      bundleCacheDir: '/project/.af/cache/bundles',
      keysDir: '/project/.af/keys',
      dbPath: '/project/.af/factory.db',
      policyPath: '/project/policy.json',
    });
    const overridden = resolveConfig({ root: '/project', processEnv: { AF_HOME: '/state', AF_ENV: 'prod' } });
    expect(overridden.home).toBe('/state');
    expect(overridden.dbPath).toBe(path.join('/state', 'factory.db'));
    expect(overridden.env).toBe('prod');
    expect(resolveConfig({ root: '/p', env: 'staging', processEnv: { AF_ENV: 'prod' } }).env).toBe('staging');
    expect(overridden.keysDir).toBe(path.join('/state', 'keys'));
  });

  it('keeps the keys folder where AF_KEYS_DIR or the option says, outside the state folder others may write', () => {
    expect(resolveConfig({ root: '/project', processEnv: { AF_KEYS_DIR: '/etc/af-keys' } }).keysDir).toBe('/etc/af-keys');
    expect(resolveConfig({ root: '/project', keysDir: 'secrets/keys', processEnv: { AF_KEYS_DIR: '/etc/af-keys' } }).keysDir).toBe('/project/secrets/keys');
  });

  it('rejects an environment name that is not one', () => {
    expect(() => resolveConfig({ root: '/p', env: '../etc', processEnv: {} })).toThrow('resolveConfig: option "env" must match');
  });
});

describe('createLogger', () => {
  const capture = (env: Record<string, string | undefined>, isTTY: boolean) => {
    const lines: string[] = [];
    const logger = createLogger({ processEnv: env, stream: { write: (line: string) => lines.push(line), isTTY } });
    return { logger, lines };
  };

  it('writes one line per event with fields, at or above its level', () => {
    const { logger, lines } = capture({ AF_LOG_LEVEL: 'warn' }, false);
    logger.info('hidden');
    logger.warn('shown', { template: 'hello' });
    logger.child('registry').error('broken');
    expect(lines).toEqual(['warn shown {"template":"hello"}\n', 'error [registry] broken\n']);
  });

  it('colours only a TTY, and never with NO_COLOR', () => {
    const tty = capture({}, true);
    tty.logger.info('x');
    expect(tty.lines[0]).toBe('\u001b[36minfo\u001b[0m x\n');
    const pipe = capture({}, false);
    pipe.logger.info('x');
    expect(pipe.lines[0]).toBe('info x\n');
    const noColor = capture({ NO_COLOR: '1' }, true);
    noColor.logger.info('x');
    expect(noColor.lines[0]).toBe('info x\n');
  });
});
