#!/usr/bin/env node
// Entry point: `node packages/presence-actor/dist/main.js`, configured by environment variables alone.
import { runWorker } from "@herald/runtime";
import { start } from "./app.js";

await runWorker("presence-actor", start);
