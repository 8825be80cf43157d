/** @module tui/ui-context — what the app hands every view: services, navigation, the status line, key registration and the space it may fill. */
import { createContext, useContext } from 'react';
import type { Key } from 'ink';
import type { BindingInfo } from './keys.js';
import type { Route } from './routes.js';
import type { TuiServices } from './services.js';

export interface Status {
  kind: 'info' | 'ok' | 'error';
  text: string;
}

export interface Ui {
  services: TuiServices;
  route: Route;
  /** The `/` filter of the current route ('' for none). */
  filter: string;
  /** Whether view keys reach the view: no command line, filter line or help is open, and no text field captures. */
  isViewActive: boolean;
  /**
   * Receives key presses, one at a time and in order, after the app's own keys: `view` listeners while no line,
   * help or field is open, `field` listeners while a text field captures. The app is the only reader of the terminal,
   * so keys that arrive together are split and handled in the order typed. @returns the unsubscribe function.
   */
  subscribeKeys(kind: KeyListener['kind'], handle: KeyListener['handle']): () => void;
  /** Rows the view may use; the app keeps the whole frame shorter than the terminal so Ink never clears it (no flicker). */
  bodyRows: number;
  columns: number;
  push(route: Route): void;
  back(): void;
  setStatus(status: Status | undefined): void;
  setBindings(bindings: readonly BindingInfo[]): void;
  /** A text field is taking every key: global keys (`:` `/` `?` Esc) go to it instead. */
  setCapturing(isCapturing: boolean): void;
  /** Runs long work with a progress bar under the view. */
  runTask(title: string, work: (progress: (done: number, total: number, label?: string) => void) => Promise<string>): void;
}

export interface KeyListener {
  kind: 'view' | 'field';
  handle(input: string, key: Key): void;
}

export const UiContext = createContext<Ui | undefined>(undefined);

export function useUi(): Ui {
  const ui = useContext(UiContext);
  if (!ui) throw new Error('useUi: render views inside <App>');
  return ui;
}
