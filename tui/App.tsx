/** @module tui/App — the k9s-style shell: header, a stack of views, the `:` command line, the `/` filter, `?` help, status and progress lines. */
import { useCallback, useMemo, useRef, useState } from 'react';
import { Box, useApp, useInput } from 'ink';
import { Text } from './components/Text.js';
import { HelpView } from './components/HelpView.js';
import { Header } from './components/Header.js';
import { TextField } from './components/TextField.js';
import { bar } from './format.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { type BindingInfo, GLOBAL_BINDINGS } from './keys.js';
import { parseCommand, type Route, routeTitle } from './routes.js';
import { describeError, type TuiServices } from './services.js';
import { signAllTemplates } from './tasks.js';
import { type Status, type Ui, UiContext } from './ui-context.js';
import { AuditView } from './views/AuditView.js';
import { LiveView } from './views/LiveView.js';
import { RunDetailView } from './views/RunDetailView.js';
import { RunView } from './views/RunView.js';
import { RunsView } from './views/RunsView.js';
import { SuggestionDetailView } from './views/SuggestionDetailView.js';
import { SuggestionsView } from './views/SuggestionsView.js';
import { TemplateDetailView } from './views/TemplateDetailView.js';
import { TemplatesView } from './views/TemplatesView.js';

type Mode = 'normal' | 'command' | 'filter' | 'help';

interface Task {
  title: string;
  done: number;
  total: number;
  label?: string;
}

/** Header (2 lines), a blank line, the status line and the command/progress line around the view. */
const CHROME_ROWS = 5;

export interface AppProps {
  services: TuiServices;
}

export function App({ services }: AppProps) {
  const { exit } = useApp();
  const { rows, columns } = useTerminalSize();
  const [stack, setStack] = useState<Route[]>([services.initialRoute]);
  const [mode, setMode] = useState<Mode>('normal');
  const [draft, setDraft] = useState('');
  const [isCapturing, setCapturing] = useState(false);
  const [bindings, setBindings] = useState<readonly BindingInfo[]>([]);
  const [status, setStatus] = useState<Status | undefined>();
  const [task, setTask] = useState<Task | undefined>();
  const isTaskRunning = useRef(false);
  // Keys typed fast (or pasted) arrive as several events before React renders again; the refs let
  // each event see the mode the one before it set, where state would still hold the old one.
  const modeRef = useRef<Mode>('normal');
  const draftRef = useRef('');
  const capturingRef = useRef(false);
  // Set while the app is handling a key, so a view's handler for that same key (Ink calls every
  // handler) leaves it alone whichever of the two runs first.
  const consumedRef = useRef(false);
  const changeMode = useCallback((next: Mode) => {
    modeRef.current = next;
    setMode(next);
  }, []);
  const changeDraft = useCallback((next: string) => {
    draftRef.current = next;
    setDraft(next);
  }, []);
  const changeCapturing = useCallback((next: boolean) => {
    capturingRef.current = next;
    setCapturing(next);
  }, []);
  const route = stack[stack.length - 1] as Route;
  const filter = route.filter ?? '';

  const setFilter = useCallback((value: string) => {
    setStack((current) => [...current.slice(0, -1), { ...(current[current.length - 1] as Route), filter: value }]);
  }, []);
  const push = useCallback((next: Route) => {
    setStatus(undefined);
    setStack((current) => [...current, next]);
  }, []);
  const back = useCallback(() => setStack((current) => (current.length > 1 ? current.slice(0, -1) : current)), []);

  const runTask = useCallback<Ui['runTask']>((title, work) => {
    if (isTaskRunning.current) {
      setStatus({ kind: 'error', text: 'another task is still running; wait for it to finish' });
      return;
    }
    isTaskRunning.current = true;
    setTask({ title, done: 0, total: 0 });
    work((done, total, label) => setTask({ title, done, total, ...(label !== undefined ? { label } : {}) }))
      .then(
        (text) => setStatus({ kind: 'ok', text }),
        (error: unknown) => setStatus({ kind: 'error', text: describeError(error) }),
      )
      .finally(() => {
        isTaskRunning.current = false;
        setTask(undefined);
      });
  }, []);

  const execute = (text: string) => {
    changeMode('normal');
    if (text.trim() === '') return;
    const command = parseCommand(text);
    switch (command.kind) {
      case 'go':
        setStatus(undefined);
        setStack([command.route]);
        return;
      case 'help':
        changeMode('help');
        return;
      case 'quit':
        exit();
        return;
      case 'task':
        if (command.task === 'learn') {
          runTask('learning', async (progress) => {
            const { learn } = await services.learner();
            const result = await learn({ store: services.store, registry: services.factory.registry, onProgress: progress });
            return `learned from ${result.runs} runs of ${result.templates} templates: ${result.created.length} new suggestions (:suggestions to review)`;
          });
        } else runTask('signing', (progress) => signAllTemplates(services, progress));
        return;
      default:
        setStatus({ kind: 'error', text: `unknown command "${command.text}"; press ? for the list` });
    }
  };

  useInput((input, key) => {
    const current = modeRef.current;
    const consume = () => {
      consumedRef.current = true;
      queueMicrotask(() => {
        consumedRef.current = false;
      });
    };
    if (current !== 'normal') consume();
    if (current === 'help') {
      if (key.escape || input === '?' || input === 'q') changeMode('normal');
      return;
    }
    if (current === 'command' || current === 'filter') {
      // The command and filter lines are edited here rather than in a TextField, for the same reason as the refs.
      if (key.return) {
        const text = draftRef.current;
        if (current === 'command') execute(text);
        else {
          setFilter(text.trim());
          changeMode('normal');
        }
      } else if (key.escape) changeMode('normal');
      else if (key.backspace || key.delete) changeDraft(draftRef.current.slice(0, -1));
      else if (key.ctrl && input === 'u') changeDraft('');
      else if (!key.ctrl && !key.meta && !key.tab && !key.upArrow && !key.downArrow && input) changeDraft(draftRef.current + input.replace(/[\r\n]+/g, ' '));
      return;
    }
    // A text field inside a view takes every key while open.
    if (capturingRef.current) return;
    // Typed fast or pasted, `:run hello` arrives as one chunk: the rest of it is the start of the line.
    if (input.startsWith(':') || input.startsWith('/') || input === '?' || key.escape) consume();
    if (input.startsWith(':')) {
      changeDraft(input.slice(1));
      changeMode('command');
    } else if (input.startsWith('/')) {
      changeDraft(input.length > 1 ? input.slice(1) : filter);
      changeMode('filter');
    } else if (input === '?') changeMode('help');
    else if (key.escape) {
      // Like k9s: the first Esc drops the filter, the next goes back.
      if (filter) setFilter('');
      else back();
    }
  });

  const bodyRows = Math.max(3, rows - CHROME_ROWS - 1);
  const ui = useMemo<Ui>(
    () => ({
      services,
      route,
      filter,
      isViewActive: mode === 'normal' && !isCapturing,
      canViewTakeKeys: () => !consumedRef.current && modeRef.current === 'normal' && !capturingRef.current,
      bodyRows,
      columns,
      push,
      back,
      setStatus,
      setBindings,
      setCapturing: changeCapturing,
      runTask,
    }),
    [services, route, filter, mode, isCapturing, bodyRows, columns, push, back, runTask, changeCapturing],
  );

  const { theme } = services;
  const statusColor = status?.kind === 'error' ? theme.color('red') : status?.kind === 'ok' ? theme.color('green') : undefined;
  return (
    <UiContext.Provider value={ui}>
      <Box flexDirection="column" width={columns}>
        <Header
          crumbs={stack.map(routeTitle)}
          root={services.factory.config.root}
          env={services.factory.config.env}
          filter={filter}
          bindings={bindings}
          globals={GLOBAL_BINDINGS}
          width={columns}
          theme={theme}
        />
        <Text> </Text>
        {/* Help hides the view instead of unmounting it, so an edited input or a selection survives a look at the keys. */}
        {mode === 'help' ? <HelpView title={routeTitle(route)} bindings={bindings} globals={GLOBAL_BINDINGS} /> : null}
        <Box flexDirection="column" height={bodyRows} overflow="hidden" display={mode === 'help' ? 'none' : 'flex'}>
          <CurrentView route={route} />
        </Box>
        <Text wrap="truncate" {...(statusColor ? { color: statusColor } : {})}>
          {status ? status.text : ' '}
        </Text>
        {mode === 'command' ? (
          <TextField label=":" value={draft} isActive={false} isCursorShown onChange={changeDraft} onSubmit={execute} onCancel={() => changeMode('normal')} placeholder="templates, runs, live, suggestions, audit, run NAME, learn, sign, q" />
        ) : mode === 'filter' ? (
          <TextField
            label="/"
            value={draft}
            isActive={false}
            isCursorShown
            onChange={changeDraft}
            onSubmit={(value) => {
              setFilter(value.trim());
              changeMode('normal');
            }}
            onCancel={() => changeMode('normal')}
            placeholder={route.view === 'runs' ? 'text, or template:NAME outcome:ok|error since:1h' : 'text to match'}
          />
        ) : task ? (
          <Text>
            {task.title} <Text color={theme.color('cyan')}>{bar(task.done, task.total)}</Text> {task.done}/{task.total} {task.label ?? ''}
          </Text>
        ) : (
          <Text> </Text>
        )}
      </Box>
    </UiContext.Provider>
  );
}

function CurrentView({ route }: { route: Route }) {
  // A key per route gives each visit fresh view state (selection, editors).
  switch (route.view) {
    case 'templates':
      return <TemplatesView />;
    case 'template':
      return <TemplateDetailView key={route.name} name={route.name} />;
    case 'run':
      return <RunView key={route.template ?? ''} {...(route.template ? { template: route.template } : {})} />;
    case 'live':
      return <LiveView />;
    case 'runs':
      return <RunsView />;
    case 'run-detail':
      return <RunDetailView key={route.id} id={route.id} />;
    case 'suggestions':
      return <SuggestionsView />;
    case 'suggestion':
      return <SuggestionDetailView key={route.id} id={route.id} />;
    case 'audit':
      return <AuditView />;
  }
}
