import { transition, initialTransition } from "xstate";
import { presenceMachine } from "../dist/machine.js";
const N = 20000;
for (let round = 0; round < 3; round++) {
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  let [s] = initialTransition(presenceMachine, { user: `u${i}`, awayAfterMs: 300000, graceMs: 5000 });
  [s] = transition(presenceMachine, s, { type: "CONNECT", conn: "k", at: 1 });
  [s] = transition(presenceMachine, s, { type: "JOIN", conn: "k", channel: "c", data: {}, at: 1 });
}
const t1 = performance.now();
console.log(((t1 - t0) * 1000 / N / 3).toFixed(1), "µs per xstate op");
}
