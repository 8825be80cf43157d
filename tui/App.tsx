/** @module tui/App — the k9s-style shell: header, a stack of views, the `:` command line, the `/` filter, `?` help, status and progress lines. */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { Box, useApp, useInput } from 'ink';
import { Text } from './components/Text.js';
import { HelpView } from './components/HelpView.js';
import { Header } from './components/Header.js';
import { TextField } from './components/TextField.js';
import { bar, count } from './format.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { type BindingInfo, GLOBAL_BINDINGS } from './keys.js';
import { isPlainText, type KeyPress, splitKeys } from './key-events.js';
import { parseCommand, type Route, routeTitle } from './routes.js';
import { describeError, type TuiServices } from './services.js';
import { sweepReactTimings } from './react-timings.js';
import { signAllTemplates } from './tasks.js';
import { type KeyListener, type Status, type Ui, UiContext } from './ui-context.js';
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
  // The key queue reads these between renders (whether a run of text goes to a line at once); refs hold what the last key set.
  const modeRef = useRef<Mode>('normal');
  const draftRef = useRef('');
  const capturingRef = useRef(false);
  // What the filter was before `/` opened the filter line: Esc there puts it back.
  const filterBeforeRef = useRef('');
  const listeners = useRef(new Set<KeyListener>());
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
  // Wherever the app is mounted (af, a library caller, a test), React's development timings must not pile up.
  useEffect(() => sweepReactTimings(), []);
  const subscribeKeys = useCallback<Ui['subscribeKeys']>((kind, handle) => {
    const listener: KeyListener = { kind, handle };
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);
  const route = stack[stack.length - 1] as Route;
  const filter = route.filter ?? '';
  const filterRef = useRef(filter);
  filterRef.current = filter;

  const setFilter = useCallback((value: string) => {
    filterRef.current = value;
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
            // The bar counts templates with runs, known before the learner (TensorFlow.js, a second to load) is.
            const templates = (await services.store.queries.stats()).length;
            progress(0, templates, 'loading the learner…');
            const { learn } = await services.learner();
            progress(0, templates, 'reading the run record…');
            const result = await learn({ store: services.store, registry: services.factory.registry, onProgress: progress });
            return `learned from ${count(result.runs, 'run')} of ${count(result.templates, 'template')}: ${count(result.created.length, 'new suggestion')} (:suggestions to review)`;
          });
        } else runTask('signing', (progress) => signAllTemplates(services, progress));
        return;
      default:
        setStatus({ kind: 'error', text: `unknown command "${command.text}"; press ? for the list` });
    }
  };

  const deliver = (kind: KeyListener['kind'], press: KeyPress) => {
    for (const listener of [...listeners.current]) if (listener.kind === kind) listener.handle(press.input, press.key);
  };

  /** One key press, in the state every key before it left: the app's keys first, then a capturing field or the view. */
  const dispatch = (press: KeyPress) => {
    const { input, key } = press;
    const current = modeRef.current;
    if (current === 'help') {
      if (key.escape || input === '?' || input === 'q') changeMode('normal');
      return;
    }
    if (current === 'command' || current === 'filter') {
      // The command and filter lines are edited here rather than in a TextField, so they follow the same key order.
      let next: string | undefined;
      if (key.return) {
        if (current === 'command') execute(draftRef.current);
        else changeMode('normal');
      } else if (key.escape) {
        if (current === 'filter') setFilter(filterBeforeRef.current);
        changeMode('normal');
      } else if (key.backspace || key.delete) next = draftRef.current.slice(0, -1);
      else if (key.ctrl && input === 'u') next = '';
      else if (isPlainText(press) && !key.upArrow && !key.downArrow && !key.leftArrow && !key.rightArrow) next = draftRef.current + input.replace(/[\r\n]+/g, ' ');
      if (next === undefined) return;
      changeDraft(next);
      // The filter applies as it is typed.
      if (current === 'filter') setFilter(next.trim());
      return;
    }
    // A text field inside a view takes every key while open.
    if (capturingRef.current) {
      deliver('field', press);
      return;
    }
    if (input === ':' && !key.ctrl) {
      changeDraft('');
      changeMode('command');
    } else if (input === '/' && !key.ctrl) {
      // A fresh filter each time, applied as it is typed; Esc puts the previous one back.
      filterBeforeRef.current = filterRef.current;
      changeDraft('');
      setFilter('');
      changeMode('filter');
    } else if (input === '?' && !key.ctrl) changeMode('help');
    else if (input === 'q' && !key.ctrl && !key.meta) exit();
    else if (key.escape) {
      // Like k9s: the first Esc drops the filter, the next goes back.
      if (filterRef.current) setFilter('');
      else back();
    } else deliver('view', press);
  };
  const dispatchRef = useRef(dispatch);
  dispatchRef.current = dispatch;

  // Keys wait in a queue and are handled one at a time: each key's updates are committed (the layout effect below
  // runs after the commit) before the next key is handled, so a view's bindings see the row or prompt the key before
  // moved to. A run of plain text going to a text line is handled at once: a paste costs one render, not one a character.
  const queue = useRef<KeyPress[]>([]);
  const isDraining = useRef(false);
  const [keysHandled, setKeysHandled] = useState(0);
  const drainOne = useCallback(() => {
    const first = queue.current.shift();
    if (!first) {
      isDraining.current = false;
      return;
    }
    let press = first;
    const isTextTarget = modeRef.current === 'command' || modeRef.current === 'filter' || capturingRef.current;
    if (isTextTarget && isPlainText(press)) {
      while (queue.current[0] && isPlainText(queue.current[0])) press = { input: press.input + (queue.current.shift() as KeyPress).input, key: press.key };
    }
    dispatchRef.current(press);
    setKeysHandled((handled) => handled + 1);
  }, []);
  useLayoutEffect(() => {
    if (!isDraining.current) return;
    if (queue.current.length === 0) isDraining.current = false;
    else setImmediate(drainOne);
  }, [keysHandled, drainOne]);
  // Stable, so Ink subscribes it once rather than again on every render.
  const onInput = useCallback<Parameters<typeof useInput>[0]>(
    (input, key) => {
      queue.current.push(...splitKeys(input, key));
      if (isDraining.current) return;
      isDraining.current = true;
      drainOne();
    },
    [drainOne],
  );
  useInput(onInput);

  const bodyRows = Math.max(3, rows - CHROME_ROWS - 1);
  const ui = useMemo<Ui>(
    () => ({
      services,
      route,
      filter,
      isViewActive: mode === 'normal' && !isCapturing,
      subscribeKeys,
      bodyRows,
      columns,
      push,
      back,
      setStatus,
      setBindings,
      setCapturing: changeCapturing,
      runTask,
    }),
    [services, route, filter, mode, isCapturing, bodyRows, columns, push, back, runTask, changeCapturing, subscribeKeys],
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
        {mode === 'help' ? (
          // Held to the body's rows like a view: a frame taller than the terminal makes Ink redraw the whole screen.
          <Box flexDirection="column" height={bodyRows} overflow="hidden">
            <Box flexDirection="column" flexShrink={0}>
              <HelpView title={routeTitle(route)} bindings={bindings} globals={GLOBAL_BINDINGS} />
            </Box>
          </Box>
        ) : null}
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
          <Text wrap="truncate">
            {task.title}{' '}
            {task.total > 0 ? (
              <>
                <Text color={theme.color('cyan')}>{bar(task.done, task.total)}</Text> {task.done}/{task.total}{' '}
              </>
            ) : null}
            {task.label ?? '…'}
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
