// The terminal UI runs what is on disk in dev: an edit of main.ts is picked up by the next run without a restart, the
// run view says which version and digest ran, and ctrl+r reloads even when no file event arrived.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFactory } from '../../runtime/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { command, drive, KEY } from './helpers.js';

let project: TempProject;

beforeEach(() => {
  project = createProject(simpleTemplate('hi', {}, "export default () => ({ said: 'before-edit' });\n"));
});

afterEach(() => project.remove());

const edit = () => writeFileSync(path.join(project.agentsDir, 'hi', 'main.ts'), "export default () => ({ said: 'after-edit' });\n");

describe('the run view in dev', () => {
  it('runs the edited main.ts on the next run, and names the version and digest that ran', async () => {
    // As `af` opens the UI: a long-lived factory with the defaults.
    const factory = await createFactory({ root: project.root, isolation: 'inline' });
    const ui = drive({ factory });
    try {
      await command(ui, 'run hi');
      await ui.waitFor('input › {}');
      await ui.type(KEY.enter);
      const first = await ui.waitFor('"said": "before-edit"');
      const digest = /ran 1\.0\.0 ([0-9a-f]{12}) on-disk unsigned/.exec(first)?.[1];
      expect(digest).toBeDefined();
      edit();
      await ui.type(KEY.esc);
      await ui.waitFor('<r/enter> run again');
      let frame = '';
      // The watcher reloads within milliseconds of the save: run again until it has.
      for (let attempt = 0; attempt < 50 && !frame.includes('after-edit'); attempt++) {
        await ui.type('r');
        frame = await ui.waitFor(`run #${attempt + 2}`);
      }
      expect(frame).toContain('"said": "after-edit"');
      expect(frame).toMatch(/ran 1\.0\.0 [0-9a-f]{12} on-disk unsigned/);
      expect(frame).not.toContain(`ran 1.0.0 ${digest}`);
    } finally {
      ui.unmount();
      await factory.close();
    }
  });

  it('ctrl+r on the templates view reloads every template from disk, even without a file event', async () => {
    // No watcher at all: only ctrl+r can tell the factory about the edit.
    const factory = await createFactory({ root: project.root, isolation: 'inline', watch: false });
    const ui = drive({ factory });
    try {
      expect((await factory.run('hi', {})).output).toEqual({ said: 'before-edit' });
      edit();
      expect((await factory.run('hi', {})).output).toEqual({ said: 'before-edit' });
      await ui.waitFor(/hi\s+1\.0\.0/);
      await ui.type('\u0012'); // ctrl+r
      await command(ui, 'run hi');
      await ui.waitFor('input › {}');
      await ui.type(KEY.enter);
      expect(await ui.waitFor('"said"')).toContain('"said": "after-edit"');
    } finally {
      ui.unmount();
      await factory.close();
    }
  });
});
