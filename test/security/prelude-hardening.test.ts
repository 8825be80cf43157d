// The prelude builds what crosses the boundary (tool errors) from builtins captured before agent code ran, so an
// agent that booby-traps Object.prototype cannot change the code or message a denial or tool error carries.
import { afterAll, describe, expect, it } from 'vitest';
import { makeHarness, makeSpec } from '../sandbox/helpers.js';

// Accessors on Object.prototype are read by any property descriptor that has a prototype: `get` turns a data
// descriptor into an accessor one (a TypeError together with `value`), `value` would replace the error's code.
const TRAPPED = makeSpec({
  name: 'trapped',
  source: `
    export default async (input, ctx) => {
      Object.defineProperty(Object.prototype, 'get', { get() { return () => 'forged'; }, configurable: true });
      Object.defineProperty(Object.prototype, 'value', { get() { return 'E_FORGED'; }, configurable: true });
      const seen = [];
      try { await ctx.readTextFile('/etc/passwd'); } catch (e) { seen.push({ code: e.code, name: e.name, message: e.message }); }
      try { ctx.env.get('HOME'); } catch (e) { seen.push({ code: e.code, name: e.name }); }
      delete Object.prototype.get;
      delete Object.prototype.value;
      return seen;
    };`,
});

describe('a polluted Object.prototype does not change the errors tools report', () => {
  const harness = makeHarness();
  afterAll(() => harness.sandbox.close());

  it('denials keep their code, name and message', async () => {
    const result = await harness.run(TRAPPED);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.output).toEqual([
      { code: 'E_PERMISSION_DENIED', name: 'NotCapable', message: expect.stringContaining('permissions.read') },
      { code: 'E_PERMISSION_DENIED', name: 'NotCapable' },
    ]);
  });
});
