/**
 * Codecs: public messages are JSON (any NATS client can read them); internal messages are
 * msgpack with plain maps (no shared record structures), so every reader decodes every
 * message on its own and the format stays stable across versions.
 */
import { Packr } from "msgpackr";
import { InvalidMessageError } from "./errors.js";
import {
  COMMAND_BATCH_VERSION,
  type Command,
  type CommandBatch,
  CommandBatch as CommandBatchSchema,
} from "./schemas.js";
import { compile } from "./validate.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Public JSON codec. */
export const json = {
  encode(value: unknown): Uint8Array {
    return encoder.encode(JSON.stringify(value));
  },
  /** Parses UTF-8 JSON; throws SyntaxError on bad input. */
  decode(bytes: Uint8Array): unknown {
    return JSON.parse(decoder.decode(bytes));
  },
};

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

const checkBatch = compile(CommandBatchSchema);

export function encodeCommandBatch(cmds: readonly Command[]): Uint8Array {
  return msgpack.encode({ v: COMMAND_BATCH_VERSION, cmds });
}

/** Decodes and validates one command-stream message; throws {@link InvalidMessageError}. */
export function decodeCommandBatch(bytes: Uint8Array): CommandBatch {
  let value: unknown;
  try {
    value = msgpack.decode(bytes);
  } catch (err) {
    throw new InvalidMessageError(`command batch is not msgpack: ${(err as Error).message}`);
  }
  const problem = checkBatch.explain(value);
  if (problem !== undefined) throw new InvalidMessageError(`command batch: ${problem}`);
  return value as CommandBatch;
}
