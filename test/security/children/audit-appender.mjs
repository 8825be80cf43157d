// One of several processes appending to the same anchored audit log at once. Exits non-zero on any error.
import { openStore } from '../../../dist/store/index.js';

const [file, anchorDir, name, count] = process.argv.slice(2);
const store = openStore({ path: file, auditAnchorDir: anchorDir });
for (let i = 0; i < Number(count); i++) {
  store.audit.append({ type: 'test.append', subject: name, data: { i } });
  if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await store.close();
