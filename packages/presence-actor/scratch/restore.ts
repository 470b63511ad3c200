import { Partition, type Outgoing } from "../src/partition.js";
import { msgpack } from "../../protocol/src/codec.js";
const N = Number(process.argv[2] ?? 100000);
const p = new Partition(0, { awayAfterMs: 300000, graceMs: 5000 });
const now = Date.now();
for (let i = 0; i < N; i++) {
  const out: Outgoing[] = [];
  p.apply({ type: "heartbeat", user: `user-${i}`, conn: `conn-${i}`, ttl_ms: 600000, at_ms: now }, `0.${i}.0`, out);
  p.apply({ type: "join", user: `user-${i}`, conn: `conn-${i}`, channel: `ch-${i % 1000}`, data: {}, ttl_ms: 600000, at_ms: now }, `0.${i}.1`, out);
}
const bytes = msgpack.encode(p.save());
for (let k = 0; k < 3; k++) {
const t0 = performance.now();
const saved = msgpack.decode(bytes) as ReturnType<Partition["save"]>;
const t1 = performance.now();
const r = Partition.restore(saved, { awayAfterMs: 300000, graceMs: 5000 });
const t2 = performance.now();
console.log(`decode ${(t1 - t0).toFixed(0)} ms, restore ${(t2 - t1).toFixed(0)} ms for ${r.users.size} users`);
}
