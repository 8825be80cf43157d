// The signature covers the code that runs: outside dev, nothing in `.af/` (bundle cache entries, stored
// versions' bundles) and no configuration file the bundler could read (tsconfig.json, jsconfig.json,
// package.json, in the template folder or any folder above it) changes what a signed template does.
// Everything here is real: the `af` CLI in-process, real keys and signatures, real SQLite, real sandbox hosts.
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';
import { canonicalJson } from '../../core/canonical-json.js';
import { BUNDLE_FORMAT } from '../../templates/bundle.js';
import { VersionSeal, type VersionRowFields } from '../../store/version-seal.js';
import { createProject, simpleTemplate, type FileTree, type TempProject } from '../helpers/project.js';

let project: TempProject | undefined;
afterEach(() => {
  project?.remove();
  project = undefined;
});

async function af(...args: string[]) {
  return runAf((project as TempProject).root, args);
}

/** `af --env prod run NAME --json`: the output when it ran, the error code when it was refused. */
async function runInProd(name: string): Promise<{ output?: unknown; code?: string; stderr: string }> {
  const ran = await af('--env', 'prod', 'run', name, '--input', '{}', '--json');
  const report = JSON.parse(ran.stdout) as { ok: boolean; output?: unknown; error?: { code: string } };
  return report.ok ? { output: report.output, stderr: ran.stderr } : { code: report.error?.code as string, stderr: ran.stderr };
}

function bundleCacheEntries(): string[] {
  const dir = path.join((project as TempProject).root, '.af/cache/bundles');
  return readdirSync(dir).filter((file) => file.endsWith('.json')).map((file) => path.join(dir, file));
}

/** What someone who can write `.af/` does: rewrite the cached bundle's code, keeping its source hashes. */
function tamperBundleCache(from: string, to: string): number {
  let changed = 0;
  for (const file of bundleCacheEntries()) {
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { code: string };
    if (!entry.code.includes(from)) continue;
    entry.code = entry.code.split(from).join(to);
    writeFileSync(file, JSON.stringify(entry));
    changed++;
  }
  return changed;
}

async function signedProject(files: FileTree): Promise<void> {
  project = createProject(files);
  expect((await af('keys', 'init')).status).toBe(0);
  const signed = await af('sign', '--all');
  expect(signed.stdout).not.toContain('✗');
  expect(signed.status).toBe(0);
}

describe('a bundle cache entry is not trusted outside dev', () => {
  it('a cached bundle whose code was replaced is discarded: prod runs the signed code, and verify says what it found', async () => {
    await signedProject(simpleTemplate('alpha', {}, "export default () => ({ who: 'signed-code' });\n"));
    expect((await runInProd('alpha')).output).toEqual({ who: 'signed-code' });

    expect(tamperBundleCache('signed-code', 'TAMPERED!!!')).toBe(1);
    const ran = await runInProd('alpha');
    expect(ran.output).toEqual({ who: 'signed-code' });
    expect(ran.stderr).toContain('does not match the bundle agent.sig names');

    expect(tamperBundleCache('signed-code', 'TAMPERED!!!')).toBe(1);
    const verified = await af('--env', 'prod', 'verify', 'alpha');
    expect(verified.stdout).toMatch(/^✓ alpha 1\.0\.0 signed by/);
    expect(verified.stderr).toContain('does not match the bundle agent.sig names');
    expect(verified.status).toBe(0);
  });

  it('a cache entry planted before signing is not what gets signed', async () => {
    project = createProject(simpleTemplate('alpha', {}, "export default () => ({ who: 'signed-code' });\n"));
    expect((await af('run', 'alpha', '--input', '{}', '--json')).status).toBe(0);
    expect(tamperBundleCache('signed-code', 'TAMPERED!!!')).toBe(1);
    expect((await af('keys', 'init')).status).toBe(0);
    expect((await af('sign', 'alpha')).status).toBe(0);
    expect((await runInProd('alpha')).output).toEqual({ who: 'signed-code' });
  });

  it('a cache entry is not trusted for an agent.sig made before signatures covered the bundle', async () => {
    await signedProject(simpleTemplate('alpha', {}, "export default () => ({ who: 'signed-code' });\n"));
    // The format-1 agent.sig this project had before: the same digest, signed alone.
    const sigFile = path.join((project as TempProject).agentsDir, 'alpha/agent.sig');
    const current = JSON.parse(readFileSync(sigFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(sigFile, JSON.stringify(await legacySignature(current)));
    expect((await runInProd('alpha')).output).toEqual({ who: 'signed-code' });
    expect(tamperBundleCache('signed-code', 'TAMPERED!!!')).toBe(1);
    const ran = await runInProd('alpha');
    expect(ran.output).toEqual({ who: 'signed-code' });
    expect(ran.stderr).toContain('sign it again with `af sign`');
  });
});

describe('agent.sig pins the bundle', () => {
  it('a bundle hash edited into agent.sig without signing again is refused', async () => {
    await signedProject(simpleTemplate('alpha', {}, "export default () => ({ who: 'signed-code' });\n"));
    const sigFile = path.join((project as TempProject).agentsDir, 'alpha/agent.sig');
    const sig = JSON.parse(readFileSync(sigFile, 'utf8')) as { bundle: { sha256: string } };
    sig.bundle.sha256 = createHash('sha256').update('another bundle').digest('hex');
    writeFileSync(sigFile, JSON.stringify(sig));
    const ran = await runInProd('alpha');
    expect(ran.code).toBe('E_SIGNATURE_INVALID');
    expect(ran.stderr).toContain('does not verify');
  });

  it('a fresh build that differs from the signed bundle of the same bundler is refused: nothing besides the signed files may change it', async () => {
    await signedProject(simpleTemplate('alpha', {}, "export default () => ({ who: 'signed-code' });\n"));
    const sigFile = path.join((project as TempProject).agentsDir, 'alpha/agent.sig');
    const sig = JSON.parse(readFileSync(sigFile, 'utf8')) as Record<string, unknown> & { bundle: { sha256: string; bundler: string } };
    expect(sig.bundle.bundler).toBe(BUNDLE_FORMAT);
    writeFileSync(sigFile, JSON.stringify(await resign(sig, { sha256: createHash('sha256').update('another bundle').digest('hex'), bundler: BUNDLE_FORMAT })));
    rmSync(path.join((project as TempProject).root, '.af/cache'), { recursive: true, force: true });
    const ran = await runInProd('alpha');
    expect(ran.code).toBe('E_SIGNATURE_INVALID');
    expect(ran.stderr).toContain('something besides the signed files changed the build');
  });

  it('a signature from another esbuild runs a bundle built here from the verified sources, never a cached one, and says to sign again', async () => {
    await signedProject(simpleTemplate('alpha', {}, "export default () => ({ who: 'signed-code' });\n"));
    const sigFile = path.join((project as TempProject).agentsDir, 'alpha/agent.sig');
    const sig = JSON.parse(readFileSync(sigFile, 'utf8')) as Record<string, unknown>;
    const older = { sha256: createHash('sha256').update('what esbuild 0.0.1 made').digest('hex'), bundler: 'iife-__afModule-2/esbuild-0.0.1' };
    writeFileSync(sigFile, JSON.stringify(await resign(sig, older)));
    const ran = await runInProd('alpha');
    expect(ran.output).toEqual({ who: 'signed-code' });
    expect(ran.stderr).toContain('pins a bundle made by iife-__afModule-2/esbuild-0.0.1');
    expect(tamperBundleCache('signed-code', 'TAMPERED!!!')).toBe(1);
    expect((await runInProd('alpha')).output).toEqual({ who: 'signed-code' });
  });
});

describe('a stored version runs only the bundle that was signed', () => {
  async function twoVersions(): Promise<Database.Database> {
    await signedProject(simpleTemplate('alpha', {}, "export default () => ({ who: 'v1-signed' });\n"));
    const root = (project as TempProject).root;
    (project as TempProject).write('agents/alpha/agent.json', { name: 'alpha', version: '1.1.0', entry: 'main.ts' });
    (project as TempProject).write('agents/alpha/main.ts', "export default () => ({ who: 'v2-signed' });\n");
    expect((await af('sign', 'alpha')).status).toBe(0);
    expect((await af('rollout', 'alpha', '--candidate', '1.0.0', '--weight', '1')).status).toBe(0);
    expect((await runInProd('alpha')).output).toEqual({ who: 'v1-signed' });
    return new Database(path.join(root, '.af/factory.db'));
  }

  /**
   * The edits below are refused first by the version rows' seal (E_TRUST_STATE). To show that the checks behind it hold
   * on their own (a row sealed by someone holding the keys folder, or sealed before an attack on them), the edited rows
   * are then sealed again with the project's key, as only a keys-folder holder could.
   */
  async function refusedUnsealedThenReseal(db: Database.Database): Promise<void> {
    db.close();
    const unsealed = await runInProd('alpha');
    expect(unsealed.code).toBe('E_TRUST_STATE');
    expect(unsealed.stderr).toContain('version 1.0.0 of "alpha" in the store');
    const again = new Database(path.join((project as TempProject).root, '.af/factory.db'));
    const seal = new VersionSeal(path.join((project as TempProject).root, '.af/keys'));
    for (const row of again.prepare('SELECT * FROM template_versions').all() as VersionRowFields[]) {
      again.prepare('UPDATE template_versions SET seal = ? WHERE name = ? AND digest = ?').run(seal.seal(row), row.name, row.digest);
    }
    again.close();
  }

  it('UPDATE template_versions SET bundle=… makes prod refuse the version, never run the new bundle', async () => {
    const db = await twoVersions();
    const changed = db.prepare("UPDATE template_versions SET bundle = replace(bundle, 'v1-signed', 'TAMPERED!') WHERE name = 'alpha' AND version = '1.0.0'").run();
    expect(changed.changes).toBe(1);
    await refusedUnsealedThenReseal(db);
    const ran = await runInProd('alpha');
    expect(ran.output).not.toEqual({ who: 'TAMPERED!' });
    expect(ran.code).toBe('E_SIGNATURE_INVALID');
    expect(ran.stderr).toContain('stored version 1.0.0 of "alpha"');
  });

  it('another template\'s signed version copied under this name is refused', async () => {
    const db = await twoVersions();
    (project as TempProject).write('agents/beta/agent.json', { name: 'beta', version: '1.0.0', entry: 'main.ts' });
    (project as TempProject).write('agents/beta/main.ts', "export default () => ({ who: 'beta-signed' });\n");
    expect((await af('sign', 'beta')).status).toBe(0);
    db.prepare("DELETE FROM template_versions WHERE name = 'alpha' AND version = '1.0.0'").run();
    db.prepare("UPDATE template_versions SET name = 'alpha' WHERE name = 'beta'").run();
    db.prepare("UPDATE template_versions SET version = '1.0.0' WHERE name = 'alpha' AND manifest LIKE '%\"beta\"%'").run();
    await refusedUnsealedThenReseal(db);
    const ran = await runInProd('alpha');
    expect(ran.output).not.toEqual({ who: 'beta-signed' });
    expect(ran.code).toBe('E_SIGNATURE_INVALID');
  });

  it('a stored version whose agent.sig predates signed bundles is refused with a way out', async () => {
    const db = await twoVersions();
    const row = db.prepare("SELECT signature FROM template_versions WHERE name = 'alpha' AND version = '1.0.0'").get() as { signature: string };
    db.prepare("UPDATE template_versions SET signature = ? WHERE name = 'alpha' AND version = '1.0.0'").run(JSON.stringify(await legacySignature(JSON.parse(row.signature))));
    await refusedUnsealedThenReseal(db);
    const ran = await runInProd('alpha');
    expect(ran.code).toBe('E_SIGNATURE_INVALID');
    expect(ran.stderr).toContain('sign it again');
  });
});

/**
 * Files esbuild would read on its own, each with a template whose behaviour that file would change. Every
 * template returns `expected` when built as signed; the file is added after signing, the bundle cache is
 * emptied (as on a new machine), and prod must still return `expected`.
 */
const AMBIENT: Array<{ name: string; files: FileTree; source: string; expected: unknown; config: (where: string) => FileTree }> = [
  {
    name: 'tsconfig.json useDefineForClassFields (class fields become assignments that call a base setter)',
    files: {},
    source: 'class Base { set x(_v: number) { (globalThis as any).setterRan = true; } }\nclass A extends Base { x = 1; }\nexport default () => { new A(); return { setterRan: (globalThis as any).setterRan === true }; };\n',
    expected: { setterRan: false },
    config: (where) => ({ [`${where}/tsconfig.json`]: { compilerOptions: { useDefineForClassFields: false } } }),
  },
  {
    name: 'tsconfig.json target es5 (the same, through the target)',
    files: {},
    source: 'class Base { set x(_v: number) { (globalThis as any).setterRan = true; } }\nclass A extends Base { x = 1; }\nexport default () => { new A(); return { setterRan: (globalThis as any).setterRan === true }; };\n',
    expected: { setterRan: false },
    config: (where) => ({ [`${where}/tsconfig.json`]: { compilerOptions: { target: 'es5' } } }),
  },
  {
    name: 'jsconfig.json useDefineForClassFields',
    files: {},
    source: 'class Base { set x(_v: number) { (globalThis as any).setterRan = true; } }\nclass A extends Base { x = 1; }\nexport default () => { new A(); return { setterRan: (globalThis as any).setterRan === true }; };\n',
    expected: { setterRan: false },
    config: (where) => ({ [`${where}/jsconfig.json`]: { compilerOptions: { useDefineForClassFields: false } } }),
  },
  {
    name: 'tsconfig.json alwaysStrict (sloppy-mode `this` becomes undefined)',
    files: {},
    source: 'function self(this: unknown) { return this; }\nexport default () => ({ strict: (self as any)() === undefined });\n',
    expected: { strict: false },
    config: (where) => ({ [`${where}/tsconfig.json`]: { compilerOptions: { alwaysStrict: true } } }),
  },
  {
    name: 'tsconfig.json verbatimModuleSyntax (a type-only import starts running its module)',
    files: { 'side.ts': 'export type T = number;\nexport const unused = 1;\n(globalThis as any).sideRan = true;\n' },
    source: "import { unused } from './side';\nexport default () => ({ sideRan: (globalThis as any).sideRan === true });\n",
    expected: { sideRan: false },
    config: (where) => ({ [`${where}/tsconfig.json`]: { compilerOptions: { verbatimModuleSyntax: true } } }),
  },
  {
    name: 'tsconfig.json jsxFactory (JSX calls another function)',
    files: { 'view.tsx': "const React = { createElement: (tag: string) => `react:${tag}` };\nexport const h = (tag: string) => `h:${tag}`;\nexport const element = (<div />) as unknown;\n" },
    source: "import { element, h } from './view.tsx';\nexport default () => ({ element, h: typeof h });\n",
    expected: { element: 'react:div', h: 'function' },
    config: (where) => ({ [`${where}/tsconfig.json`]: { compilerOptions: { jsx: 'react', jsxFactory: 'h' } } }),
  },
  {
    name: 'package.json "type": "module" (a CommonJS default import becomes the whole exports object)',
    files: { 'legacy.cjs.js': "exports.__esModule = true;\nexports.default = 'esm-default';\n" },
    source: "import value from './legacy.cjs.js';\nexport default () => ({ value });\n",
    expected: { value: 'esm-default' },
    config: (where) => ({ [`${where}/package.json`]: { type: 'module' } }),
  },
];

describe('configuration files the bundler could read change nothing outside dev', () => {
  for (const where of ['agents/alpha', '.'] as const) {
    for (const attack of AMBIENT) {
      it(`${attack.name}, in ${where === '.' ? 'the project root' : where}`, async () => {
        const files: FileTree = { 'agents/alpha/agent.json': { name: 'alpha', version: '1.0.0', entry: 'main.ts' }, 'agents/alpha/main.ts': attack.source };
        for (const [relative, content] of Object.entries(attack.files)) files[`agents/alpha/${relative}`] = content;
        await signedProject(files);
        expect((await runInProd('alpha')).output).toEqual(attack.expected);
        for (const [relative, content] of Object.entries(attack.config(where))) (project as TempProject).write(relative, content);
        rmSync(path.join((project as TempProject).root, '.af/cache'), { recursive: true, force: true });
        const ran = await runInProd('alpha');
        expect(ran.code).toBeUndefined();
        expect(ran.output).toEqual(attack.expected);
      });
    }
  }
});

function signerKey(keyId: unknown) {
  const keysDir = path.join((project as TempProject).root, '.af/keys');
  const keyFile = readdirSync(keysDir).find((file) => file.startsWith(String(keyId)) && file.endsWith('.key.pem')) as string;
  return createPrivateKey(readFileSync(path.join(keysDir, keyFile), 'utf8'));
}

/** A format-1 agent.sig (the digest signed alone), as `af sign` wrote before signatures covered the bundle. */
async function legacySignature(current: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { bundle: _bundle, ...rest } = current;
  return { ...rest, signature: sign('sha256', Buffer.from(String(current.digest), 'utf8'), signerKey(current.keyId)).toString('base64') };
}

/** The same agent.sig, validly signed by the project's signer, pinning another bundle (format 2, spelled out here to pin it). */
async function resign(current: Record<string, unknown>, bundle: { sha256: string; bundler: string }): Promise<Record<string, unknown>> {
  const message = canonicalJson({ format: 'af-signature-2', digest: String(current.digest), bundle });
  return { ...current, bundle, signature: sign('sha256', Buffer.from(message, 'utf8'), signerKey(current.keyId)).toString('base64') };
}
