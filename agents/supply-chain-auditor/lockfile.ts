// Reads npm lockfiles of every format into one flat list of installed packages: v2/v3 keep a flat
// `packages` map keyed by install path, v1 only the nested `dependencies` tree.
export interface LockedPackage {
  /** Install path, e.g. `node_modules/a/node_modules/b`. */
  path: string;
  name: string;
  version: string;
  resolved?: string;
  integrity?: string;
  license?: string;
  hasInstallScript: boolean;
  dev: boolean;
  optional: boolean;
  /** Shipped inside its parent's tarball, so covered by the parent's integrity and never fetched itself. */
  inBundle: boolean;
}

export interface Lockfile {
  lockfileVersion: number;
  name?: string;
  packages: LockedPackage[];
  /** Names the root depends on directly, as the lockfile recorded them (v2/v3 only). */
  rootDependencies: string[] | undefined;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The package name an install path ends in (scoped names keep their scope). */
export function nameOfPath(installPath: string): string {
  const at = installPath.lastIndexOf('node_modules/');
  return at === -1 ? installPath : installPath.slice(at + 'node_modules/'.length);
}

function licenseOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  // Old packages write { "type": "MIT" }; some an array of those.
  if (isObject(value)) return text(value.type);
  if (Array.isArray(value)) return value.map(licenseOf).filter(Boolean).join(' OR ') || undefined;
  return undefined;
}

/** @throws Error when the text is not a lockfile. */
export function parseLockfile(source: string): Lockfile {
  let data: unknown;
  try {
    data = JSON.parse(source);
  } catch (error) {
    throw new Error(`package-lock.json is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(data)) throw new Error('package-lock.json is not a JSON object');
  const lockfileVersion = typeof data.lockfileVersion === 'number' ? data.lockfileVersion : 1;
  const packages: LockedPackage[] = [];
  let rootDependencies: string[] | undefined;
  if (isObject(data.packages)) {
    for (const [installPath, raw] of Object.entries(data.packages)) {
      if (!isObject(raw)) continue;
      if (installPath === '') {
        rootDependencies = [raw.dependencies, raw.devDependencies, raw.optionalDependencies, raw.peerDependencies].flatMap((deps) => (isObject(deps) ? Object.keys(deps) : []));
        continue;
      }
      // Workspace folders and links are the project's own code, not something installed from elsewhere.
      if (raw.link === true || !installPath.includes('node_modules/')) continue;
      packages.push({
        path: installPath,
        name: text(raw.name) ?? nameOfPath(installPath),
        version: text(raw.version) ?? '0.0.0',
        ...(text(raw.resolved) !== undefined ? { resolved: text(raw.resolved) } : {}),
        ...(text(raw.integrity) !== undefined ? { integrity: text(raw.integrity) } : {}),
        ...(licenseOf(raw.license) !== undefined ? { license: licenseOf(raw.license) } : {}),
        hasInstallScript: raw.hasInstallScript === true,
        dev: raw.dev === true || raw.devOptional === true,
        optional: raw.optional === true || raw.devOptional === true,
        inBundle: raw.inBundle === true,
      });
    }
  } else if (isObject(data.dependencies)) {
    const walk = (deps: Json, prefix: string) => {
      for (const [name, raw] of Object.entries(deps)) {
        if (!isObject(raw)) continue;
        const installPath = `${prefix}node_modules/${name}`;
        packages.push({
          path: installPath,
          name,
          version: text(raw.version) ?? '0.0.0',
          ...(text(raw.resolved) !== undefined ? { resolved: text(raw.resolved) } : {}),
          ...(text(raw.integrity) !== undefined ? { integrity: text(raw.integrity) } : {}),
          // v1 records neither licences nor install scripts.
          hasInstallScript: false,
          dev: raw.dev === true,
          optional: raw.optional === true,
          inBundle: raw.bundled === true,
        });
        if (isObject(raw.dependencies)) walk(raw.dependencies, `${installPath}/`);
      }
    };
    walk(data.dependencies, '');
  }
  packages.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { lockfileVersion, ...(text(data.name) !== undefined ? { name: text(data.name) } : {}), packages, rootDependencies };
}
