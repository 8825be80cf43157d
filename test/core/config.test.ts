// core/config: how flags, environment and defaults resolve into one configuration.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../core/index.js';

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
      store: '/project/.af/factory.db',
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

  it('names the store by the option, else AF_STORE_URL, else the state folder’s SQLite file', () => {
    const url = 'postgres://af:secret@db:5432/af';
    expect(resolveConfig({ root: '/project', processEnv: { AF_STORE_URL: url } }).store).toBe(url);
    expect(resolveConfig({ root: '/project', store: 'sqlite:other.db', processEnv: { AF_STORE_URL: url } }).store).toBe('sqlite:other.db');
    expect(resolveConfig({ root: '/project', processEnv: { AF_STORE_URL: '', AF_HOME: '/state' } }).store).toBe(path.join('/state', 'factory.db'));
  });

  it('rejects an environment name that is not one', () => {
    expect(() => resolveConfig({ root: '/p', env: '../etc', processEnv: {} })).toThrow('resolveConfig: option "env" must match');
  });
});
