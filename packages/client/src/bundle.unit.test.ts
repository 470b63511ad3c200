import { runInNewContext } from "node:vm";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { bundles } from "../scripts/bundle.mjs";
import { flush } from "../test-support/fake-server.js";

/** Builds one of the package's bundles in memory (same options as `pnpm build`). */
async function bundled(format: "iife" | "esm") {
  const options = bundles.find((b) => b.format === format);
  if (options === undefined) throw new Error(`no ${format} bundle`);
  const out = await build({ ...options, write: false, sourcemap: false, metafile: true });
  const file = out.outputFiles.find((f) => f.path.endsWith(".js") || f.path.endsWith(".mjs"));
  if (file === undefined) throw new Error("no output");
  // Modules that put code into the bundle (esbuild also lists those it read and shook out).
  const inputs = Object.values(out.metafile.outputs)
    .flatMap((o) => Object.entries(o.inputs))
    .filter(([, i]) => i.bytesInOutput > 0)
    .map(([path]) => path);
  return { code: file.text, inputs };
}

describe("browser bundle", () => {
  it("is one file of the client and the contract's limits only (no schema library, no Node built-ins)", async () => {
    const { code, inputs } = await bundled("iife");
    expect(inputs.filter((i) => !i.startsWith("src/"))).toEqual(["../contract/dist/limits.js"]);
    expect(code).not.toMatch(/\brequire\(|from\s*"node:|process\.env/);
    expect(code.length).toBeLessThan(40_000);
  });

  it("defines the HeraldClient global, which connects through the page's WebSocket", async () => {
    const { code } = await bundled("iife");
    const sent: { method: string; params: unknown }[] = [];
    class PageWebSocket {
      readyState = 0;
      onopen: ((ev: object) => void) | null = null;
      constructor(readonly url: string) {
        queueMicrotask(() => {
          this.readyState = 1;
          this.onopen?.({});
        });
      }
      send(data: string) {
        sent.push(JSON.parse(data));
      }
      close() {}
    }
    // Only what a page offers that the client uses: no Buffer, process or require.
    const page: Record<string, unknown> = {
      WebSocket: PageWebSocket,
      setTimeout,
      clearTimeout,
      queueMicrotask,
      TextEncoder,
      TextDecoder,
      atob,
    };
    runInNewContext(code, page);
    const api = page.HeraldClient as typeof import("./index.js");
    expect(Object.keys(api)).toEqual(
      expect.arrayContaining([
        "createClient",
        "HeraldClient",
        "HeraldClientError",
        "ClientErrorCode",
        "memberKey",
      ]),
    );
    const client = api.createClient({
      url: "wss://herald.example/connection/websocket",
      getToken: async () => "jwt",
    });
    client.connect();
    await flush();
    expect(sent).toEqual([{ id: 1, method: "connect", params: { token: "jwt" } }]);
    client.close();
  });

  it("also comes as an ES module", async () => {
    const { code } = await bundled("esm");
    expect(code).toMatch(/export\s*\{[^}]*\bcreateClient\b/);
  });
});
