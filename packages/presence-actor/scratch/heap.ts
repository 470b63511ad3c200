import { writeHeapSnapshot } from "node:v8";
import { Partition, type Outgoing } from "../src/partition.js";
const N = 20000;
const p = new Partition(0, { awayAfterMs: 300000, graceMs: 5000 });
const now = Date.now();
for (let i = 0; i < N; i++) {
  const out: Outgoing[] = [];
  p.apply({ type: "heartbeat", user: `user-${i}`, conn: `conn-${i}`, ttl_ms: 600000, at_ms: now }, `0.${i}.0`, out);
  p.apply({ type: "join", user: `user-${i}`, conn: `conn-${i}`, channel: `ch-${i % 1000}`, data: {}, ttl_ms: 600000, at_ms: now }, `0.${i}.1`, out);
}
(globalThis as any).keep = p;
global.gc?.();
console.log(writeHeapSnapshot("/tmp/h.heapsnapshot"));
