import { Partition, type Outgoing } from "../src/partition.js";
const N = Number(process.argv[2] ?? 50000);
const p = new Partition(0, { awayAfterMs: 300000, graceMs: 5000 });
const now = Date.now();
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const out: Outgoing[] = [];
  p.apply({ type: "heartbeat", user: `user-${i}`, conn: `conn-${i}`, ttl_ms: 600000, at_ms: now }, `0.${i}.0`, out);
  p.apply({ type: "join", user: `user-${i}`, conn: `conn-${i}`, channel: `ch-${i % 1000}`, data: {}, ttl_ms: 600000, at_ms: now }, `0.${i}.1`, out);
}
console.log(`load ${((performance.now() - t0) / N * 1000).toFixed(1)} µs/user`);
