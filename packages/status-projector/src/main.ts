#!/usr/bin/env node
// Entry point: `node packages/status-projector/dist/main.js`, configured by environment variables alone.
import { runWorker } from "@herald/runtime";
import { start } from "./app.js";

await runWorker("status-projector", start);
