/** @module cli/handoff-args — which `af run` command lines may be handed to a running `af serve`: the plain ones, read the way commander reads them. */

/** An `af run` command line a server can run exactly as this process would. */
export interface HandoffArgs {
  name: string;
  /** Global options, before `run`. */
  root?: string;
  store?: string;
  globalEnv?: string;
  /** `run`'s own options. */
  env?: string;
  tenant?: string;
  input?: string;
  inputFile?: string;
  json: boolean;
}

const GLOBAL_VALUED = { '--root': 'root', '--store': 'store', '--env': 'globalEnv' } as const;
const RUN_VALUED = { '--env': 'env', '--tenant': 'tenant', '--input': 'input', '--input-file': 'inputFile' } as const;

/**
 * The command line's parts when it is `[--root D] [--store U] [--env E] run NAME` with only `--input`, `--input-file`,
 * `--env`, `--tenant` and `--json` after the name, each at most once; undefined for anything else (help, `--otel`,
 * `--`, an unknown or repeated option, a missing value), which then runs here: a command line is handed over only
 * where there is no doubt how the full parser reads it.
 */
export function parseHandoffArgs(argv: readonly string[]): HandoffArgs | undefined {
  const seen = new Set<string>();
  const out: Partial<HandoffArgs> & { json: boolean } = { json: false };
  let i = 0;
  const take = (flag: string, word: string): string | undefined => {
    if (seen.has(flag)) return undefined;
    seen.add(flag);
    const eq = word.indexOf('=');
    if (eq > 0) return word.slice(eq + 1);
    const value = argv[++i];
    return value;
  };
  // Global options, then `run`.
  for (; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === 'run') break;
    const flag = word.split('=', 1)[0] as string;
    if (!(flag in GLOBAL_VALUED)) return undefined;
    const value = take(`g${flag}`, word);
    if (value === undefined) return undefined;
    out[GLOBAL_VALUED[flag as keyof typeof GLOBAL_VALUED]] = value;
  }
  if (argv[i] !== 'run') return undefined;
  for (i++; i < argv.length; i++) {
    const word = argv[i] as string;
    if (!word.startsWith('-')) {
      if (out.name !== undefined) return undefined;
      out.name = word;
      continue;
    }
    if (word === '--json') {
      if (seen.has(word)) return undefined;
      seen.add(word);
      out.json = true;
      continue;
    }
    const flag = word.split('=', 1)[0] as string;
    if (!(flag in RUN_VALUED)) return undefined;
    const value = take(flag, word);
    if (value === undefined) return undefined;
    out[RUN_VALUED[flag as keyof typeof RUN_VALUED]] = value;
  }
  if (out.name === undefined) return undefined;
  return out as HandoffArgs;
}
