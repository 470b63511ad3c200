/**
 * `POST …/batch` (CONTRACT.md §7): `{"commands": [{"<method>": params}, …], "parallel"?: bool}`
 * answered `{"replies": [{"<method>": result} | {"error": {code, message}}, …]}`, one reply per
 * command in order; sequential unless `parallel`. Pure over a `serve` function: the same shape
 * serves Herald's API and the Centrifugo layer, each with its own methods and errors.
 */
import { echo, InvalidParamsError, TooLargeError } from "@herald/protocol";

/** Commands one batch may carry. */
export const BATCH_MAX_COMMANDS = 1000;

export interface BatchCommand {
  readonly method: string;
  readonly params: unknown;
}

/** A reply of one command: its result under its method's name, or an error. */
export type BatchReply = Record<string, unknown>;

/** Reads a batch request. Throws 400 (its shape) or 413 (over {@link BATCH_MAX_COMMANDS}). */
export function parseBatch(body: unknown): {
  commands: (BatchCommand | InvalidParamsError)[];
  parallel: boolean;
} {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidParamsError('batch: the body must be an object {"commands": [...], "parallel"?: bool}');
  }
  const { commands, parallel, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined)
    throw new InvalidParamsError(`batch: unknown field ${JSON.stringify(echo(unknown))}`);
  if (!Array.isArray(commands)) throw new InvalidParamsError("batch: commands must be an array");
  if (commands.length > BATCH_MAX_COMMANDS) {
    throw new TooLargeError(`batch: ${commands.length} commands, at most ${BATCH_MAX_COMMANDS} are allowed`);
  }
  if (parallel !== undefined && typeof parallel !== "boolean") {
    throw new InvalidParamsError("batch: parallel must be a boolean");
  }
  return { commands: commands.map(readCommand), parallel: parallel === true };
}

/** One command: an object with exactly one key, the method (an error reply of its own otherwise). */
function readCommand(item: unknown, i: number): BatchCommand | InvalidParamsError {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    return new InvalidParamsError(`commands[${i}] must be an object {"<method>": params}`);
  }
  const keys = Object.keys(item);
  if (keys.length !== 1) {
    return new InvalidParamsError(
      `commands[${i}] must have exactly one key, the method; it has ${keys.length}`,
    );
  }
  const method = keys[0] as string;
  if (method === "batch") return new InvalidParamsError(`commands[${i}]: a batch cannot hold a batch`);
  return { method, params: (item as Record<string, unknown>)[method] };
}

/**
 * Runs the commands (in order, or all at once when `parallel`) and collects one reply each;
 * `serve` answers a result or throws, and `failure` turns what it threw into an error reply.
 */
export async function runBatch(
  batch: { commands: readonly (BatchCommand | InvalidParamsError)[]; parallel: boolean },
  serve: (method: string, params: unknown) => Promise<object>,
  failure: (err: unknown) => BatchReply,
): Promise<BatchReply[]> {
  const one = async (cmd: BatchCommand | InvalidParamsError): Promise<BatchReply> => {
    if (cmd instanceof InvalidParamsError) return failure(cmd);
    try {
      return { [cmd.method]: await serve(cmd.method, cmd.params) };
    } catch (err) {
      return failure(err);
    }
  };
  if (batch.parallel) return Promise.all(batch.commands.map(one));
  const replies: BatchReply[] = [];
  for (const cmd of batch.commands) replies.push(await one(cmd));
  return replies;
}
