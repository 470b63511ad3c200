/**
 * The connection options, which the program takes before the command (`herald --server … status
 * 42`) and each command after its name (`herald status 42 --server …`), the command's winning.
 * `watch` and `history` use `--user` for the user they are about; there the NATS user goes
 * before the command (or in NATS_USER or the URL).
 */
import { type Command, Option } from "commander";

export interface ConnectionOptions {
  server?: string;
  user?: string;
  password?: string;
  inboxPrefix?: string;
  credentials?: string;
  timeout?: string;
}

export const DEFAULT_TIMEOUT = "5s";

const KEYS = ["server", "user", "password", "inboxPrefix", "credentials", "timeout"] as const;

/** The connection options each command declares (by attribute name). */
const declared = new WeakMap<Command, ReadonlySet<string>>();

/** Adds the connection options to `cmd`; `user: false` where `--user` means something else. */
export function addConnectionOptions(cmd: Command, opts: { user?: boolean } = {}): Command {
  const withUser = opts.user !== false;
  const group = "Connection options:";
  cmd.addOption(
    new Option(
      "-s, --server <url>",
      "NATS server(s), comma-separated; may carry user:pass@ (default: $NATS_URL or nats://127.0.0.1:4222)",
    ).helpGroup(group),
  );
  if (withUser)
    cmd.addOption(
      new Option(
        "--user <name>",
        "NATS user (default: $NATS_USER, the URL's, or the command's usual user with --credentials)",
      ).helpGroup(group),
    );
  cmd
    .addOption(
      new Option(
        "--password <secret>",
        "NATS password (default: $NATS_PASSWORD, the URL's, or from --credentials)",
      ).helpGroup(group),
    )
    .addOption(
      new Option(
        "--inbox-prefix <prefix>",
        "inbox prefix of replies (default: _INBOX; _INBOX_<user> for admin commands)",
      ).helpGroup(group),
    )
    .addOption(
      new Option(
        "--credentials <file>",
        'HERALD_<USER>_PASSWORD=… lines for a missing password (default: .data/credentials.env here or above, from `npm start`; "" for none)',
      ).helpGroup(group),
    )
    .addOption(
      new Option(
        "--timeout <duration>",
        `connect and request timeout (default: ${DEFAULT_TIMEOUT})`,
      ).helpGroup(group),
    );
  declared.set(cmd, new Set(withUser ? KEYS : KEYS.filter((k) => k !== "user")));
  return cmd;
}

/** The connection options in force for `cmd`: the program's, overridden by the command's. */
export function connectionOptions(cmd: Command): ConnectionOptions {
  const chain: Command[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) chain.unshift(c);
  const out: ConnectionOptions = {};
  for (const c of chain) {
    const keys = declared.get(c);
    if (keys === undefined) continue;
    const values = c.opts<Record<string, string | undefined>>();
    for (const k of keys) {
      const v = values[k];
      if (v !== undefined) out[k as keyof ConnectionOptions] = v;
    }
  }
  return out;
}
