// Parses `input.csv` (header line, then `id,category,name,score` rows) into objects before aggregating, as
// table-processing code usually does: the whole table is live at once, so heap use grows with the input.
// The template grants kv and LOG_LEVEL and uses neither: over-granted on purpose, so the learner's
// least-privilege suggestions have a known right answer.
interface Row {
  id: number;
  category: string;
  name: string;
  score: number;
  tags: string[];
}

export default function run(input: { csv: string }) {
  const lines = input.csv.split('\n');
  const rows: Row[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    const [id = '0', category = '', name = '', score = '0'] = line.split(',');
    rows.push({ id: Number(id), category, name: `${name}`, score: Number(score), tags: [category, name.slice(0, 3)] });
  }
  const categories: Record<string, { rows: number; total: number }> = {};
  for (const row of rows) {
    const entry = (categories[row.category] ??= { rows: 0, total: 0 });
    entry.rows++;
    entry.total += row.score;
  }
  // Kept as the last table for a reused context to look up. It also keeps the table live until the run
  // ends, when the sandbox samples the heap, so the recorded heap reflects the table's size rather than
  // whenever the collector last ran.
  (globalThis as { lastTable?: Row[] }).lastTable = rows;
  return { rows: rows.length, categories };
}
