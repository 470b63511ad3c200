/**
 * Internal codecs: internal messages are msgpack with plain maps (no shared record
 * structures), so every reader decodes every message on its own and the format stays stable
 * across versions. Public messages are JSON (`json` in @herald/contract).
 */
import { compile, jsonDepth, limits, utf8Length, type Validator } from "@herald/contract";
import { Packr } from "msgpackr";
import { InvalidMessageError } from "./errors.js";
import {
  COMMAND_BATCH_VERSION,
  type Command,
  CommandBatchEnvelope,
  Command as CommandSchema,
  type Fact,
  Fact as FactSchema,
  type Verdict,
  Verdict as VerdictSchema,
} from "./schemas.js";

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

/** Internal msgpack codec. */
export const msgpack = {
  encode(value: unknown): Uint8Array {
    return packr.pack(value);
  },
  /** Throws on bytes that are not one msgpack value. */
  decode(bytes: Uint8Array): unknown {
    return packr.unpack(bytes);
  },
};

const checkEnvelope = compile(CommandBatchEnvelope);
const checkCommand = compile(CommandSchema);

/**
 * Member `data` crosses msgpack as JSON text: a msgpack map cannot carry every JSON object (the
 * decoder renames a `__proto__` key), and JSON text can carry nothing but JSON.
 */
const withDataAsText = <T extends object>(x: T): T =>
  "data" in x && x.data !== undefined ? { ...x, data: JSON.stringify(x.data) } : x;

/**
 * `data` sent as JSON text, back to an object: it must be JSON, an object, within the size and
 * depth limits (a message that was never checked by a gateway may carry anything).
 */
function dataFromText(text: unknown, field: string): Record<string, unknown> {
  let data: unknown;
  if (typeof text === "string") {
    if (utf8Length(text) > limits.dataMaxBytes) {
      throw new InvalidMessageError(`${field}: over ${limits.dataMaxBytes} bytes of JSON`);
    }
    try {
      data = JSON.parse(text);
    } catch {
      throw new InvalidMessageError(`${field}: not JSON`);
    }
  } else {
    // Version 1: a map. Only what JSON can hold is accepted (no BigInt, no extension types).
    try {
      if (utf8Length(JSON.stringify(text) ?? "") > limits.dataMaxBytes) {
        throw new InvalidMessageError(`${field}: over ${limits.dataMaxBytes} bytes of JSON`);
      }
      data = JSON.parse(JSON.stringify(text) ?? "null");
    } catch (err) {
      if (err instanceof InvalidMessageError) throw err;
      throw new InvalidMessageError(`${field}: not JSON (${(err as Error).message})`);
    }
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new InvalidMessageError(`${field}: must be a JSON object`);
  }
  if (jsonDepth(data, limits.dataMaxDepth) < 0) {
    throw new InvalidMessageError(`${field}: nested deeper than ${limits.dataMaxDepth} levels`);
  }
  return data as Record<string, unknown>;
}

export function encodeCommandBatch(cmds: readonly Command[]): Uint8Array {
  return msgpack.encode({ v: COMMAND_BATCH_VERSION, cmds: cmds.map(withDataAsText) });
}

/** A command-stream message with no command that moves the partition's clock to `at`. */
export function encodeTick(at: number): Uint8Array {
  return msgpack.encode({ v: COMMAND_BATCH_VERSION, cmds: [], tick_ms: at });
}

/** A command of a batch that failed its schema: dead-lettered alone, with the reason. */
export interface RejectedCommand {
  readonly index: number;
  readonly reason: string;
  readonly value: unknown;
}

export interface DecodedCommandBatch {
  /** The valid commands, in batch order. */
  readonly cmds: Command[];
  readonly rejected: RejectedCommand[];
  /** The clock tick the message carries, if any (applied after its commands). */
  readonly tick?: number;
}

/**
 * Decodes one command-stream message. A message that is not msgpack or has a bad envelope
 * throws {@link InvalidMessageError}; each command is then checked on its own, so one bad
 * command does not cost the others.
 */
export function decodeCommandBatch(bytes: Uint8Array): DecodedCommandBatch {
  let value: unknown;
  try {
    value = msgpack.decode(bytes);
  } catch (err) {
    throw new InvalidMessageError(`command batch is not msgpack: ${(err as Error).message}`);
  }
  const problem = checkEnvelope.explain(value);
  if (problem !== undefined) throw new InvalidMessageError(`command batch: ${problem}`);
  const cmds: Command[] = [];
  const rejected: RejectedCommand[] = [];
  const envelope = value as { cmds: unknown[]; tick_ms?: number };
  if (envelope.cmds.length === 0 && envelope.tick_ms === undefined) {
    throw new InvalidMessageError("command batch: cmds: must not be empty unless tick_ms is given");
  }
  for (const [index, value] of envelope.cmds.entries()) {
    let cmd = value;
    try {
      const c = value as { type?: unknown; data?: unknown } | null;
      if (c !== null && typeof c === "object" && (c.type === "join" || c.type === "update")) {
        cmd = { ...c, data: dataFromText(c.data, `cmds[${index}].data`) };
      }
    } catch (err) {
      rejected.push({ index, reason: (err as Error).message, value });
      continue;
    }
    const reason = checkCommand.explain(cmd, `cmds[${index}]`);
    if (reason === undefined) cmds.push(cmd as Command);
    else rejected.push({ index, reason, value });
  }
  return envelope.tick_ms === undefined ? { cmds, rejected } : { cmds, rejected, tick: envelope.tick_ms };
}

/**
 * Decodes one msgpack value named `what`, prepares it (`prepare`, which may throw
 * InvalidMessageError) and checks it; throws {@link InvalidMessageError}.
 */
function decodeChecked<T>(
  bytes: Uint8Array,
  what: string,
  check: Validator<T>,
  prepare: (value: unknown) => unknown = (value) => value,
): T {
  let value: unknown;
  try {
    value = msgpack.decode(bytes);
  } catch (err) {
    throw new InvalidMessageError(`${what} is not msgpack: ${(err as Error).message}`);
  }
  value = prepare(value);
  const problem = check.explain(value, what);
  if (problem !== undefined) throw new InvalidMessageError(problem);
  return value as T;
}

const checkFact = compile(FactSchema);

export function encodeFact(fact: Fact): Uint8Array {
  return msgpack.encode(
    fact.type === "member" && fact.doc !== null ? { ...fact, doc: withDataAsText(fact.doc) } : fact,
  );
}

/** Decodes and checks one fact of the events stream; throws {@link InvalidMessageError}. */
export function decodeFact(bytes: Uint8Array): Fact {
  return decodeChecked(bytes, "fact", checkFact, (value) => {
    const f = value as { type?: unknown; doc?: { data?: unknown } | null } | null;
    if (
      f === null ||
      typeof f !== "object" ||
      f.type !== "member" ||
      typeof f.doc !== "object" ||
      f.doc === null
    )
      return value;
    return { ...f, doc: { ...f.doc, data: dataFromText(f.doc.data, "fact.doc.data") } };
  });
}

const checkVerdict = compile(VerdictSchema);

export function encodeVerdict(verdict: Verdict): Uint8Array {
  return msgpack.encode(verdict);
}

/** Decodes and checks a verdict; throws {@link InvalidMessageError}. */
export function decodeVerdict(bytes: Uint8Array): Verdict {
  return decodeChecked(bytes, "verdict", checkVerdict);
}
