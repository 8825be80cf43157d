// Ranks items by how often they occur, most frequent first, ties alphabetical.
export function topCounts(items: string[], n: number): Array<{ word: string; count: number }> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([word, count]) => ({ word, count }));
}
