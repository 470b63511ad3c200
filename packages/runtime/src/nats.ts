import type { NatsConfig } from "@herald/protocol";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import type { Logger } from "pino";

/**
 * The inbox prefix of a connection as `user`: `_INBOX_<user>` for a user name that can be a
 * subject token, so that its replies (JetStream API answers, KV watch and consumer deliveries)
 * come to subjects only that user may subscribe to (nats-auth.conf); other users' `_INBOX.>`
 * does not cover them. Without a user (or with a name that cannot be a token): `_INBOX`.
 */
export function inboxPrefixFor(user: string | undefined): string | undefined {
  return user !== undefined && /^[A-Za-z0-9_-]+$/.test(user) ? `_INBOX_${user}` : undefined;
}

/**
 * Connects to NATS with endless reconnects: a worker started before its server waits for it,
 * and one whose server restarts carries on. Connection status changes are logged.
 */
export async function connectNats(nats: NatsConfig, name: string, log: Logger): Promise<NatsConnection> {
  log.info({ servers: nats.servers }, "connecting to NATS");
  const inboxPrefix = inboxPrefixFor(nats.user);
  const nc = await connect({
    servers: [...nats.servers],
    name,
    ...(nats.user !== undefined ? { user: nats.user, pass: nats.pass ?? "" } : {}),
    ...(inboxPrefix !== undefined ? { inboxPrefix } : {}),
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
  });
  log.info({ server: nc.getServer() }, "connected to NATS");
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
          log.warn({ server: s.server }, "disconnected from NATS");
          break;
        case "staleConnection":
          log.warn("NATS connection is stale");
          break;
        case "reconnecting":
          log.debug("reconnecting to NATS");
          break;
        case "reconnect":
          log.info({ server: s.server }, "reconnected to NATS");
          break;
        case "error":
          log.error({ err: s.error }, "NATS connection error");
          break;
        default:
          break;
      }
    }
  })();
  return nc;
}
