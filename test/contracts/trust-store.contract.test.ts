// The TrustStore contract (core/trust-records): what signature checks and `af keys`/`af versions retire` rely on, run
// against every implementation (test/contracts/implementations).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KeyRecord, TrustStore } from '../../core/trust-records.js';
import { TRUST_STORES, type TrustFixture } from './implementations.js';

const key = (id: string, role: KeyRecord['role'], createdAt: number): KeyRecord => ({ id, role, name: `${role}-${id}`, certificatePem: `PEM ${id}`, notBefore: 0, notAfter: 10, createdAt });
const root = key('00000000000000aa', 'root', 1);
const signer = key('00000000000000bb', 'signer', 3);
const older = key('00000000000000cc', 'signer', 2);

describe.each(TRUST_STORES)('TrustStore: $name', ({ open }) => {
  let fixture: TrustFixture;
  let trust: TrustStore;
  beforeEach(async () => {
    fixture = await open();
    trust = fixture.trust;
  });
  afterEach(() => fixture.close());

  it('starts empty', async () => {
    expect(trust.keys()).toEqual([]);
    expect(trust.roots()).toEqual([]);
    expect(trust.key(root.id)).toBeUndefined();
    expect(trust.isRevoked(root.id)).toBe(false);
    expect(trust.revocation(root.id)).toBeUndefined();
    expect(trust.retirements()).toEqual([]);
  });

  it('keeps keys as given, lists them oldest first and roots apart, and replaces a key added again under its id', async () => {
    await trust.addKey(signer);
    await trust.addKey(root);
    await trust.addKey(older);
    expect(trust.keys()).toEqual([root, older, signer]);
    expect(trust.roots()).toEqual([root]);
    expect(trust.key(signer.id)).toEqual(signer);
    const renamed = { ...signer, name: 'renamed' };
    await trust.addKey(renamed);
    expect(trust.key(signer.id)).toEqual(renamed);
    expect(trust.keys()).toHaveLength(3);
  });

  it('revokes a known key once, keeping the first record, and refuses an unknown id with E_KEY_NOT_FOUND', async () => {
    await trust.addKey(signer);
    await trust.revoke(signer.id, 'leaked', 5);
    await trust.revoke(signer.id, 'again', 9);
    expect(trust.isRevoked(signer.id)).toBe(true);
    expect(trust.revocation(signer.id)).toEqual({ id: signer.id, revokedAt: 5, reason: 'leaked' });
    await expect(Promise.resolve().then(() => trust.revoke('ffffffffffffffff', 'x', 1))).rejects.toMatchObject({ code: 'E_KEY_NOT_FOUND' });
    expect(trust.isRevoked('ffffffffffffffff')).toBe(false);
  });

  it('retires a version once, keeping the first record, and lists retirements oldest first', async () => {
    await trust.retire({ name: 'hello', version: '1.1.0', retiredAt: 7, reason: 'bug', by: 'ops' });
    await trust.retire({ name: 'hello', version: '1.0.0', retiredAt: 5, reason: 'CVE', by: 'ops' });
    await trust.retire({ name: 'hello', version: '1.0.0', retiredAt: 9, reason: 'again', by: 'someone' });
    await trust.retire({ name: 'other', version: '1.0.0', retiredAt: 6, reason: 'old', by: 'ops' });
    expect(trust.retirement('hello', '1.0.0')).toEqual({ name: 'hello', version: '1.0.0', retiredAt: 5, reason: 'CVE', by: 'ops' });
    expect(trust.retirement('hello', '2.0.0')).toBeUndefined();
    expect(trust.retirements('hello').map((r) => r.version)).toEqual(['1.0.0', '1.1.0']);
    expect(trust.retirements().map((r) => `${r.name}@${r.version}`)).toEqual(['hello@1.0.0', 'other@1.0.0', 'hello@1.1.0']);
  });

  it('moves its generation on every change and never on a read, so caches can tell', async () => {
    const seen = [trust.generation];
    await trust.addKey(root);
    seen.push(trust.generation);
    trust.keys();
    trust.isRevoked(root.id);
    expect(trust.generation).toBe(seen[1]);
    await trust.revoke(root.id, 'r', 1);
    seen.push(trust.generation);
    await trust.retire({ name: 'hello', version: '1.0.0', retiredAt: 1, reason: 'r', by: 'b' });
    seen.push(trust.generation);
    expect(new Set(seen).size).toBe(4);
  });

  it('keeps everything for the next process that opens it', async () => {
    await trust.addKey(root);
    await trust.addKey(signer);
    await trust.revoke(signer.id, 'leaked', 5);
    await trust.retire({ name: 'hello', version: '1.0.0', retiredAt: 5, reason: 'CVE', by: 'ops' });
    const next = await fixture.reopen();
    expect(next.keys()).toEqual([root, signer]);
    expect(next.revocation(signer.id)).toEqual({ id: signer.id, revokedAt: 5, reason: 'leaked' });
    expect(next.retirement('hello', '1.0.0')).toMatchObject({ reason: 'CVE', by: 'ops' });
  });
});
