// The scoring rules: each names what it checks, what one finding costs and the most it can take, so every
// deducted point in a report traces back to a rule and to the packages that triggered it.
export interface Rule {
  id: string;
  description: string;
  pointsEach: number;
  maxPoints: number;
}

export const RULES: readonly Rule[] = [
  { id: 'missing-integrity', description: 'a package installed from a tarball has no "integrity" hash, so a changed tarball goes unnoticed', pointsEach: 5, maxPoints: 30 },
  { id: 'insecure-resolved', description: 'a package is fetched over a protocol without TLS (http:, git:)', pointsEach: 10, maxPoints: 30 },
  { id: 'non-registry-resolved', description: 'a package comes from somewhere other than the registry (another host, git, a local file)', pointsEach: 3, maxPoints: 15 },
  { id: 'install-script', description: 'a package runs an install script (preinstall, install, postinstall) when installed', pointsEach: 2, maxPoints: 20 },
  { id: 'duplicate-versions', description: 'a package is installed in more than one version (one point per extra version)', pointsEach: 1, maxPoints: 10 },
  { id: 'unknown-license', description: 'a package declares no licence', pointsEach: 1, maxPoints: 5 },
  { id: 'not-locked', description: 'package.json declares a dependency the lockfile does not record (run npm install)', pointsEach: 2, maxPoints: 10 },
];
