/** @module tui/hooks/use-keys — receives key presses from the app's one reader of the terminal (in order, one at a time) while active. */
import { useEffect, useRef } from 'react';
import type { Key } from 'ink';
import { type KeyListener, useUi } from '../ui-context.js';

export function useKeys(kind: KeyListener['kind'], handle: (input: string, key: Key) => void, isActive = true): void {
  const { subscribeKeys } = useUi();
  const saved = useRef(handle);
  saved.current = handle;
  // Subscribed once per activation, not per render: the handler is read from the ref when a key arrives.
  useEffect(() => {
    if (!isActive) return;
    return subscribeKeys(kind, (input, key) => saved.current(input, key));
  }, [kind, isActive, subscribeKeys]);
}
