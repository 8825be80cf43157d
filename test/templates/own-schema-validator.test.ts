// The manifest and policy validators the build generates as code report exactly what the compiled schemas report.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkManifestSchema, loadPolicy, parseJsonSource } from '../../templates/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// `npm test` builds dist/ first; the generated validators live there.
const built = (await import(path.join(REPO, 'dist/templates/index.js'))) as typeof import('../../templates/index.js');

function* manifests(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) yield* manifests(full);
    else if (name === 'agent.json') yield full;
  }
}

describe('generated validators', () => {
  it('are written by the build beside the modules that use them', () => {
    expect(existsSync(path.join(REPO, 'dist/templates/manifest.validate.cjs'))).toBe(true);
    expect(existsSync(path.join(REPO, 'dist/templates/policy.validate.cjs'))).toBe(true);
  });

  it('report the same manifest problems as the schema compiled at run time, on every fixture and bundled agent', () => {
    let invalid = 0;
    for (const file of [...manifests(path.join(REPO, 'test/fixtures')), ...manifests(path.join(REPO, 'agents'))]) {
      let source;
      try {
        source = parseJsonSource(readFileSync(file, 'utf8'));
      } catch {
        continue; // malformed JSON never reaches the schema
      }
      const fromSource = checkManifestSchema(source, file);
      expect(built.checkManifestSchema(source, file), file).toEqual(fromSource);
      if (fromSource.length > 0) invalid++;
    }
    // The fixtures include manifests with unknown keys, wrong types and pattern violations.
    expect(invalid).toBeGreaterThanOrEqual(3);
  });

  it('report the same policy problems, with line and pointer', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'af-policy-'));
    try {
      const file = path.join(dir, 'policy.json');
      writeFileSync(file, '{\n  "rules": [\n    { "id": "x", "environments": "prod", "colour": 1 }\n  ]\n}\n');
      const failure = (load: typeof loadPolicy) => {
        try {
          load(file, dir);
        } catch (error) {
          return { code: (error as { code: string }).code, message: (error as Error).message };
        }
        throw new Error('the malformed policy was accepted');
      };
      const fromSource = failure(loadPolicy);
      expect(fromSource.code).toBe('E_USAGE');
      expect(fromSource.message).toContain('policy.json:3');
      expect(failure(built.loadPolicy)).toEqual(fromSource);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
