// The live view under a steady load for a bounded time: the heap after a full GC does not keep growing, React's
// render timings do not pile up in the performance timeline, and the history is a ring buffer. Numbers over ten
// minutes in a real terminal are in benchmarks/tui-memory.mjs.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFactory, type AgentFactory } from '../../runtime/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

// React's development build times renders into the performance timeline only where console.timeStamp exists, as it
// does in node but not on the test runner's console; without it this test could not see what a terminal session does.
// React reads it once, when it loads: hence the imports below come after.
const runnerConsole = console as Console & { timeStamp?: (label?: string) => void };
if (typeof runnerConsole.timeStamp !== 'function') runnerConsole.timeStamp = () => {};
// Ink (through is-in-ci) decides on first import whether anyone watches: with CI set it draws nothing until unmount,
// as `af`'s UI command knows (it hides these variables while Ink loads); this test watches, so it does the same.
const ciVariables = ['CI', 'CONTINUOUS_INTEGRATION'].map((name) => [name, process.env[name]] as const);
for (const [name] of ciVariables) delete process.env[name];
const { createElement } = await import('react');
const { render } = await import('ink');
const { App, createTuiServices } = await import('../../tui/index.js');
const { RingBuffer } = await import('../../tui/ring-buffer.js');
for (const [name, value] of ciVariables) if (value !== undefined) process.env[name] = value;

/** A terminal that keeps only its last frame (ink-testing-library keeps every frame, which would be the leak). */
class Terminal extends EventEmitter {
  readonly isTTY = true;
  columns = 120;
  rows = 40;
  last = '';
  write = (text: string): boolean => {
    // Frames, not the synchronized-output markers written around them.
    if (text.length > 40) this.last = text;
    return true;
  };
}

class Keyboard extends EventEmitter {
  readonly isTTY = true;
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
  read(): null {
    return null;
  }
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage().heapUsed;
}

let project: TempProject;
let factory: AgentFactory;

beforeAll(async () => {
  project = createProject({ ...simpleTemplate('steady'), ...simpleTemplate('failing', {}, 'export default () => { throw new Error("no"); };\n') });
  factory = await createFactory({ root: project.root, isolation: 'inline' });
});

afterAll(async () => {
  await factory.close();
  project.remove();
});

describe('the live view under a steady load', () => {
  it('keeps the heap flat after GC and React timings bounded over 75 s of runs, redrawing as they come', async () => {
    let isLoading = true;
    let runs = 0;
    const load = (async () => {
      while (isLoading) {
        await factory.runSettled(runs % 5 === 0 ? 'failing' : 'steady', { n: runs });
        runs++;
        await sleep(40);
      }
    })();
    const stdout = new Terminal();
    const services = createTuiServices({ factory, isTTY: false, env: {}, actor: 'ada', refreshMs: 50, initialRoute: { view: 'live' } });
    const instance = render(createElement(App, { services }), {
      stdout: stdout as unknown as NodeJS.WriteStream,
      stdin: new Keyboard() as unknown as NodeJS.ReadStream,
      stderr: new Terminal() as unknown as NodeJS.WriteStream,
      exitOnCtrlC: false,
      patchConsole: false,
    });
    try {
      // Warm up: code compiled, pools and caches filled, the minute's window of runs filling.
      await sleep(15_000);
      const before = await heapAfterGc();
      await sleep(60_000);
      const after = await heapAfterGc();
      const growthMb = (after - before) / 1024 / 1024;
      console.info(`live view, ${runs} runs: heap after GC ${(before / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MB`);
      expect(stdout.last).toMatch(/steady .*\d+ runs p95/);
      expect(stdout.last).toMatch(/errors E_\w+ \d+/);
      expect(runs).toBeGreaterThan(500);
      // Every render in React's development build used to leave entries in the timeline (megabytes a minute here).
      expect(performance.getEntriesByType('measure').length).toBeLessThan(5000);
      // With the leak this was tens of megabytes; a flat heap moves by a few.
      expect(growthMb).toBeLessThan(8);
    } finally {
      isLoading = false;
      await load;
      instance.unmount();
    }
  }, 120_000);
});

describe('RingBuffer', () => {
  it('keeps at most its capacity, newest first, dropping the oldest', () => {
    const ring = new RingBuffer<number>(3);
    for (let i = 1; i <= 10; i++) ring.push(i);
    expect(ring.size).toBe(3);
    expect(ring.newest(5)).toEqual([10, 9, 8]);
    expect(ring.last()).toBe(10);
  });
});
