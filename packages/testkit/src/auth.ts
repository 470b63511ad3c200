/**
 * The NATS users of nats-auth.conf (the repository's one definition of users and permissions)
 * for tests: their names, the environment variable each password comes from, and random
 * passwords. nats-server resolves `$HERALD_<USER>_PASSWORD` from its environment.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./worker-process.js";

/** Every user of nats-auth.conf: one per component, applications, a KV reader, operators. */
export const NATS_USERS = [
  "gateway",
  "presence-actor",
  "status-projector",
  "client",
  "reader",
  "admin",
] as const;
export type NatsUser = (typeof NATS_USERS)[number];

/** The users' file, included by the server's configuration. */
export const natsAuthConf = (): string => join(repoRoot, "nats-auth.conf");

/** `HERALD_<USER>_PASSWORD`: the variable nats-auth.conf takes `user`'s password from. */
export function passwordVariable(user: string): string {
  return `HERALD_${user.toUpperCase().replaceAll("-", "_")}_PASSWORD`;
}

/** The users a nats-auth.conf text defines, each with the variable its password comes from. */
export function usersOf(conf: string): { user: string; variable: string }[] {
  const found: { user: string; variable: string }[] = [];
  for (const m of conf.matchAll(/^\s*user:\s*"?([\w-]+)"?\s*\n\s*password:\s*\$(\w+)\s*$/gm)) {
    found.push({ user: m[1] as string, variable: m[2] as string });
  }
  return found;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A random password: 32 letters and digits (about 190 bits), starting with a letter, so that
 * nats-server reads it from the environment as a string (a value of digits alone would be a
 * number) and it needs no escaping in a URL.
 */
export function randomPassword(): string {
  const bytes = randomBytes(64);
  let out = "";
  for (const b of bytes) {
    // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
    if (b >= 248) continue;
    const c = ALPHABET[b % 62] as string;
    if (out.length === 0 && !/[A-Za-z]/.test(c)) continue;
    out += c;
    if (out.length === 32) return out;
  }
  return randomPassword();
}

/**
 * Random passwords for every user, after checking that nats-auth.conf defines exactly
 * {@link NATS_USERS} with the variables {@link passwordVariable} names.
 */
export function testCredentials(): Readonly<Record<NatsUser, string>> {
  const defined = usersOf(readFileSync(natsAuthConf(), "utf8"));
  const want = NATS_USERS.map((user) => ({ user, variable: passwordVariable(user) }));
  if (JSON.stringify(defined) !== JSON.stringify(want)) {
    throw new Error(
      `nats-auth.conf defines ${JSON.stringify(defined)}; the testkit expects ${JSON.stringify(want)}`,
    );
  }
  return Object.freeze(
    Object.fromEntries(NATS_USERS.map((user) => [user, randomPassword()])) as Record<NatsUser, string>,
  );
}
