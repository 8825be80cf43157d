// Creates throwaway project folders on disk for tests, from a map of relative paths to contents.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type FileTree = Record<string, string | object>;

export interface TempProject {
  root: string;
  agentsDir: string;
  write(relative: string, content: string | object): void;
  remove(): void;
}

/** Writes `files` (objects are written as pretty JSON) under a new temp folder. */
export function createProject(files: FileTree = {}): TempProject {
  const root = mkdtempSync(path.join(os.tmpdir(), 'af-test-'));
  const write = (relative: string, content: string | object) => {
    const target = path.join(root, relative);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  };
  for (const [relative, content] of Object.entries(files)) write(relative, content);
  return { root, agentsDir: path.join(root, 'agents'), write, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** A minimal valid template: manifest plus a one-line agent. */
export function simpleTemplate(name: string, manifest: Record<string, unknown> = {}, source = 'export default (input) => input;\n'): FileTree {
  return {
    [`agents/${name}/agent.json`]: { name, version: '1.0.0', entry: 'main.ts', ...manifest },
    [`agents/${name}/main.ts`]: source,
  };
}
