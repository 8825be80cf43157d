/** @module tui/hooks/use-bindings — a view declares its keys once; this registers them for the header and help and dispatches presses. */
import { useEffect, useRef } from 'react';
import { type Binding, keyName } from '../keys.js';
import { useUi } from '../ui-context.js';
import { useKeys } from './use-keys.js';

export function useBindings(bindings: readonly Binding[]): void {
  const ui = useUi();
  const current = useRef(bindings);
  current.current = bindings;
  // Registration depends on what the keys are, not on the handler closures that change every render.
  const signature = bindings.map((binding) => `${binding.keys.join(',')}=${binding.label}${binding.isHintHidden ? '-' : ''}`).join('|');
  const { setBindings } = ui;
  useEffect(() => {
    setBindings(current.current.map(({ run: _run, ...info }) => info));
  }, [signature, setBindings]);
  useKeys('view', (input, key) => {
    const name = keyName(input, key);
    current.current.find((binding) => binding.keys.includes(name))?.run?.();
  });
}
