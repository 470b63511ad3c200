/**
 * The demo page (`GET /demo`): one room with its members and their status, using the client
 * SDK's browser bundle (served beside it), as an application would. Query: `token` (a client
 * JWT; or `user` with CLIENT_INSECURE), `channel` (default `demo`), `name`. It keeps its state on
 * `window.demo` for tests.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { errorBody, type FastifyInstance } from "@herald/runtime";

const DEMO_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald demo</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #111; }
  main { max-width: 44rem; margin: 0 auto; padding: 1rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
  .bar { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; margin: .5rem 0 1rem; }
  button { font: inherit; padding: .35rem .8rem; border: 1px solid #1f4fd1; background: #1f4fd1; color: #fff; border-radius: .4rem; cursor: pointer; }
  button:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
  ul { list-style: none; padding: 0; margin: 0; background: #fff; border: 1px solid #ccd; border-radius: .5rem; }
  li { padding: .5rem .75rem; border-top: 1px solid #e4e6eb; display: flex; justify-content: space-between; gap: 1rem; }
  li:first-child { border-top: 0; }
  .st { font-size: .85rem; padding: 0 .5rem; border-radius: 1rem; background: #e4e6eb; }
  .st.online { background: #c9f0d3; color: #0b5a23; } .st.away { background: #fde9b8; color: #6b4a00; }
  #log { font: 13px/1.4 ui-monospace, monospace; background: #111; color: #e8e8e8; padding: .75rem; border-radius: .5rem; height: 12rem; overflow: auto; white-space: pre-wrap; }
  #state { font-size: .9rem; color: #444; }
</style>
</head>
<body>
<main>
  <h1>Room <span id="room"></span></h1>
  <div id="state" role="status" aria-live="polite">connecting…</div>
  <div class="bar">
    <button id="update" type="button">Change my mood</button>
    <button id="dnd" type="button">Do not disturb</button>
    <button id="leave" type="button">Leave the room</button>
  </div>
  <h2>Members</h2>
  <ul id="members" aria-label="members"></ul>
  <h2>Events</h2>
  <div id="log" aria-label="event log"></div>
</main>
<script src="/demo/herald-client.min.js"></script>
<script>
  const q = new URLSearchParams(location.search);
  const channel = q.get("channel") || "demo";
  const name = q.get("name") || q.get("user") || "guest";
  const token = q.get("token");
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const client = HeraldClient.createClient({
    url: proto + "//" + location.host + "/connection/websocket",
    getToken: async () => token,
  });
  const room = client.channel(channel);
  const events = [];
  const demo = (window.demo = { client, room, events, ready: false });
  const $ = (id) => document.getElementById(id);
  $("room").textContent = channel;
  const log = (line) => {
    events.push(line);
    $("log").textContent += new Date().toLocaleTimeString() + "  " + line + "\\n";
    $("log").scrollTop = $("log").scrollHeight;
  };
  const render = () => {
    const ul = $("members");
    ul.replaceChildren();
    const watched = [];
    for (const m of room.members.values()) {
      watched.push(m.user);
      const s = client.statuses.get(m.user);
      const li = document.createElement("li");
      const who = document.createElement("span");
      who.textContent = (m.data.name || m.user) + (m.data.mood ? " — " + m.data.mood : "");
      const st = document.createElement("span");
      const status = s ? s.status + (s.manual ? " (" + s.manual.status + ")" : "") : "…";
      st.className = "st " + (s ? s.status : "");
      st.textContent = status;
      li.append(who, st);
      li.dataset.user = m.user;
      ul.append(li);
    }
    const unseen = watched.filter((u) => !client.statuses.has(u));
    if (unseen.length > 0) client.watch(unseen).then(render, () => {});
  };
  client.on("state", (s) => { $("state").textContent = s.state + (s.reason ? " (" + s.reason + ")" : ""); });
  client.on("status", (e) => { log("status " + e.user + ": " + e.prev + " → " + e.status); render(); });
  room.on("join", (e) => { log("join " + e.user + "/" + e.conn); render(); });
  room.on("update", (e) => { log("update " + e.user + " " + JSON.stringify(e.data)); render(); });
  room.on("leave", (e) => { log("leave " + e.user + "/" + e.conn + " (" + e.reason + ")"); render(); });
  $("update").onclick = () => room.update({ name, mood: ["happy", "busy", "curious", "sleepy"][Math.floor(Math.random() * 4)] });
  $("dnd").onclick = () => client.setStatus("dnd");
  $("leave").onclick = () => room.leave().then(render);
  client.connect();
  room.join({ name }).then(() => room.subscribe()).then(() => { demo.ready = true; render(); }, (err) => log("error " + err.message));
</script>
</body>
</html>
`;

/**
 * `GET /demo` and the client SDK's browser bundle beside it (`/demo/herald-client.min.js`),
 * read once from the @herald/client package. No API key: the page holds no secret, and the
 * WebSocket it opens needs the caller's own token.
 */
export function registerDemo(http: FastifyInstance): void {
  const require = createRequire(import.meta.url);
  let bundle: Buffer | undefined;
  try {
    bundle = readFileSync(require.resolve("@herald/client/herald-client.min.js"));
  } catch {
    bundle = undefined;
  }
  http.get("/demo", async (_req, reply) => reply.type("text/html; charset=utf-8").send(DEMO_HTML));
  http.get("/demo/herald-client.min.js", async (_req, reply) => {
    if (bundle === undefined) {
      return reply.code(404).send(errorBody(404, "the client bundle is not built: pnpm build"));
    }
    return reply.type("text/javascript; charset=utf-8").header("cache-control", "max-age=300").send(bundle);
  });
}
