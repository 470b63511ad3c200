// Builds the single-file browser bundles of @herald/client with esbuild:
//   dist/herald-client.min.js   IIFE, defines the global `HeraldClient` (for a <script> tag)
//   dist/herald-client.min.mjs  ES module (for <script type="module"> / import without a bundler)
// Run by the package's `build` script after `tsc -b` (the bundle reads @herald/contract's dist).
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const common = {
  absWorkingDir: root,
  entryPoints: [join(root, "src/index.ts")],
  bundle: true,
  minify: true,
  sourcemap: true,
  platform: "browser",
  target: "es2022",
  legalComments: "none",
  logLevel: "warning",
};

/** The esbuild options of each bundle (the bundle test builds them in memory). */
export const bundles = [
  { ...common, format: "iife", globalName: "HeraldClient", outfile: join(root, "dist/herald-client.min.js") },
  { ...common, format: "esm", outfile: join(root, "dist/herald-client.min.mjs") },
];

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const options of bundles) {
    await build(options);
    const bytes = readFileSync(options.outfile);
    const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
    console.log(
      `${relative(root, options.outfile)}: ${kib(bytes.length)} (${kib(gzipSync(bytes).length)} gzip)`,
    );
  }
}
