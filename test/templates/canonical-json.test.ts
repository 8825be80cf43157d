// RFC 8785 canonical JSON and the template digest built on it.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson, resolveTemplate } from '../../templates/index.js';
import { createProject, type TempProject } from '../helpers/project.js';

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units and drops whitespace', () => {
    // The sort example of RFC 8785 §3.2.3.
    const input = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    // JSON.parse would enumerate the integer-like key "1" first, so read the order off the text.
    const text = canonicalJson(input);
    const order = ['Carriage Return', 'One', 'Control', 'Latin Small Letter O With Diaeresis', 'Euro Sign', 'Emoji: Grinning Face', 'Hebrew Letter Dalet With Dagesh'];
    expect(order.map((value) => text.indexOf(value))).toEqual([...order.map((value) => text.indexOf(value))].sort((x, y) => x - y));
    expect(text.startsWith('{"\\r":"Carriage Return","1":"One","\u0080":"Control"')).toBe(true);
    expect(canonicalJson({ b: [1, { d: true, c: null }], a: 'x' })).toBe('{"a":"x","b":[1,{"c":null,"d":true}]}');
  });

  it('writes numbers in their ECMAScript form', () => {
    // Values from RFC 8785 appendix B.
    expect(canonicalJson([1e21, 1e-7, 333333333.33333329, 4.5, 2e-3, 0.000001, -0, 1e23])).toBe('[1e+21,1e-7,333333333.3333333,4.5,0.002,0.000001,0,1e+23]');
  });

  it('escapes strings minimally', () => {
    expect(canonicalJson('\u0000\u001f"\\/\u2028é')).toBe('"\\u0000\\u001f\\"\\\\/\u2028é"');
  });

  it('refuses values without a JSON form', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson(Infinity)).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow('cyclic');
  });
});

describe('template digest', () => {
  let project: TempProject;
  afterEach(() => project.remove());

  const digestOf = async () => (await resolveTemplate({ agentsDir: project.agentsDir, displayRoot: project.root }, 'digest', { env: 'dev' })).digest;

  function setup(): void {
    project = createProject({
      'agents/digest/agent.json': '{"name":"digest","version":"1.0.0","entry":"main.ts","limits":{"memoryMb":32,"timeoutMs":100},"config":{"a":1,"b":[1,2]}}',
      'agents/digest/main.ts': "import { helper } from './lib/helper.ts';\nexport default () => helper();\n",
      'agents/digest/lib/helper.ts': '// a comment esbuild strips\nexport const helper = () => 42;\n',
    });
  }

  it('is stable across key order and whitespace of agent.json', async () => {
    setup();
    const before = await digestOf();
    writeFileSync(
      path.join(project.agentsDir, 'digest/agent.json'),
      '{\n  "config": { "b": [1, 2], "a": 1 },\n  "limits": { "timeoutMs": 100, "memoryMb": 32 },\n  "entry": "main.ts",\n  "version": "1.0.0",\n  "name": "digest"\n}\n',
    );
    expect(await digestOf()).toBe(before);
  });

  it('changes with any byte of any bundled file, even one the bundler strips', async () => {
    setup();
    const seen = new Set([await digestOf()]);
    for (const file of ['agent.json', 'main.ts', 'lib/helper.ts']) {
      const target = path.join(project.agentsDir, 'digest', file);
      const original = readFileSync(target, 'utf8');
      if (file === 'agent.json') writeFileSync(target, original.replace('"memoryMb":32', '"memoryMb":33'));
      else appendFileSync(target, '// one more comment\n');
      const digest = await digestOf();
      expect(seen.has(digest)).toBe(false);
      seen.add(digest);
      writeFileSync(target, original);
    }
    expect(await digestOf()).toBe([...seen][0]);
  });

  it('does not depend on the environment, while the sandbox spec does', async () => {
    setup();
    const context = { agentsDir: project.agentsDir, displayRoot: project.root };
    project.write('agents/digest/agent.json', { name: 'digest', version: '1.0.0', entry: 'main.ts', environments: { prod: { limits: { timeoutMs: 10 } } } });
    const dev = await resolveTemplate(context, 'digest', { env: 'dev' });
    const prod = await resolveTemplate(context, 'digest', { env: 'prod' });
    expect(prod.digest).toBe(dev.digest);
    expect(prod.spec.digest).not.toBe(dev.spec.digest);
    expect(prod.spec.limits.timeoutMs).toBe(10);
  });
});
