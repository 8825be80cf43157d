/** @module sandbox/isolated-vm-info — which isolated-vm this process loads, and whether that line has the fix for GHSA-864f-rcv7-6rh4. */
import { createRequire } from 'node:module';

/** The version of the isolated-vm package the sandbox loads; undefined when it cannot be found. */
export function isolatedVmVersion(): string | undefined {
  try {
    return (createRequire(import.meta.url)('isolated-vm/package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Whether `version` has the fix for the `ExternalCopy` isolate escape (GHSA-864f-rcv7-6rh4): 6.2.0+ on 6.x, 7.0.1+ on 7.x, any later major. */
export function isPatchedIsolatedVm(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split(/[.+-]/).map((part) => Number(part) || 0);
  if (major >= 8) return true;
  if (major === 7) return minor > 0 || patch >= 1;
  if (major === 6) return minor >= 2;
  return false;
}
