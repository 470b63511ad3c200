/**
 * The page's files, read once from the @herald/dashboard package (its static shell and styles,
 * its compiled browser modules) and uPlot's own script and styles, so the page needs nothing
 * from the internet. Each is served with an ETag; a browser revalidates (`no-cache`).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
}

export interface Assets {
  /** The page's HTML shell; undefined when @herald/dashboard is not built. */
  readonly page: Asset | undefined;
  /** By file name, as under `/dashboard/assets/`. */
  readonly files: ReadonlyMap<string, Asset>;
}

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
};

function asset(path: string): Asset {
  const body = readFileSync(path);
  return {
    type: TYPES[extname(path)] ?? "application/octet-stream",
    body,
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
  };
}

/** Reads the files; a missing build leaves them out (the page then says to build). */
export function loadAssets(): Assets {
  const files = new Map<string, Asset>();
  let page: Asset | undefined;
  try {
    const manifest = createRequire(import.meta.url).resolve("@herald/dashboard/package.json");
    const root = dirname(manifest);
    const dist = join(root, "dist");
    for (const name of readdirSync(dist)) {
      if (/^[\w-]+\.js(\.map)?$/.test(name)) files.set(name, asset(join(dist, name)));
    }
    for (const name of readdirSync(join(root, "static"))) {
      if (name === "index.html") page = asset(join(root, "static", name));
      else if (/^[\w-]+\.(css|svg)$/.test(name)) files.set(name, asset(join(root, "static", name)));
    }
    const uplot = createRequire(manifest);
    files.set("uPlot.iife.min.js", asset(uplot.resolve("uplot/dist/uPlot.iife.min.js")));
    files.set("uPlot.min.css", asset(uplot.resolve("uplot/dist/uPlot.min.css")));
  } catch {
    return { page: undefined, files };
  }
  return { page, files };
}
