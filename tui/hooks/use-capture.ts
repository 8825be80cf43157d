/** @module tui/hooks/use-capture — tells the app a text field is open, so `:` `/` `?` and Esc go into it rather than to the app. */
import { useEffect } from 'react';
import { useUi } from '../ui-context.js';

export function useCapture(isCapturing: boolean): void {
  const { setCapturing } = useUi();
  useEffect(() => {
    setCapturing(isCapturing);
    return () => setCapturing(false);
  }, [isCapturing, setCapturing]);
}
