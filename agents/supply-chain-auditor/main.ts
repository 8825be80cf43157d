// Audits a lockfile (and its package.json) and scores it out of 100. It reads only what its template grants
// (./project); `af audit` copies a project's two files there, and callers that already hold the text pass it in.
import { defineAgent, type Context } from 'agent-factory/agent';
import { type LockedPackage, parseLockfile } from './lockfile.ts';
import { RULES } from './rules.ts';

interface Input {
  dir?: string;
  lockfile?: string;
  manifest?: string;
  registry?: string;
}

type Config = { registry?: string; dir?: string; listMax?: number };

interface Finding {
  path: string;
  name: string;
  version: string;
  detail?: string;
}

async function readOptional(ctx: Context<Config>, file: string): Promise<string | undefined> {
  try {
    return await ctx.readTextFile(file);
  } catch (error) {
    // A missing package.json is reported, not fatal; a denied read is a misuse the caller must see.
    if ((error as { code?: string }).code === 'E_PERMISSION_DENIED') throw error;
    return undefined;
  }
}

/** The kind of source a `resolved` value points at, against the expected registry. */
function classify(resolved: string, registry: URL): 'registry' | 'insecure' | 'elsewhere' {
  if (/^(http|git):/i.test(resolved)) return 'insecure';
  let url: URL;
  try {
    url = new URL(resolved);
  } catch {
    return 'elsewhere';
  }
  if (url.protocol === 'https:' && url.host === registry.host && url.pathname.startsWith(registry.pathname)) return 'registry';
  return 'elsewhere';
}

/** Orders versions numerically part by part ("8.0.0" before "10.6.0"); prerelease tags compare as text. */
function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/);
  const pb = b.split(/[.+-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const difference = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
    if (difference !== 0) return difference;
  }
  return 0;
}

export default defineAgent(async function run(input: Input, ctx: Context<Config>) {
  const dir = input.dir ?? ctx.config.dir ?? 'project';
  const listMax = ctx.config.listMax ?? 50;
  const registry = new URL(input.registry ?? ctx.config.registry ?? 'https://registry.npmjs.org/');
  const lockText = input.lockfile ?? (ctx.readTextFile ? await ctx.readTextFile(`${dir}/package-lock.json`) : undefined);
  if (lockText === undefined) throw new Error('no lockfile: pass "lockfile" or grant read on the project folder');
  const manifestText = input.manifest ?? (input.lockfile === undefined ? await readOptional(ctx, `${dir}/package.json`) : undefined);
  const lock = parseLockfile(lockText);
  const manifest = manifestText === undefined ? undefined : (JSON.parse(manifestText) as Record<string, unknown>);

  const findings: Record<string, Finding[]> = Object.fromEntries(RULES.map((rule) => [rule.id, []]));
  const add = (rule: string, pkg: LockedPackage, detail?: string) =>
    findings[rule]?.push({ path: pkg.path, name: pkg.name, version: pkg.version, ...(detail !== undefined ? { detail } : {}) });
  const versions = new Map<string, Set<string>>();
  const licenses = new Map<string, number>();
  for (const pkg of lock.packages) {
    let seen = versions.get(pkg.name);
    if (!seen) versions.set(pkg.name, (seen = new Set()));
    seen.add(pkg.version);
    const license = pkg.license ?? 'UNKNOWN';
    licenses.set(license, (licenses.get(license) ?? 0) + 1);
    if (pkg.license === undefined && lock.lockfileVersion >= 2) add('unknown-license', pkg);
    if (pkg.hasInstallScript) add('install-script', pkg);
    if (pkg.inBundle) continue;
    if (pkg.resolved === undefined) {
      // npm omits `resolved` for packages it could not place on a registry; without it there is no integrity either.
      if (pkg.integrity === undefined) add('missing-integrity', pkg, 'no resolved URL and no integrity');
      continue;
    }
    const source = classify(pkg.resolved, registry);
    if (source === 'insecure') add('insecure-resolved', pkg, pkg.resolved);
    else if (source === 'elsewhere') add('non-registry-resolved', pkg, pkg.resolved);
    // git dependencies are pinned by commit, not by a tarball hash, so they cannot carry one.
    if (pkg.integrity === undefined && !/^git(\+|:)/.test(pkg.resolved)) add('missing-integrity', pkg, pkg.resolved);
  }
  const duplicates = [...versions]
    .filter(([, set]) => set.size > 1)
    .map(([name, set]) => ({ name, versions: [...set].sort(compareVersions) }))
    .sort((a, b) => b.versions.length - a.versions.length || (a.name < b.name ? -1 : 1));
  for (const duplicate of duplicates) {
    for (const version of duplicate.versions.slice(1)) findings['duplicate-versions']?.push({ path: '', name: duplicate.name, version });
  }
  if (manifest) {
    const declared = ['dependencies', 'devDependencies', 'optionalDependencies'].flatMap((key) => Object.entries((manifest[key] as Record<string, string> | undefined) ?? {}));
    const installed = new Set(lock.packages.filter((pkg) => pkg.path === `node_modules/${pkg.name}`).map((pkg) => pkg.name));
    const recorded = new Set(lock.rootDependencies ?? []);
    for (const [name, range] of declared) {
      if (!installed.has(name) && !recorded.has(name)) findings['not-locked']?.push({ path: `node_modules/${name}`, name, version: String(range) });
    }
  }

  const deductions = RULES.flatMap((rule) => {
    const list = findings[rule.id] ?? [];
    if (list.length === 0) return [];
    const points = Math.min(rule.maxPoints, list.length * rule.pointsEach);
    return [{ rule: rule.id, description: rule.description, count: list.length, pointsEach: rule.pointsEach, maxPoints: rule.maxPoints, points, packages: list.slice(0, listMax) }];
  });
  const deducted = deductions.reduce((sum, deduction) => sum + deduction.points, 0);
  return {
    project: (manifest?.name as string | undefined) ?? lock.name ?? null,
    lockfileVersion: lock.lockfileVersion,
    registry: registry.href,
    packages: lock.packages.length,
    dev: lock.packages.filter((pkg) => pkg.dev).length,
    score: Math.max(0, 100 - deducted),
    deductions,
    missingIntegrity: (findings['missing-integrity'] ?? []).slice(0, listMax),
    nonRegistry: [...(findings['insecure-resolved'] ?? []), ...(findings['non-registry-resolved'] ?? [])].slice(0, listMax),
    installScripts: (findings['install-script'] ?? []).map((finding) => finding.path).slice(0, listMax),
    duplicates: duplicates.slice(0, listMax),
    licenses: Object.fromEntries([...licenses].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
    hasManifest: manifest !== undefined,
  };
});
