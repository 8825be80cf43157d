/** @module cli/commands/completion — `af completion bash|zsh|fish`: a completion script derived from the commander program itself. */
import type { Command, Option } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** What a value (an argument, or an option's value) completes to. */
type ValueKind = { kind: 'template' } | { kind: 'file' } | { kind: 'choices'; choices: readonly string[] } | { kind: 'none' };

interface OptionSpec {
  long?: string;
  short?: string;
  description: string;
  value?: ValueKind;
}

/** One command of the tree, by its path of names from the root ("" is `af` itself, "keys list" a subcommand). */
interface CommandSpec {
  path: string;
  description: string;
  children: Array<{ name: string; description: string }>;
  options: OptionSpec[];
  /** Positional arguments in order; a variadic one repeats. */
  args: Array<{ value: ValueKind; isVariadic: boolean }>;
}

/**
 * Prints the completion script for `shell`. Everything in it comes from `program` (commands, aliases, options, their
 * arguments and choices), so a command added to the program is completed without touching this file.
 * Template names are read from `agents/*` (of `--root` or $AF_ROOT when given) by the shell itself, without starting af.
 */
export async function completionCommand(context: CommandContext, program: Command, shell: Shell): Promise<number> {
  const specs = describe(program);
  const script = shell === 'bash' ? bashScript(specs) : shell === 'zsh' ? zshScript(specs) : fishScript(specs);
  context.streams.stdout.write(script);
  return EXIT.ok;
}

/** The program as data, depth first. Global options (the root's) are offered at every level, as commander accepts them there. */
export function describe(program: Command): CommandSpec[] {
  const help = program.createHelp();
  const globals = help.visibleOptions(program).filter((option) => option.long !== '--help' && option.long !== '--version').map(optionSpec);
  const helpOption = { long: '--help', short: '-h', description: 'display help for command' };
  const specs: CommandSpec[] = [];
  const walk = (command: Command, path: string) => {
    const own = help.visibleOptions(command).map(optionSpec);
    const children = help.visibleCommands(command);
    specs.push({
      path,
      description: command.description(),
      children: children.flatMap((child) => [child.name(), ...child.aliases()].map((name) => ({ name, description: firstLine(child.description()) }))),
      options: dedupe(path === '' ? own : [...own, ...globals, helpOption]),
      args: command.registeredArguments.map((argument) => ({ value: valueKind(argument.name(), argument.argChoices), isVariadic: argument.variadic })),
    });
    for (const child of children) {
      if (child.name() === 'help' && child.commands.length === 0 && child.description().startsWith('display help')) continue;
      walk(child, path === '' ? child.name() : `${path} ${child.name()}`);
    }
  };
  walk(program, '');
  return specs;
}

function optionSpec(option: Option): OptionSpec {
  const valueName = /[<[]([\w-]+)(?:\.\.\.)?[>\]]/.exec(option.flags)?.[1];
  return {
    ...(option.long ? { long: option.long } : {}),
    ...(option.short ? { short: option.short } : {}),
    description: firstLine(option.description),
    ...(option.required || option.optional ? { value: valueKind(valueName ?? '', option.argChoices) } : {}),
  };
}

/** By the argument's name: `<name>`, `--template <name>` and `--from <template>` are template names; `[dir]`, `<file>`, `[path]` are files. */
function valueKind(name: string, choices: readonly string[] | undefined): ValueKind {
  if (choices !== undefined && choices.length > 0) return { kind: 'choices', choices };
  if (name === 'name' || name === 'template') return { kind: 'template' };
  if (name === 'dir' || name === 'file' || name === 'path') return { kind: 'file' };
  return { kind: 'none' };
}

function dedupe(options: OptionSpec[]): OptionSpec[] {
  const seen = new Set<string>();
  return options.filter((option) => {
    const key = option.long ?? option.short ?? '';
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const firstLine = (text: string) => text.split('\n')[0] ?? '';
const flagsOf = (option: OptionSpec) => [option.long, option.short].filter((flag): flag is string => flag !== undefined);
/** Single-quoted for bash and zsh: nothing is special inside but the quote itself. */
const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
/** Single-quoted for fish, where a backslash escapes a quote or a backslash even inside single quotes. */
const fishQuote = (text: string) => `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;

// ---- bash (zsh loads the same function through bashcompinit) ---------------------------------------------

function bashScript(specs: CommandSpec[]): string {
  const childCases = specs.filter((spec) => spec.children.length > 0).map((spec) => `    ${quote(spec.path)}) words=${quote(spec.children.map((child) => child.name).join(' '))} ;;`);
  const optionCases = specs.map((spec) => `    ${quote(spec.path)}) words=${quote(spec.options.flatMap(flagsOf).join(' '))} ;;`);
  const valueFlagCases = specs.flatMap((spec) => spec.options.filter((option) => option.value).flatMap((option) => flagsOf(option).map((flag) => `    ${quote(`${spec.path}|${flag}`)}) kind=${quote(bashKind(option.value))} ;;`)));
  const argCases = specs.flatMap((spec) =>
    spec.args.map((arg, index) => `    ${quote(`${spec.path}|${index}`)}${arg.isVariadic ? `|${quote(`${spec.path}|`)}*` : ''}) kind=${quote(bashKind(arg.value))} ;;`),
  );
  return `# af completion for bash: source <(af completion bash), or save it as ~/.local/share/bash-completion/completions/af
# Generated from the af command tree by \`af completion bash\`; regenerate it after upgrading af.
__af_children() { local words=''; case "$1" in
${childCases.join('\n')}
  esac; printf '%s' "$words"; }
__af_options() { local words=''; case "$1" in
${optionCases.join('\n')}
  esac; printf '%s' "$words"; }
# What the value of an option is: "" when the option takes none.
__af_option_value() { local kind=''; case "$1|$2" in
${valueFlagCases.join('\n')}
  esac; printf '%s' "$kind"; }
__af_arg_value() { local kind=''; case "$1|$2" in
${argCases.join('\n')}
  esac; printf '%s' "$kind"; }
__af_templates() {
  local manifest
  for manifest in "$1"/agents/*/agent.json; do
    [ -f "$manifest" ] || continue
    manifest="\${manifest%/agent.json}"
    printf '%s\\n' "\${manifest##*/}"
  done
}
__af_complete_value() {
  case "$1" in
    template) COMPREPLY=($(compgen -W "$(__af_templates "$3")" -- "$2")) ;;
    file) COMPREPLY=($(compgen -f -- "$2")) ;;
    choices:*) COMPREPLY=($(compgen -W "\${1#choices:}" -- "$2")) ;;
    *) COMPREPLY=() ;;
  esac
}
_af() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path='' root="\${AF_ROOT:-.}" args=0 i=1 word kind pending=''
  # Walk the words before the cursor: subcommands extend the path, options are skipped with their values.
  while [ "$i" -lt "$COMP_CWORD" ]; do
    word="\${COMP_WORDS[i]}"
    if [ -n "$pending" ]; then
      [ "$pending" = --root ] && root="$word"
      pending=''
    elif [[ "$word" == -* ]]; then
      if [[ "$word" != *=* ]] && [ -n "$(__af_option_value "$path" "$word")" ]; then pending="$word"; fi
    elif [ "$args" -eq 0 ] && [[ " $(__af_children "$path") " == *" $word "* ]]; then
      path="\${path:+$path }$word"
    else
      args=$((args + 1))
    fi
    i=$((i + 1))
  done
  COMPREPLY=()
  if [ -n "$pending" ]; then
    __af_complete_value "$(__af_option_value "$path" "$pending")" "$cur" "$root"
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(__af_options "$path")" -- "$cur"))
  else
    kind="$(__af_arg_value "$path" "$args")"
    if [ "$args" -eq 0 ] && [ -n "$(__af_children "$path")" ]; then
      COMPREPLY=($(compgen -W "$(__af_children "$path")" -- "$cur"))
    elif [ -n "$kind" ]; then
      __af_complete_value "$kind" "$cur" "$root"
    fi
  fi
}
complete -o default -F _af af
`;
}

function bashKind(value: ValueKind | undefined): string {
  if (value === undefined) return '';
  return value.kind === 'choices' ? `choices:${value.choices.join(' ')}` : value.kind;
}

// ---- zsh -----------------------------------------------------------------------------------------------

function zshScript(specs: CommandSpec[]): string {
  // One walker for both shells: zsh runs bash completion functions through bashcompinit (shipped with zsh).
  return `# af completion for zsh: source <(af completion zsh) in ~/.zshrc (after compinit)
autoload -U +X compinit && { whence compdef >/dev/null || compinit; }
autoload -U +X bashcompinit && bashcompinit
${bashScript(specs).split('\n').slice(2).join('\n')}`;
}

// ---- fish ----------------------------------------------------------------------------------------------

function fishScript(specs: CommandSpec[]): string {
  const children = specs.flatMap((spec) => spec.children.map((child) => `${spec.path}|${child.name}`));
  const valueFlags = specs.flatMap((spec) => spec.options.filter((option) => option.value).flatMap((option) => flagsOf(option).map((flag) => `${spec.path}|${flag}`)));
  const lines = [
    '# af completion for fish: af completion fish > ~/.config/fish/completions/af.fish',
    '# Generated from the af command tree by `af completion fish`; regenerate it after upgrading af.',
    `set -g __af_children ${children.map(quote).join(' ')}`,
    `set -g __af_value_flags ${valueFlags.map(quote).join(' ')}`,
    '# The subcommand path before the cursor ("" for af itself), and how many positional arguments follow it.',
    'function __af_state',
    '    set -l path ""',
    '    set -l args 0',
    '    set -l skip 0',
    '    for word in (commandline -opc)[2..-1]',
    '        if test $skip = 1',
    '            set skip 0',
    '        else if string match -q -- "-*" $word',
    '            contains -- "$path|$word" $__af_value_flags; and set skip 1',
    '        else if test $args = 0; and contains -- "$path|$word" $__af_children',
    '            set path (string trim -- "$path $word")',
    '        else',
    '            set args (math $args + 1)',
    '        end',
    '    end',
    '    echo "$path|$args"',
    'end',
    'function __af_at',
    '    string match -q -- "$argv[1]|*" (__af_state)',
    'end',
    'function __af_arg',
    '    test (__af_state) = "$argv[1]|$argv[2]"',
    'end',
    'function __af_templates',
    '    set -l root .',
    '    set -q AF_ROOT; and set root $AF_ROOT',
    '    set -l words (commandline -opc)',
    '    for i in (seq 2 (math (count $words) - 1))',
    '        test "$words[$i]" = --root; and set root $words[(math $i + 1)]',
    '    end',
    '    for manifest in $root/agents/*/agent.json',
    '        basename (dirname $manifest)',
    '    end',
    'end',
    'complete -c af -f',
  ];
  for (const spec of specs) {
    const at = `__af_at ${fishQuote(spec.path)}`;
    for (const child of spec.children) lines.push(`complete -c af -n ${fishQuote(`${at}; and __af_arg ${fishQuote(spec.path)} 0`)} -a ${fishQuote(child.name)} -d ${fishQuote(child.description)}`);
    for (const option of spec.options) {
      const flags = [option.long ? `-l ${option.long.slice(2)}` : '', option.short ? `-s ${option.short.slice(1)}` : ''].filter(Boolean).join(' ');
      lines.push(`complete -c af -n ${fishQuote(at)} ${flags}${option.value ? ` -r${fishValues(option.value)}` : ''} -d ${fishQuote(option.description)}`);
    }
    spec.args.forEach((arg, index) => {
      const values = fishValues(arg.value);
      if (values === '') return;
      const condition = arg.isVariadic ? at : `__af_arg ${fishQuote(spec.path)} ${index}`;
      lines.push(`complete -c af -n ${fishQuote(condition)}${values}`);
    });
  }
  return `${lines.join('\n')}\n`;
}

function fishValues(value: ValueKind): string {
  if (value.kind === 'template') return " -a '(__af_templates)'";
  if (value.kind === 'file') return ' -F';
  if (value.kind === 'choices') return ` -a ${fishQuote(value.choices.join(' '))}`;
  return '';
}
