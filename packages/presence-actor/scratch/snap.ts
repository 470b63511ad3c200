import { transition, initialTransition } from "xstate";
import { presenceMachine } from "../src/machine.js";
const N = 100000;
const keep: unknown[] = [];
global.gc?.(); const h0 = process.memoryUsage().heapUsed;
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  let [s] = initialTransition(presenceMachine, { user: `u${i}`, awayAfterMs: 300000, graceMs: 5000 });
  [s] = transition(presenceMachine, s, { type: "CONNECT", conn: "k", at: 1 });
  [s] = transition(presenceMachine, s, { type: "JOIN", conn: "k", channel: "c", data: {}, at: 1 });
  keep.push(process.env.MODE === "vc" ? [s.value, s.context] : s);
}
const t1 = performance.now();
global.gc?.(); const h1 = process.memoryUsage().heapUsed;
console.log(process.env.MODE ?? "snapshot", ((h1 - h0) / N).toFixed(0), "B/user", ((t1 - t0) / N).toFixed(1), "µs/user (3 transitions)");
const s = keep[5] as any;
const t2 = performance.now();
for (let i = 0; i < N; i++) { const v = keep[i] as any; const r = process.env.MODE === "vc" ? presenceMachine.resolveState({ value: v[0], context: v[1] }) : v; }
const t3 = performance.now();
console.log("resolveState", ((t3 - t2) / N).toFixed(2), "µs");
if (process.env.MODE !== "vc") console.log(Object.keys(s));
