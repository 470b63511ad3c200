/**
 * Reply bodies of the API (CONTRACT.md §4), pure: `{"result": {...}}` or
 * `{"error": {code, message}}`, plus what goes into the micro-service error headers.
 */
import { type HeraldError, json } from "@herald/protocol";

export function resultBody(result: object): Uint8Array {
  return json.encode({ result });
}

export interface ErrorReply {
  /** `Nats-Service-Error-Code`. */
  readonly code: number;
  /** `Nats-Service-Error`: the message on one line. */
  readonly description: string;
  /** `{"error": {code, message}}`. */
  readonly body: Uint8Array;
}

/** A header value must be one line: control characters (from echoed input) become spaces. */
export function headerSafe(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: exactly what is being removed
  return text.replace(/[\u0000-\u001f\u007f]/g, " ");
}

export function errorReply(err: HeraldError): ErrorReply {
  return { code: err.code, description: headerSafe(err.message), body: json.encode(err.toJSON()) };
}
