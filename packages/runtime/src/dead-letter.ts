/**
 * Dead letters: a message a component could not decode or apply goes to `herald.dlq.<component>`
 * (stream `HERALD_DLQ`) with why, and where it came from, in headers; the component moves on.
 * One form for every component, always small enough to store: a payload over
 * {@link DEAD_LETTER_MAX_BYTES} is cut, and its original size noted.
 */
import { type Component, headers as H, internalSubjects } from "@herald/protocol";
import { headerValue } from "./headers.js";
import type { Publication } from "./publisher.js";

/** The most of a payload a dead letter keeps (the rest of max_payload is left for headers). */
export const DEAD_LETTER_MAX_BYTES = 64 * 1024;

export interface DeadLetterSource {
  /** The component that could not use the message. */
  readonly component: Component;
  /** Where the message was stored. */
  readonly stream: string;
  readonly seq: number;
  readonly subject?: string;
  /** Which part of the message (a command of a batch), when it is not the whole message. */
  readonly part?: string;
}

/**
 * The dead letter of `data` (or part of a message) for `reason`. Its id depends only on where
 * the message was stored, so a component that dead-letters it again after a crash stores it once.
 */
export function deadLetter(
  source: DeadLetterSource,
  data: Uint8Array,
  reason: string,
): Publication & {
  readonly msgId: string;
} {
  const headers: Record<string, string> = {
    [H.deadLetterReason]: headerValue(reason),
    [H.sourceStream]: source.stream,
    [H.sourceSeq]: String(source.seq),
  };
  if (source.subject !== undefined) headers[H.sourceSubject] = headerValue(source.subject);
  let payload = data;
  if (data.length > DEAD_LETTER_MAX_BYTES) {
    headers[H.deadLetterTruncated] = String(data.length);
    payload = data.subarray(0, DEAD_LETTER_MAX_BYTES);
  }
  return {
    subject: internalSubjects.deadLetter(source.component),
    data: payload,
    msgId: `dl.${source.component}.${source.stream}.${source.seq}.${source.part ?? "all"}`,
    headers,
  };
}
