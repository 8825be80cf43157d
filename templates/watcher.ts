/** @module templates/watcher — watches the agents folder and every template folder in it, and reports which templates changed. */
import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/logger.js';

/** Events within this window are reported together: an editor's save is often several events. */
const DEBOUNCE_MS = 15;

/** Folders never watched: they hold no template source. */
const SKIPPED = new Set(['node_modules', '.git']);

/**
 * Watches `agentsDir` and each folder below it with one non-recursive `fs.watch` per folder
 * (recursive watching on Linux is unreliable on Node 20), adding watchers as folders appear.
 */
export class TemplateWatcher {
  readonly #agentsDir: string;
  readonly #onChange: (names: ReadonlySet<string>) => void;
  readonly #logger: Logger;
  readonly #watchers = new Map<string, FSWatcher>();
  #pending = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #isClosed = false;

  constructor(agentsDir: string, onChange: (names: ReadonlySet<string>) => void, logger: Logger) {
    this.#agentsDir = path.resolve(agentsDir);
    this.#onChange = onChange;
    this.#logger = logger;
    this.#watchTree(this.#agentsDir);
  }

  close(): void {
    this.#isClosed = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  #watchTree(dir: string): void {
    if (this.#isClosed || this.#watchers.has(dir)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false }, (_event, filename) => this.#onEvent(dir, filename?.toString() ?? ''));
    } catch (error) {
      this.#logger.debug(`cannot watch ${dir}: ${(error as Error).message}`);
      return;
    }
    watcher.on('error', () => {
      // The folder went away; forget its watcher so a re-created folder is watched again.
      watcher.close();
      this.#watchers.delete(dir);
    });
    this.#watchers.set(dir, watcher);
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (SKIPPED.has(entry)) continue;
      const child = path.join(dir, entry);
      try {
        if (statSync(child).isDirectory()) this.#watchTree(child);
      } catch {
        // Vanished between readdir and stat.
      }
    }
  }

  #onEvent(dir: string, filename: string): void {
    const changed = path.join(dir, filename);
    const relative = path.relative(this.#agentsDir, changed);
    const name = relative.split(path.sep)[0];
    if (!name || name.startsWith('..')) return;
    // A new folder (or one re-created by an editor's rename) needs its own watcher.
    try {
      if (statSync(changed).isDirectory()) this.#watchTree(changed);
    } catch {
      // Deleted: its watcher reports an error and is dropped.
    }
    this.#pending.add(name);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const names = this.#pending;
      this.#pending = new Set();
      if (!this.#isClosed) this.#onChange(names);
    }, DEBOUNCE_MS);
    this.#timer.unref?.();
  }
}
