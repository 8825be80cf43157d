/** @module runtime/input-shape — the shape of an input (depth, longest array and string) without its values, for the learner. */
import type { InputShape } from '../core/run-record.js';

/** Nodes visited at most: a huge input gets a lower bound of its shape rather than a slow run. */
const MAX_NODES = 10_000;
/** Top-level properties whose lengths are kept. */
const MAX_LENGTHS = 16;

export function inputShape(input: unknown): InputShape {
  const shape: InputShape = { depth: 0, maxArrayLength: 0, maxStringLength: 0, topLevelKeys: 0 };
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    const entries = Object.entries(input);
    shape.topLevelKeys = entries.length;
    const lengths: Record<string, number> = {};
    let kept = 0;
    for (const [key, value] of entries) {
      if (kept >= MAX_LENGTHS) break;
      if (typeof value === 'string' || Array.isArray(value)) {
        lengths[key] = value.length;
        kept++;
      }
    }
    if (kept > 0) shape.lengths = lengths;
  }
  let visited = 0;
  const stack: Array<[unknown, number]> = [[input, 0]];
  while (stack.length > 0 && visited < MAX_NODES) {
    const [value, depth] = stack.pop() as [unknown, number];
    visited++;
    if (typeof value === 'string') {
      if (value.length > shape.maxStringLength) shape.maxStringLength = value.length;
    } else if (Array.isArray(value)) {
      if (depth + 1 > shape.depth) shape.depth = depth + 1;
      if (value.length > shape.maxArrayLength) shape.maxArrayLength = value.length;
      for (const item of value) stack.push([item, depth + 1]);
    } else if (value && typeof value === 'object') {
      if (depth + 1 > shape.depth) shape.depth = depth + 1;
      for (const item of Object.values(value)) stack.push([item, depth + 1]);
    }
  }
  return shape;
}
