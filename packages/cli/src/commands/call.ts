/** `herald call <method> [json]`: any API method, the result as JSON. */
import { COMMAND_METHODS, QUERY_METHODS } from "@herald/contract";
import type { Command } from "commander";
import { type Context, examples } from "../context.js";
import { parseJsonObject } from "../parse.js";

/** Reads all of stdin (params given as `-`). */
async function readStdin(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin)
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

export function registerCall(program: Command, ctx: Context): void {
  program
    .command("call")
    .summary("call any API method with JSON params")
    .description(
      `Sends a request to presence.api.<method> and prints the result as JSON. An error reply is printed as its code and message, with exit code 1.\n\nMethods: ${[...COMMAND_METHODS, ...QUERY_METHODS].join(", ")}.`,
    )
    .argument("<method>", "the method, e.g. heartbeat, join, get_user_status")
    .argument("[params]", "the params as a JSON object, or - to read them from stdin", "{}")
    .addHelpText(
      "after",
      examples([
        [
          `herald call heartbeat '{"user":"42","conn":"tab-1","ttl_ms":60000}'`,
          "a conn of user 42 is live for 60 s",
        ],
        [
          `herald call join '{"user":"42","conn":"tab-1","channel":"room:1","data":{"name":"Ada"}}'`,
          "join a channel",
        ],
        [`herald call set_status '{"user":"42","status":"dnd","text":"focus"}'`, "do not disturb"],
        [`echo '{"channel":"room:1"}' | herald call presence -`, "params from stdin"],
      ]),
    )
    .action(async (method: string, raw: string, _opts: unknown, cmd: Command) => {
      const text = raw === "-" ? await readStdin(ctx.io.stdin) : raw;
      const params = parseJsonObject(text, "params");
      const result = await ctx.withSession(cmd, "client", (s) => s.api.call(method, params));
      ctx.json(result);
    });
}
