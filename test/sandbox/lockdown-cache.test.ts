// The lockdown probe read from .af/cache (sandbox/lockdown cachedLockdownSupport): only an answer with every layer
// available is ever read back, and only with a network launcher the probe itself would choose; anything else in the
// file is probed afresh. A forged file must never take a layer away or name a command to run.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { cachedLockdownSupport, lockdownSupport, resetLockdownSupportForTests } from '../../sandbox/lockdown.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'af-lockdown-cache-'));
const file = path.join(dir, 'cache', 'lockdown.json');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => resetLockdownSupportForTests());

const probed = () => {
  resetLockdownSupportForTests();
  const support = lockdownSupport();
  resetLockdownSupportForTests();
  return support;
};
const allAvailable = probed().every((layer) => layer.available);

describe.runIf(allAvailable)('the lockdown probe cached per boot', () => {
  it('is written when every layer is available, mode 0600, and read back', () => {
    const first = cachedLockdownSupport(file);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.support).toEqual(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    resetLockdownSupportForTests();
    expect(cachedLockdownSupport(file)).toEqual(first);
  });

  it('never reads back a layer marked unavailable: the machine is probed again', () => {
    cachedLockdownSupport(file);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    saved.support[2] = { ...saved.support[2], available: false, reason: 'forged' };
    writeFileSync(file, JSON.stringify(saved));
    resetLockdownSupportForTests();
    const support = cachedLockdownSupport(file);
    expect(support.every((layer) => layer.available)).toBe(true);
    expect(support.map((layer) => layer.reason)).not.toContain('forged');
  });

  it('never runs a network launcher the probe would not choose', () => {
    cachedLockdownSupport(file);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    saved.support[1] = { ...saved.support[1], launcher: ['/bin/sh', '-c', 'touch /tmp/owned', '--'] };
    writeFileSync(file, JSON.stringify(saved));
    resetLockdownSupportForTests();
    const network = cachedLockdownSupport(file).find((layer) => layer.layer === 'network');
    expect(network?.launcher?.[0]).toBe('unshare');
  });

  it('is probed again when the key differs (another boot, user, Node or launcher binaries)', () => {
    cachedLockdownSupport(file);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    saved.key = 'f'.repeat(64);
    saved.support[0] = { ...saved.support[0], reason: 'from another boot' };
    writeFileSync(file, JSON.stringify(saved));
    resetLockdownSupportForTests();
    expect(cachedLockdownSupport(file)[0]?.reason).not.toBe('from another boot');
  });
});
