import { Packr } from "../../protocol/node_modules/msgpackr/index.js";
import { msgpack } from "../../protocol/src/codec.js";
const N = 100000;
const nested = [], flat: unknown[] = [];
for (let i = 0; i < N; i++) {
  nested.push([{ status: "online", manual: "none" }, { user: `user-${i}`, awayAfterMs: 300000, graceMs: 5000, conns: [{ id: `conn-${i}`, channels: [{ channel: `ch-${i % 1000}`, data: {}, joined_at_ms: 1795435064602, updated_at_ms: 1795435064602 }] }], activeAt: 1795435064602 }, 1795435064]);
  flat.push(`user-${i}`, "online|none", 1795435064602, null, null, 1795435064, 1, `conn-${i}`, 1, `ch-${i % 1000}`, null, 1795435064602, 1795435064602);
}
for (const [name, v] of [["nested", nested], ["flat", flat]] as const) {
  const t0 = performance.now(); const b = msgpack.encode(v); const t1 = performance.now(); msgpack.decode(b); const t2 = performance.now();
  console.log(name, `encode ${(t1 - t0).toFixed(0)} ms, decode ${(t2 - t1).toFixed(0)} ms, ${(b.length / N).toFixed(0)} B/user`);
}
