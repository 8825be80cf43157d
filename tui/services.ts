/** @module tui/services — everything the UI reads or changes, gathered in one injectable object: the factory, its store, the clock, the signer. */
import os from 'node:os';
import { FactoryError } from '../core/errors.js';
import type { AgentFactory } from '../runtime/index.js';
import type { Store } from '../store/index.js';
import { type KeyRing, openProjectTrust } from '../templates/index.js';
import { createTheme, type Theme } from './theme.js';
import type { Route } from './routes.js';

type Learner = typeof import('../learner/index.js');

export interface TuiServicesOptions {
  /** The factory whose templates, sandbox pools and store the UI shows. It must have a store. */
  factory: AgentFactory;
  /** Variables read for NO_COLOR / FORCE_COLOR and the actor name. @default process.env */
  env?: Record<string, string | undefined>;
  /** Whether the output is a terminal (colour is off otherwise unless FORCE_COLOR). @default true */
  isTTY?: boolean;
  /** Wall clock, epoch ms: the live view's windows and the decision times. @default Date.now */
  now?: () => number;
  /** Who accepts and rejects, for the audit log. @default $AF_ACTOR, else $USER, else the OS user */
  actor?: string;
  /** The key ring that signs accepted suggestions. @default the project's, with trust data in the store */
  keyRing?: () => KeyRing;
  /**
   * How often live data is read again, ms. Each read of the live view decodes the last minute of runs, so a faster
   * pace costs CPU and garbage for nothing the eye sees: its rates and sparklines move by the second. @default 1000
   */
  refreshMs?: number;
  /** Where the UI opens. @default { view: 'templates' } */
  initialRoute?: Route;
}

export interface TuiServices {
  readonly factory: AgentFactory;
  readonly store: Store;
  readonly theme: Theme;
  readonly actor: string;
  readonly refreshMs: number;
  readonly initialRoute: Route;
  now(): number;
  keyRing(): KeyRing;
  /** The learner, loaded on first use: TensorFlow.js costs a second at start-up that most sessions never need. */
  learner(): Promise<Learner>;
}

/** Resolves every default in one place. @throws TypeError when the factory has no store. */
export function createTuiServices(options: TuiServicesOptions): TuiServices {
  const { factory } = options;
  const store = factory.store;
  if (!store) throw new TypeError('createTuiServices: option "factory" must have a store (createFactory without store: false)');
  const env = options.env ?? process.env;
  const refreshMs = options.refreshMs ?? 1000;
  if (!(refreshMs > 0)) throw new TypeError('createTuiServices: option "refreshMs" must be a positive number');
  let learner: Promise<Learner> | undefined;
  return {
    factory,
    store,
    theme: createTheme({ isTTY: options.isTTY ?? true }, env),
    actor: options.actor ?? env.AF_ACTOR ?? env.USER ?? safeUserName(),
    refreshMs,
    initialRoute: options.initialRoute ?? { view: 'templates' },
    now: options.now ?? Date.now,
    keyRing: options.keyRing ?? (() => openProjectTrust(factory.config, { store: store.trust }).keyRing),
    learner: () => (learner ??= import('../learner/index.js')),
  };
}

function safeUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'tui';
  }
}

/** An error for the status line: its code and message when it has them. */
export function describeError(error: unknown): string {
  if (error instanceof FactoryError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
