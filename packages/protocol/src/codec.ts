/**
 * Internal codecs: internal messages are msgpack with plain maps (no shared record
 * structures), so every reader decodes every message on its own and the format stays stable
 * across versions. Public messages are JSON (`json` in @herald/contract).
 */
import { compile, type Validator } from "@herald/contract";
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

export function encodeCommandBatch(cmds: readonly Command[]): Uint8Array {
  return msgpack.encode({ v: COMMAND_BATCH_VERSION, cmds });
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
  for (const [index, cmd] of envelope.cmds.entries()) {
    const reason = checkCommand.explain(cmd, `cmds[${index}]`);
    if (reason === undefined) cmds.push(cmd as Command);
    else rejected.push({ index, reason, value: cmd });
  }
  return envelope.tick_ms === undefined ? { cmds, rejected } : { cmds, rejected, tick: envelope.tick_ms };
}

/** Decodes one msgpack value named `what` and checks it; throws {@link InvalidMessageError}. */
function decodeChecked<T>(bytes: Uint8Array, what: string, check: Validator<T>): T {
  let value: unknown;
  try {
    value = msgpack.decode(bytes);
  } catch (err) {
    throw new InvalidMessageError(`${what} is not msgpack: ${(err as Error).message}`);
  }
  const problem = check.explain(value, what);
  if (problem !== undefined) throw new InvalidMessageError(problem);
  return value as T;
}

const checkFact = compile(FactSchema);

export function encodeFact(fact: Fact): Uint8Array {
  return msgpack.encode(fact);
}

/** Decodes and checks one fact of the events stream; throws {@link InvalidMessageError}. */
export function decodeFact(bytes: Uint8Array): Fact {
  return decodeChecked(bytes, "fact", checkFact);
}

const checkVerdict = compile(VerdictSchema);

export function encodeVerdict(verdict: Verdict): Uint8Array {
  return msgpack.encode(verdict);
}

/** Decodes and checks a verdict; throws {@link InvalidMessageError}. */
export function decodeVerdict(bytes: Uint8Array): Verdict {
  return decodeChecked(bytes, "verdict", checkVerdict);
}
