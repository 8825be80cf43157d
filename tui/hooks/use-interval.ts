/** @module tui/hooks/use-interval — calls back every `ms` while mounted; the live parts of views refresh through it. */
import { useEffect, useRef } from 'react';

export function useInterval(callback: () => void, ms: number | undefined): void {
  const saved = useRef(callback);
  saved.current = callback;
  useEffect(() => {
    if (ms === undefined) return;
    const timer = setInterval(() => saved.current(), ms);
    return () => clearInterval(timer);
  }, [ms]);
}
