/** @module tui/components/TextField — a one-line text input that owns every key while active (the app's `:` `/` `?` reach it as text); the view marks it open with useCapture. */
import { Text } from './Text.js';
import { useKeys } from '../hooks/use-keys.js';

export interface TextFieldProps {
  label: string;
  value: string;
  isActive: boolean;
  /** Show the cursor even when another handler edits the value (the app's command line). @default isActive */
  isCursorShown?: boolean;
  placeholder?: string;
  onChange(value: string): void;
  onSubmit(value: string): void;
  onCancel(): void;
}

export function TextField({ label, value, isActive, isCursorShown = isActive, placeholder, onChange, onSubmit, onCancel }: TextFieldProps) {
  useKeys(
    'field',
    (input, key) => {
      if (key.return) onSubmit(value);
      else if (key.escape) onCancel();
      else if (key.backspace || key.delete) onChange(value.slice(0, -1));
      else if (key.ctrl && input === 'u') onChange('');
      else if (!key.ctrl && !key.meta && !key.tab && !key.upArrow && !key.downArrow && !key.leftArrow && !key.rightArrow && input) {
        // A run of typed or pasted text arrives at once; newlines in it would submit nothing useful on one line.
        onChange(value + input.replace(/[\r\n]+/g, ' '));
      }
    },
    isActive,
  );
  return (
    <Text>
      <Text bold>{label}</Text>
      {value === '' && placeholder ? <Text dimColor>{placeholder}</Text> : <Text>{value}</Text>}
      {isCursorShown ? <Text inverse> </Text> : null}
    </Text>
  );
}
