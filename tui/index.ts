/** @module tui — the Ink terminal UI: `runTui` for a real terminal, `App` and `createTuiServices` for rendering it anywhere (tests). */
export { runTui, type TuiOptions } from './run-tui.js';
export { App, type AppProps } from './App.js';
export { createTuiServices, type TuiServices, type TuiServicesOptions } from './services.js';
export { COMMANDS, parseCommand, type Command, type Route } from './routes.js';
export { GLOBAL_BINDINGS, type Binding, type BindingInfo } from './keys.js';
export { createTheme, type Theme } from './theme.js';
