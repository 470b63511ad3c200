/**
 * Messages in the dead-letter stream, by the source that set them aside (`herald.dlq.<source>`):
 * what every presence-actor and status-projector dead-lettered, kept as long as the stream
 * keeps them (a process's own count starts again when it restarts).
 */
import { internalSubjects, streams } from "@herald/protocol";
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";

const PREFIX = internalSubjects.deadLetter("");

export async function deadLetterCounts(
  jsm: JetStreamManager,
): Promise<{ total: number; by_source: Record<string, number> }> {
  try {
    const info = await jsm.streams.info(streams.deadLetters, {
      subjects_filter: internalSubjects.allDeadLetters,
    });
    const by_source: Record<string, number> = {};
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
      const source = subject.startsWith(PREFIX) ? subject.slice(PREFIX.length) : subject;
      by_source[source] = (by_source[source] ?? 0) + n;
    }
    return { total: info.state.messages, by_source };
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)
      return { total: 0, by_source: {} };
    throw err;
  }
}
