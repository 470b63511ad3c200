#!/usr/bin/env node
// Entry point: `node packages/gateway/dist/main.js`, configured by environment variables alone.
import { runWorker } from "@herald/runtime";
import { start } from "./app.js";

await runWorker("gateway", start);
