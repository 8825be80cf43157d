// Unit tests of the permission checks behind fetch and the file tools.
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkNet, netGrantMatches, resolveReadPath, resolveWritePath, ToolDenied } from '../../sandbox/permissions.js';

describe('netGrantMatches', () => {
  const cases: Array<[string, string, number, boolean]> = [
    ['api.example.com', 'api.example.com', 443, true],
    ['api.example.com', 'api.example.com', 8080, true],
    ['api.example.com:443', 'api.example.com', 443, true],
    ['api.example.com:443', 'api.example.com', 80, false],
    ['api.example.com', 'evil.example.com', 443, false],
    ['*.example.com', 'a.example.com', 443, true],
    ['*.example.com', 'a.b.example.com', 443, true],
    ['*.example.com', 'example.com', 443, false],
    ['*.example.com', 'badexample.com', 443, false],
    ['*.example.com:8443', 'a.example.com', 443, false],
    ['[::1]:8080', '::1', 8080, true],
    ['API.Example.COM', 'api.example.com', 443, true],
  ];
  it.each(cases)('%s admits %s:%d → %s', (grant, host, port, expected) => {
    expect(netGrantMatches(grant, host, port)).toBe(expected);
  });

  it('fills in default ports and refuses non-http schemes', () => {
    // Every entry that admits the target counts as used: neither could be removed without a second look.
    expect(checkNet(['evil.test:443', '*.test', 'other.test'], new URL('https://evil.test/x'))).toEqual(['evil.test:443', '*.test']);
    expect(checkNet(['evil.test', '*.evil.test'], new URL('https://api.evil.test/x'))).toEqual(['*.evil.test']);
    expect(() => checkNet(['evil.test:443'], new URL('http://evil.test/x'))).toThrow('Requires net access to "evil.test:80", grant it in agent.json at permissions.net');
    expect(() => checkNet(['*'], new URL('ftp://evil.test/x'))).toThrow(ToolDenied);
  });
});

describe('path checks', () => {
  const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'af-perm-')));
  const dir = path.join(base, 'tpl');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  mkdirSync(path.join(base, 'out'));
  writeFileSync(path.join(dir, 'data', 'a.txt'), 'a');
  writeFileSync(path.join(base, 'out', 's.txt'), 's');
  symlinkSync(path.join(base, 'out', 's.txt'), path.join(dir, 'data', 'link.txt'));
  symlinkSync(path.join(base, 'out'), path.join(dir, 'data-link'));

  it('reads inside a grant, by relative or absolute path', async () => {
    await expect(resolveReadPath(dir, ['./data', './out'], 'data/a.txt')).resolves.toMatchObject({ path: path.join(dir, 'data', 'a.txt'), grants: ['./data'] });
    await expect(resolveReadPath(dir, [path.join(dir, 'data')], path.join(dir, 'data', 'a.txt'))).resolves.toMatchObject({ path: path.join(dir, 'data', 'a.txt'), grants: [path.join(dir, 'data')] });
  });

  it('denies traversal, links out and grants that are themselves links out', async () => {
    await expect(resolveReadPath(dir, ['./data'], 'data/../../out/s.txt')).rejects.toThrow(ToolDenied);
    await expect(resolveReadPath(dir, ['./data'], 'data/link.txt')).rejects.toThrow(ToolDenied);
    await expect(resolveReadPath(dir, ['./data'], 'data-link/s.txt')).rejects.toThrow(ToolDenied);
    // The grant admitted the path, so it was used, though the file is missing.
    await expect(resolveReadPath(dir, ['./data'], 'data/missing.txt')).rejects.toMatchObject({ code: 'ENOENT', grants: ['./data'] });
    await expect(resolveReadPath(dir, ['./data'], '/nonexistent/x')).rejects.toThrow(ToolDenied);
  });

  it('resolves the parent for writes; a file grant admits that file only', async () => {
    await expect(resolveWritePath(dir, ['./data'], 'data/new.txt')).resolves.toMatchObject({ path: path.join(dir, 'data', 'new.txt'), grants: ['./data'] });
    await expect(resolveWritePath(dir, ['./data'], 'data-link/new.txt')).rejects.toThrow(ToolDenied);
    await expect(resolveWritePath(dir, ['./data'], 'data/link.txt')).rejects.toThrow(ToolDenied);
    await expect(resolveWritePath(dir, ['./result.json'], 'result.json')).resolves.toMatchObject({ path: path.join(dir, 'result.json'), grants: ['./result.json'] });
    await expect(resolveWritePath(dir, ['./result.json'], 'other.json')).rejects.toThrow(ToolDenied);
  });
});
