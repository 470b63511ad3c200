/** NATS header values written from text Herald does not control (reasons, echoed input). */

/** Longest header value Herald writes. */
export const HEADER_VALUE_MAX_CHARS = 1000;

/**
 * `text` as one header line: control characters (line breaks included) become spaces, and it is
 * cut at `maxChars` (with `…`).
 */
export function headerValue(text: string, maxChars = HEADER_VALUE_MAX_CHARS): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: exactly what is being removed
  const line = text.replace(/[\u0000-\u001f\u007f]/g, " ");
  return line.length <= maxChars ? line : `${line.slice(0, maxChars - 1)}…`;
}
