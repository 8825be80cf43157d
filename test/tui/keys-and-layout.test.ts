// The UI as a person at a terminal uses it: keys that arrive in one read, q and :q, a filter that applies as it is
// typed, a progress bar that counts, text that wraps in detail views, 80x24, and counts in the right number.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFactory, type AgentFactory } from '../../runtime/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { command, drive, type Driven, KEY, tick } from './helpers.js';

let project: TempProject;
let factory: AgentFactory;
const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];

beforeAll(async () => {
  project = createProject(Object.assign({}, ...NAMES.map((name) => simpleTemplate(name, { input: { type: 'object', required: ['x'], properties: { x: { type: 'number' } } } }))));
  factory = await createFactory({ root: project.root, isolation: 'inline' });
  await factory.runSettled('alpha', { x: 1 });
  await factory.runSettled('bravo', { nope: 1 });
  await factory.store!.runs.flush();
});

afterAll(async () => {
  await factory.close();
  project.remove();
});

/** The line the selection marker is on. */
function selectedLine(frame: string): string {
  return frame.split('\n').find((line) => line.startsWith('› ')) ?? '';
}

/** Whether the app still reads the terminal: Ink stops listening to stdin when the app exits. */
function isReading(ui: Driven): boolean {
  return ui.stdin.listenerCount('readable') > 0;
}

function resize(ui: Driven, columns: number, rows: number): void {
  Object.defineProperty(ui.stdout, 'columns', { value: columns, configurable: true });
  Object.defineProperty(ui.stdout, 'rows', { value: rows, configurable: true });
  ui.stdout.emit('resize');
}

describe('keys that arrive together', () => {
  it('moves one row per j when "jjjj" arrives in one read, and k moves back the same way', async () => {
    const ui = drive({ factory });
    try {
      await ui.waitFor('foxtrot');
      expect(selectedLine(ui.frame())).toContain('alpha');
      await ui.type('jjjj');
      await ui.waitFor(/› echo/);
      await ui.type('kk');
      await ui.waitFor(/› charlie/);
    } finally {
      ui.unmount();
    }
  });

  it('runs a command typed with its Enter in one read, then handles the keys after it', async () => {
    const ui = drive({ factory });
    try {
      await ui.waitFor('foxtrot');
      await ui.type(`:runs${KEY.enter}`);
      await ui.waitFor('STARTED (UTC)');
      // The command line closed: the next key is the view's, not more text on the line.
      await ui.type(`:audit${KEY.enter}?`);
      await ui.waitFor('Keys in audit');
    } finally {
      ui.unmount();
    }
  });

  it('types a pasted input and its Enter into the run editor, in order', async () => {
    const ui = drive({ factory });
    try {
      await command(ui, 'run alpha');
      await ui.waitFor('input › {"x":0}');
      await ui.type(`${KEY.backspace.repeat(7)}{"x":42}${KEY.enter}`);
      await ui.waitFor('"x": 42');
    } finally {
      ui.unmount();
    }
  });
});

describe('quitting', () => {
  it('quits on q', async () => {
    const ui = drive({ factory });
    try {
      await ui.waitFor('foxtrot');
      expect(isReading(ui)).toBe(true);
      await ui.type('q');
      await tick(100);
      expect(isReading(ui)).toBe(false);
    } finally {
      ui.unmount();
    }
  });

  it('quits on :q and Enter, but q is text while the command line or a text field is open', async () => {
    const ui = drive({ factory });
    try {
      await ui.waitFor('foxtrot');
      await ui.type(':');
      await ui.type('q');
      expect(isReading(ui)).toBe(true);
      expect(ui.frame()).toContain(':q');
      await ui.type(KEY.enter);
      await tick(100);
      expect(isReading(ui)).toBe(false);
    } finally {
      ui.unmount();
    }
  });

  it('lists q and :q among the global keys', async () => {
    const ui = drive({ factory });
    try {
      await ui.waitFor('foxtrot');
      await ui.type('?');
      expect(await ui.waitFor('Global keys')).toMatch(/q \/ :q\s+quit/);
    } finally {
      ui.unmount();
    }
  });
});

describe('the / filter', () => {
  it('applies as it is typed, before Enter; / starts a fresh filter; Esc on the line puts the old one back', async () => {
    const ui = drive({ factory });
    try {
      await ui.waitFor('foxtrot');
      await ui.type('/');
      await ui.type('ch');
      // No Enter yet: the list already shows only the matches.
      const live = await ui.waitFor(/NAME[\s\S]*charlie(?![\s\S]*foxtrot)/);
      expect(live).not.toContain('alpha');
      await ui.type(KEY.enter);
      await ui.waitFor('/ch');

      // A second / starts from nothing, not from "ch".
      await ui.type('/');
      await ui.type('fox');
      const fresh = await ui.waitFor(/NAME[\s\S]*foxtrot/);
      expect(fresh).not.toContain('charlie');
      expect(fresh).not.toContain('/chfox');

      // Esc on the line cancels this edit: the filter from before is back.
      await ui.type(KEY.esc);
      await ui.waitFor(/NAME[\s\S]*charlie(?![\s\S]*foxtrot)/);
    } finally {
      ui.unmount();
    }
  });
});

describe(':learn', () => {
  it('shows a progress bar that counts templates, never 0/0', async () => {
    const ui = drive({ factory });
    try {
      await ui.waitFor('foxtrot');
      await command(ui, 'learn');
      await ui.waitFor(/learned from \d+ runs? of \d+ templates?/, 60_000);
      const frames = ui.frames.filter((frame) => frame.includes('learning'));
      expect(frames.length).toBeGreaterThan(0);
      expect(frames.filter((frame) => frame.includes('0/0'))).toEqual([]);
      // Two templates have runs: the bar counts to 2 from the start.
      expect(frames.some((frame) => /learning .*[░█]+ 0\/2/.test(frame))).toBe(true);
    } finally {
      ui.unmount();
    }
  });
});

describe('detail views', () => {
  it('wraps a long audit message in "show data" instead of cutting it', async () => {
    const message = `${'a long explanation of what happened, '.repeat(8)}THE-END`;
    factory.store!.audit.append({ type: 'note.long', actor: 'ada', subject: 'alpha', data: { message } });
    const ui = drive({ factory, initialRoute: { view: 'audit' } });
    try {
      await ui.waitFor('note.long');
      await ui.type(KEY.enter);
      const detail = await ui.waitFor('THE-END');
      expect(detail).toContain('"message"');
      for (const line of detail.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    } finally {
      ui.unmount();
    }
  });
});

describe('at 80x24', () => {
  it('keeps the columns that matter on screen, every line within 80 columns and the frame within 24 rows', async () => {
    const ui = drive({ factory });
    try {
      resize(ui, 80, 24);
      await ui.waitFor('foxtrot');
      await command(ui, 'runs');
      const runs = await ui.waitFor('E_INPUT_INVALID');
      const runId = factory.store!.queries.list({ limit: 10 }).find((run) => run.template === 'bravo')!.id;
      // The run's id is the last column: it used to fall off the right edge with tenant and create time.
      expect(runs).toContain(runId.slice(-8));
      expect(runs).toMatch(/OUTCOME/);
      for (const line of runs.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
      expect(runs.split('\n').length).toBeLessThanOrEqual(24);

      await ui.type('?');
      const help = await ui.waitFor('Keys in runs');
      expect(help.split('\n').length).toBeLessThanOrEqual(24);
    } finally {
      ui.unmount();
    }
  });
});

describe('counts', () => {
  it('says "1 run" and "1 error", not "1 runs" and "1 errors"', async () => {
    const own = createProject(simpleTemplate('solo', { input: { type: 'object', required: ['x'], properties: { x: { type: 'number' } } } }));
    const soloFactory = await createFactory({ root: own.root, isolation: 'inline' });
    const ui = drive({ factory: soloFactory, refreshMs: 50 });
    try {
      await soloFactory.runSettled('solo', { nope: 1 });
      await soloFactory.store!.runs.flush();
      await command(ui, 'runs');
      const runs = await ui.waitFor('E_INPUT_INVALID');
      expect(runs).toMatch(/\b1 run \(filter with/);
      await command(ui, 'live');
      const live = await ui.waitFor(/last 60s: 1 run, 1 error\b/);
      expect(live).toMatch(/solo .* 1 run p95/);
    } finally {
      ui.unmount();
      await soloFactory.close();
      own.remove();
    }
  });
});
