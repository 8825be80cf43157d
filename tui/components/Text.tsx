/** @module tui/components/Text — Ink's Text with every string child shown as text: the TUI's one edge to the terminal for what agents, signers and clients wrote. */
import { Text as InkText, type TextProps } from 'ink';
import { Children, type ReactNode } from 'react';
import { escapeLine } from '../../core/terminal-text.js';

/**
 * Ink keeps SGR and OSC sequences in text (an OSC retitles the terminal, writes the clipboard) and passes C1 controls
 * and bidi overrides through; every line the views draw is one line. So string children are escaped with
 * {@link escapeLine}, newlines included; element children are Texts of their own and escape themselves.
 */
export function Text({ children, ...props }: TextProps) {
  return <InkText {...props}>{Children.map(children, escapeChild)}</InkText>;
}

function escapeChild(child: ReactNode): ReactNode {
  return typeof child === 'string' ? escapeLine(child) : child;
}
