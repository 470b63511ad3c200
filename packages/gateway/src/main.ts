#!/usr/bin/env node
// Entry point: `node packages/gateway/dist/main.js`, configured by environment variables alone.
import { runWorker } from "@herald/runtime";
import { start } from "./app.js";
import { registerHttpApi } from "./http/routes.js";

await runWorker("gateway", start, {
  routes: (http, app, { config, log }) =>
    registerHttpApi(http, {
      dispatcher: () => app()?.dispatcher,
      apiKey: config.httpApiKey,
      nodes: async () => (await app()?.nodes()) ?? [],
      log,
    }),
});
