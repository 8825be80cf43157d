/** @module tui/hooks/use-selection — the highlighted row of a list and the movement keys every list shares. */
import { useState } from 'react';
import type { Binding } from '../keys.js';

export function useSelection(count: number, page = 10): { index: number; select(index: number): void; bindings: Binding[] } {
  const [wanted, setWanted] = useState(0);
  // Clamp on read: the list can shrink under the cursor when a filter or refresh removes rows.
  const index = count === 0 ? 0 : Math.min(wanted, count - 1);
  const move = (delta: number) => setWanted(Math.max(0, Math.min(count - 1, index + delta)));
  return {
    index,
    select: setWanted,
    bindings: [
      { keys: ['up', 'k'], label: 'up', isHintHidden: true, run: () => move(-1) },
      { keys: ['down', 'j'], label: 'down', isHintHidden: true, run: () => move(1) },
      { keys: ['pgup'], label: 'page up', isHintHidden: true, run: () => move(-page) },
      { keys: ['pgdn'], label: 'page down', isHintHidden: true, run: () => move(page) },
      { keys: ['g', 'home'], label: 'first', isHintHidden: true, run: () => setWanted(0) },
      { keys: ['G', 'end'], label: 'last', isHintHidden: true, run: () => setWanted(Math.max(0, count - 1)) },
    ],
  };
}
