#!/usr/bin/env node
// Entry point: `node packages/gateway/dist/main.js`, configured by environment variables alone.
import { runWorker } from "@herald/runtime";
import { start } from "./app.js";
import { registerDashboard } from "./dashboard/routes.js";
import { registerDemo } from "./http/demo.js";
import { registerHttpApi } from "./http/routes.js";
import { tuning } from "./tuning.js";
import { WebSocketEdge } from "./ws/edge.js";
import { NO_VERIFIER, TokenVerifier } from "./ws/tokens.js";

await runWorker("gateway", start, {
  routes: (http, app, { config, log, metrics }) => {
    registerHttpApi(http, {
      dispatcher: () => app()?.dispatcher,
      apiKey: config.httpApiKey,
      nodes: async () => (await app()?.nodes()) ?? [],
      log,
    });
    registerDemo(http);
    registerDashboard(http, { app, config, log, metrics });
    // Throws ConfigError (exit 78) for a public key that cannot verify RS256 or ES256.
    const tokens = TokenVerifier.create(config.clientTokens);
    if (tokens.insecure) {
      log.warn(
        "CLIENT_INSECURE=true: WebSocket client tokens are NOT verified and clients may name any user. Development only; never in production",
      );
    } else if (!tokens.enabled) {
      log.info(NO_VERIFIER);
    }
    new WebSocketEdge(http, {
      deps: () => {
        const a = app();
        if (a === undefined) return undefined;
        return {
          dispatcher: a.dispatcher,
          ...a.sockets,
          tokens,
          ttlMs: config.ttlMs,
          maxSubscriptions: config.maxChannelsPerConn,
          maxWatched: tuning.wsMaxWatched,
          maxBufferedBytes: tuning.wsMaxBufferedBytes,
          connectTimeoutMs: tuning.wsConnectTimeoutMs,
          now: Date.now,
          log: log.child({ module: "ws" }),
        };
      },
      // A dead peer is found within two pings; its conn then times out after its ttl.
      pingMs: Math.min(tuning.wsPingMs, Math.floor(config.ttlMs / 3)),
      registry: metrics,
      log,
    });
  },
});
