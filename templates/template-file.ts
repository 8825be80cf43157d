/** @module templates/template-file — reads one template folder's `agent.json`: size check, located JSON parse, schema check. */
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { FactoryError, formatProblem, type Problem } from '../core/errors.js';
import { byInputFileProblems } from './by-input-check.js';
import { JsonSyntaxError, type JsonSource, parseJsonSource, positionOf } from './json-source.js';
import { checkManifestSchema, MAX_MANIFEST_BYTES, type RawManifest } from './manifest.js';

export const MANIFEST_FILE = 'agent.json';

/** One template folder with its parsed, schema-checked manifest. */
export interface TemplateFile {
  name: string;
  /** Real path of the template folder. */
  dir: string;
  /** `agent.json` as shown to users: relative to the project root when inside it. */
  file: string;
  manifest: RawManifest;
  source: JsonSource;
  /** `agent.json` exactly as read and parsed into `manifest`: the one read of the file, kept so nothing reads it again. */
  text: string;
}

/**
 * Loads `<dir>/agent.json`.
 * @param dir the template folder (already checked to be inside the agents folder)
 * @param displayRoot paths in messages are shown relative to this folder
 * @throws FactoryError `E_TEMPLATE_INVALID` listing every problem, each with file, line and pointer;
 *   `E_TEMPLATE_NOT_FOUND` when there is no `agent.json`.
 */
export function loadTemplateFile(dir: string, displayRoot: string): TemplateFile {
  const realDir = realpathSync(dir);
  const manifestPath = path.join(realDir, MANIFEST_FILE);
  const file = displayPath(path.join(dir, MANIFEST_FILE), displayRoot);
  const text = readManifestText(manifestPath, file);

  let source: JsonSource;
  try {
    source = parseJsonSource(text);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    const problem: Problem = { file, line: error.line, column: error.column, message: `invalid JSON: ${error.message}` };
    throw invalid(file, [problem]);
  }

  const problems = checkManifestSchema(source, file);
  if (problems.length > 0) throw invalid(file, problems);

  const manifest = source.value as RawManifest;
  const ruleProblems = byInputFileProblems(source, file, manifest);
  if (ruleProblems.length > 0) throw invalid(file, ruleProblems);
  const folderName = path.basename(dir);
  if (manifest.name !== folderName) {
    throw invalid(file, [
      at(source, file, '/name', `name "${manifest.name}" does not match its folder "${folderName}"; rename one so they agree`),
    ]);
  }
  return { name: manifest.name, dir: realDir, file, manifest, source, text };
}

function readManifestText(manifestPath: string, file: string): string {
  let fd: number;
  try {
    fd = openSync(manifestPath, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FactoryError('E_TEMPLATE_NOT_FOUND', `${file} does not exist; a template folder needs an agent.json (run \`af init\` for an example)`, { cause: error });
    }
    throw new FactoryError('E_TEMPLATE_INVALID', `${file} cannot be read: ${(error as Error).message}`, { cause: error });
  }
  try {
    const { size } = fstatSync(fd);
    if (size > MAX_MANIFEST_BYTES) {
      // Refuse before reading: a huge manifest is a mistake or an attack, and parsing it costs memory.
      throw invalid(file, [{ file, message: `agent.json is ${formatBytes(size)}; a manifest may be at most ${formatBytes(MAX_MANIFEST_BYTES)} (move data into files the agent reads)` }]);
    }
    const buffer = Buffer.alloc(size);
    let offset = 0;
    while (offset < size) {
      const n = readSync(fd, buffer, offset, size - offset, offset);
      if (n === 0) break;
      offset += n;
    }
    return buffer.toString('utf8', 0, offset);
  } finally {
    closeSync(fd);
  }
}

/** A problem located at `pointer` in a loaded manifest. */
export function at(source: JsonSource, file: string, pointer: string, message: string): Problem {
  const position = positionOf(source, pointer);
  return { file, pointer, ...(position ? { line: position.line, column: position.column } : {}), message };
}

/** The `E_TEMPLATE_INVALID` error for a list of problems; its message lists them all. */
export function invalid(file: string, problems: Problem[], code: 'E_TEMPLATE_INVALID' | 'E_TEMPLATE_IMPORT' = 'E_TEMPLATE_INVALID'): FactoryError {
  const first = problems[0];
  const summary = problems.length === 1 && first ? formatProblem(first) : `${file} has ${problems.length} problems:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`;
  return new FactoryError(code, summary, { problems });
}

/** `target` relative to `root` when inside it, else absolute. */
export function displayPath(target: string, root: string): string {
  const relative = path.relative(root, target);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : target;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${Math.round(bytes / 1024)} KB`;
}
