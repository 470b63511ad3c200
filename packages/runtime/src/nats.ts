import type { NatsConfig } from "@herald/protocol";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import type { Logger } from "pino";

/**
 * Connects to NATS with endless reconnects: a worker started before its server waits for it,
 * and one whose server restarts carries on. Connection status changes are logged.
 */
export async function connectNats(nats: NatsConfig, name: string, log: Logger): Promise<NatsConnection> {
  log.info({ servers: nats.servers }, "connecting to NATS");
  const nc = await connect({
    servers: [...nats.servers],
    name,
    ...(nats.user !== undefined ? { user: nats.user, pass: nats.pass ?? "" } : {}),
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
