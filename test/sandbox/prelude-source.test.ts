// The prelude's generated text is what its sources build to: tests run the TypeScript sources, so a stale
// sandbox/prelude-source.ts (sources edited, build not run) would test code that dist/ no longer runs.
import { describe, expect, it } from 'vitest';
import { PRELUDE_SOURCE } from '../../sandbox/prelude.js';
import { preludeSource } from '../../scripts/build-prelude.mjs';

describe('the prelude text', () => {
  it('is what sandbox/prelude/*.js build to (run `node scripts/build-prelude.mjs` after editing them)', () => {
    expect(PRELUDE_SOURCE).toBe(preludeSource());
  });

  it('is one strict function whose completion is install, which returns dispatch', () => {
    expect(PRELUDE_SOURCE.startsWith("'use strict';\n(function () {\n  'use strict';\n  const G = globalThis;\n")).toBe(true);
    expect(PRELUDE_SOURCE).toContain("\n  return function install(hostSync, hostCall, settingsJson) {\n    'use strict';\n    const settings = JSONparse(settingsJson);\n");
    expect(PRELUDE_SOURCE).toContain('\n    return function dispatch(op, a, b, c) {\n');
    expect(PRELUDE_SOURCE.endsWith('\n    };\n  };\n})()')).toBe(true);
  });
});
