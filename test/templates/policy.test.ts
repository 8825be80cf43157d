// Policy: every rule kind with a template that passes and one that fails, the default policy, and malformed policy files.
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, DEFAULT_PERMISSIONS } from '../../core/agent-spec.js';
import { FactoryError } from '../../core/errors.js';
import { checkPolicy, DEFAULT_POLICY, hostPatternCovers, loadPolicy, type PolicyRule, type ResolvedManifest } from '../../templates/index.js';
import { createProject, type TempProject } from '../helpers/project.js';

const DIR = '/project/agents/subject';

function manifest(overrides: { permissions?: Partial<ResolvedManifest['permissions']>; limits?: Partial<ResolvedManifest['limits']> } = {}): ResolvedManifest {
  return {
    name: 'subject',
    version: '1.0.0',
    description: '',
    entry: 'main.ts',
    permissions: { ...DEFAULT_PERMISSIONS, read: [], write: [], net: [], env: [], spawn: [], ...overrides.permissions },
    limits: { ...DEFAULT_LIMITS, ...overrides.limits },
    pool: { prewarm: 1, reuseContext: false },
    config: {},
  };
}

function outcome(rule: PolicyRule, subject: ResolvedManifest, env = 'prod', signer?: { keyId: string; name: string }): string {
  try {
    checkPolicy({ rules: [rule], source: 'policy.json' }, { name: 'subject', env, dir: DIR, manifest: subject, ...(signer ? { signer } : {}) });
    return 'allowed';
  } catch (error) {
    expect(error).toBeInstanceOf(FactoryError);
    expect((error as FactoryError).code).toBe('E_POLICY_DENIED');
    expect((error as FactoryError).details.rule).toBe(rule.id);
    return (error as FactoryError).message;
  }
}

const denied = (rule: string, why: string) => `template "subject" is denied in prod by policy rule "${rule}" (policy.json): ${why}`;

describe('checkPolicy', () => {
  const cases: Array<[string, PolicyRule, ResolvedManifest, ResolvedManifest, string]> = [
    ['deny a permission', { id: 'no-wasm', deny: ['wasm'] }, manifest(), manifest({ permissions: { wasm: true } }), denied('no-wasm', 'permissions.wasm may not be granted')],
    ['deny a list permission', { id: 'no-spawn', deny: ['spawn'] }, manifest(), manifest({ permissions: { spawn: ['x'] } }), denied('no-spawn', 'permissions.spawn may not be granted')],
    ['write only inside allowed paths', { id: 'out-only', write: { allow: ['./out'] } }, manifest({ permissions: { write: ['./out/reports'] } }), manifest({ permissions: { write: ['./out/../secrets'] } }), denied('out-only', 'permissions.write grants "./out/../secrets", outside the allowed "./out"')],
    ['read never from denied paths', { id: 'no-etc', read: { deny: ['/etc'] } }, manifest({ permissions: { read: ['./data'] } }), manifest({ permissions: { read: ['/etc/ssl'] } }), denied('no-etc', 'permissions.read grants "/etc/ssl", which the rule denies')],
    ['net only to allowed hosts', { id: 'net-allow', net: { allow: ['*.example.com:443'] } }, manifest({ permissions: { net: ['api.example.com:443'] } }), manifest({ permissions: { net: ['api.example.com:8080'] } }), denied('net-allow', 'permissions.net grants "api.example.com:8080", outside the allowed "*.example.com:443"')],
    ['net never to denied hosts, nor through a wildcard', { id: 'no-loop', net: { deny: ['localhost'] } }, manifest({ permissions: { net: ['example.com'] } }), manifest({ permissions: { net: ['localhost:8080'] } }), denied('no-loop', 'permissions.net grants "localhost:8080", which the rule denies')],
    ['env only allowed names', { id: 'env-allow', env: { allow: ['LOG_LEVEL'] } }, manifest({ permissions: { env: ['LOG_LEVEL'] } }), manifest({ permissions: { env: ['AWS_SECRET_ACCESS_KEY'] } }), denied('env-allow', 'permissions.env grants "AWS_SECRET_ACCESS_KEY", outside the allowed "LOG_LEVEL"')],
    ['spawn only allowed templates', { id: 'spawn-allow', spawn: { allow: ['summarise'] } }, manifest({ permissions: { spawn: ['summarise'] } }), manifest({ permissions: { spawn: ['shell'] } }), denied('spawn-allow', 'permissions.spawn grants "shell", outside the allowed "summarise"')],
    ['maximum limits', { id: 'max', maxLimits: { memoryMb: 128, timeoutMs: 1000 } }, manifest({ limits: { memoryMb: 128, timeoutMs: 1000 } }), manifest({ limits: { memoryMb: 256 } }), denied('max', 'limits.memoryMb is 256, above the maximum 128')],
  ];

  it.each(cases)('%s', (_title, rule, passing, failing, message) => {
    expect(outcome(rule, passing)).toBe('allowed');
    expect(outcome(rule, failing)).toBe(message);
  });

  it('requires one of the named signers', () => {
    const rule: PolicyRule = { id: 'release-signers', requireSigners: ['release'] };
    expect(outcome(rule, manifest(), 'prod', { keyId: 'abc', name: 'release' })).toBe('allowed');
    expect(outcome(rule, manifest(), 'prod', { keyId: 'def', name: 'laptop' })).toBe(denied('release-signers', 'it is signed by laptop (def), not by one of release'));
    expect(outcome(rule, manifest(), 'prod')).toBe(denied('release-signers', 'it must be signed by one of release, and it is not signed'));
  });

  it('applies a rule only to the environments it names', () => {
    const rule: PolicyRule = { id: 'prod-only', environments: ['prod'], deny: ['wasm'] };
    const wasm = manifest({ permissions: { wasm: true } });
    expect(outcome(rule, wasm, 'dev')).toBe('allowed');
    expect(outcome(rule, wasm, 'prod')).toContain('prod-only');
  });

  it('blocks dangerous grants in prod by default', () => {
    const run = (subject: ResolvedManifest, env: string) => {
      try {
        checkPolicy(DEFAULT_POLICY, { name: 'subject', env, dir: DIR, manifest: subject });
        return 'allowed';
      } catch (error) {
        return (error as FactoryError).details.rule;
      }
    };
    expect(run(manifest({ permissions: { wasm: true } }), 'prod')).toBe('prod-no-wasm');
    expect(run(manifest({ permissions: { write: ['/tmp'] } }), 'prod')).toBe('prod-write-only-out');
    expect(run(manifest({ permissions: { net: ['127.0.0.1:6379'] } }), 'prod')).toBe('prod-no-loopback');
    expect(run(manifest({ limits: { memoryMb: 2048 } }), 'prod')).toBe('prod-max-limits');
    expect(run(manifest({ permissions: { wasm: true, write: ['/tmp'], net: ['localhost'] } }), 'dev')).toBe('allowed');
    expect(run(manifest({ permissions: { write: ['./out'], net: ['api.example.com:443'] } }), 'prod')).toBe('allowed');
  });
});

describe('hostPatternCovers', () => {
  it.each([
    ['example.com', 'example.com:443', true],
    ['example.com:443', 'example.com', false],
    ['*.example.com', 'api.example.com:8443', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', '*.api.example.com', true],
    ['api.example.com', '*.example.com', false],
    ['[::1]', '[::1]:80', true],
  ])('%s covers %s: %s', (pattern, grant, expected) => {
    expect(hostPatternCovers(pattern, grant)).toBe(expected);
  });
});

describe('loadPolicy', () => {
  let project: TempProject;
  afterEach(() => project.remove());

  it('uses the default policy when there is no policy.json', () => {
    project = createProject();
    expect(loadPolicy(`${project.root}/policy.json`, project.root)).toBe(DEFAULT_POLICY);
  });

  it('reads a valid policy file', () => {
    project = createProject({ 'policy.json': { rules: [{ id: 'no-wasm', deny: ['wasm'] }] } });
    expect(loadPolicy(`${project.root}/policy.json`, project.root)).toEqual({ source: 'policy.json', rules: [{ id: 'no-wasm', deny: ['wasm'] }] });
  });

  it.each([
    ['{ "rules": [ ] ', 'policy.json:1:16: invalid JSON: unexpected end of file; expected "," or "}"; fix policy.json'],
    ['{ "rules": [{ "id": "x", "deny": ["teleport"] }] }', 'policy.json is not a valid policy:\n  policy.json:1:35 (at /rules/0/deny/0): must be one of "read", "write", "net", "env", "kv", "spawn", "wasm", not "teleport"'],
    ['{ "rules": [{ "id": "x", "maxLimit": {} }] }', 'policy.json is not a valid policy:\n  policy.json:1:26 (at /rules/0/maxLimit): unknown key "maxLimit"'],
    ['{ "rules": [{ "id": "x" }, { "id": "x" }] }', 'policy.json: rule id "x" is used twice; rule ids must be unique'],
  ])('refuses %s with the exact problem', (text, message) => {
    project = createProject({ 'policy.json': text });
    expect(() => loadPolicy(`${project.root}/policy.json`, project.root)).toThrow(expect.objectContaining({ code: 'E_USAGE', message }));
  });
});
