// `debug` in agent.json: capture of failed runs is off unless a template (or its environment) turns it on, and it is
// covered by the digest, so turning it on needs a new signature.
import { describe, expect, it } from 'vitest';
import { applyEnvironment, type RawManifest } from '../../templates/index.js';
import { templateDigest } from '../../templates/resolve.js';

const BASE: RawManifest = { name: 'hello', version: '1.0.0', entry: 'main.ts' };

describe('debug settings', () => {
  it('are absent unless capture is turned on, and default to 64 KB per part', () => {
    expect(applyEnvironment(BASE, 'dev').debug).toBeUndefined();
    expect(applyEnvironment({ ...BASE, debug: { captureFailures: false } }, 'dev').debug).toBeUndefined();
    expect(applyEnvironment({ ...BASE, debug: { captureFailures: true } }, 'dev').debug).toEqual({ captureFailures: true, maxCaptureKb: 64 });
  });

  it('can be turned on or off per environment', () => {
    const manifest: RawManifest = { ...BASE, debug: { captureFailures: true, maxCaptureKb: 8 }, environments: { prod: { debug: null }, staging: { debug: { maxCaptureKb: 16 } } } };
    expect(applyEnvironment(manifest, 'dev').debug).toEqual({ captureFailures: true, maxCaptureKb: 8 });
    expect(applyEnvironment(manifest, 'staging').debug).toEqual({ captureFailures: true, maxCaptureKb: 16 });
    expect(applyEnvironment(manifest, 'prod').debug).toBeUndefined();
    const stagingOnly: RawManifest = { ...BASE, environments: { staging: { debug: { captureFailures: true } } } };
    expect(applyEnvironment(stagingOnly, 'staging').debug?.captureFailures).toBe(true);
    expect(applyEnvironment(stagingOnly, 'prod').debug).toBeUndefined();
  });

  it('are part of the signed digest', () => {
    const sources = { 'main.ts': 'a'.repeat(64) };
    expect(templateDigest({ ...BASE, debug: { captureFailures: true } }, sources)).not.toBe(templateDigest(BASE, sources));
  });
});
