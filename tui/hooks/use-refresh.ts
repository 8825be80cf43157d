/** @module tui/hooks/use-refresh — loads a view's data now and again every `ms`, keeping the last good value and the error apart. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError } from '../services.js';
import { useInterval } from './use-interval.js';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload(): void;
}

export function useRefresh<T>(load: () => T | Promise<T>, deps: readonly unknown[], ms?: number): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined }>({ data: undefined, error: undefined });
  const isMounted = useRef(true);
  const loader = useRef(load);
  loader.current = load;
  // A slow load (templates resolve and bundle) must not start again while one is still running;
  // a reload asked for meanwhile (a new filter) runs once it ends, so the newest inputs always win.
  const inFlight = useRef(false);
  const isWanted = useRef(false);
  const reload = useCallback(() => {
    if (inFlight.current) {
      isWanted.current = true;
      return;
    }
    inFlight.current = true;
    isWanted.current = false;
    Promise.resolve()
      .then(() => loader.current())
      .then(
        (data) => isMounted.current && setState({ data, error: undefined }),
        (error: unknown) => isMounted.current && setState((previous) => ({ data: previous.data, error: describeError(error) })),
      )
      .finally(() => {
        inFlight.current = false;
        if (isWanted.current && isMounted.current) reload();
      });
  }, []);
  useEffect(() => {
    isMounted.current = true;
    reload();
    return () => {
      isMounted.current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useInterval(reload, ms);
  return { ...state, reload };
}
