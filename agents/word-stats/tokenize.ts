// Splits text into lowercase words of at least `minLength` letters.
export function tokenize(text: string, minLength: number): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []).filter((word) => word.length >= minLength);
}
