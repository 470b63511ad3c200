/**
 * MarkerPurge against a real nats-server: old delete markers of the members bucket go, values
 * and young markers stay, and a value written on a key after the scan found its marker is never
 * removed.
 */
import { buckets, kvNames, loadConfig } from "@herald/protocol";
import { ensureResources } from "@herald/runtime";
import { NatsServer } from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { expect, it } from "vitest";
import { MarkerPurge } from "./marker-purge.js";

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

it("removes delete markers older than the age, and nothing else (as the status-projector user)", async () => {
  await using server = await NatsServer.start({ auth: true });
  const nc = await connect(server.optionsFor("status-projector"));
  try {
    const jsm = await jetstreamManager(nc);
    await ensureResources(nc, jsm, loadConfig({ NATS_URL: server.url }), "status-projector", log);
    const kv = await new Kvm(nc).open(buckets.members);
    const subjects = async () => {
      const info = await jsm.streams.info(kvNames.stream(buckets.members), { subjects_filter: ">" });
      return Object.keys(info.state.subjects ?? {})
        .map((s) => s.slice(kvNames.subject(buckets.members, "").length))
        .sort();
    };
    const purge = (maxAgeMs: number) =>
      new MarkerPurge(jsm, { maxAgeMs, everyMs: 60_000, concurrency: 4 }, log).run();

    // Nothing to do on an empty bucket.
    expect(await purge(0)).toEqual({ scanned: 0, purged: 0 });

    await kv.put("live", "{}");
    for (const k of ["gone1", "gone2", "back"]) {
      await kv.put(k, "{}");
      await kv.delete(k);
    }
    await kv.put("back", '{"again":true}'); // joined again with the same conn
    expect(await subjects()).toEqual(["back", "gone1", "gone2", "live"]);

    // Young markers stay.
    expect(await purge(60_000)).toEqual({ scanned: 4, purged: 0 });
    expect(await subjects()).toEqual(["back", "gone1", "gone2", "live"]);

    // Old ones go; the values stay, the later value of `back` included.
    const start = Date.now();
    expect(await purge(0)).toEqual({ scanned: 4, purged: 2 });
    expect(Date.now() - start).toBeLessThan(5000);
    expect(await subjects()).toEqual(["back", "live"]);
    expect((await kv.get("back"))?.string()).toBe('{"again":true}');
    expect((await kv.get("live"))?.operation).toBe("PUT");

    // Every request was within the status-projector user's permissions.
    expect(server.permissionViolations()).toEqual([]);

    // Idempotent: a second run finds nothing.
    expect(await purge(0)).toEqual({ scanned: 2, purged: 0 });

    // A member that joins again with the same conn between the scan and the purge stays.
    await kv.put("race", "{}");
    await kv.delete("race");
    const purger = new MarkerPurge(jsm, { maxAgeMs: 0, everyMs: 60_000, concurrency: 4 }, log);
    // The stream's newest message stays, even an old marker: else a watch would look behind.
    expect((await purger.scan()).old).toEqual([]);
    await kv.put("tail", "{}");
    const { old } = await purger.scan();
    expect(old.map((m) => m.subject)).toEqual([kvNames.subject(buckets.members, "race")]);
    await kv.put("race", '{"rejoined":true}');
    expect(await purger.remove(old)).toBe(0);
    expect((await kv.get("race"))?.string()).toBe('{"rejoined":true}');
    expect(server.permissionViolations()).toEqual([]);
  } finally {
    await nc.close();
  }
});
