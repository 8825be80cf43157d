/** @module cli/context — what every subcommand receives: streams, colours, and the resolved configuration. */
import { resolveConfig, type ResolvedConfig } from '../core/config.js';
import { createLogger, type Logger } from '../core/logger.js';
import { type CliStreams, createPaint, type Paint } from './io.js';

export interface GlobalOptions {
  root?: string;
  env?: string;
  store?: string;
  otel?: boolean;
}

export interface CommandContext {
  streams: CliStreams;
  paint: Paint;
  errPaint: Paint;
  logger: Logger;
  config(): ResolvedConfig;
}

export function createCommandContext(streams: CliStreams, globals: () => GlobalOptions): CommandContext {
  let config: ResolvedConfig | undefined;
  return {
    streams,
    paint: createPaint(streams.stdout, streams.env),
    errPaint: createPaint(streams.stderr, streams.env),
    logger: createLogger({ stream: streams.stderr, processEnv: streams.env, scope: 'af' }),
    config() {
      const options = globals();
      config ??= resolveConfig({
        root: options.root ?? streams.env.AF_ROOT ?? streams.cwd,
        ...(options.env !== undefined ? { env: options.env } : {}),
        ...(options.store !== undefined ? { store: options.store } : {}),
        processEnv: streams.env,
      });
      return config;
    },
  };
}
