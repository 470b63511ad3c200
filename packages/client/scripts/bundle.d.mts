import type { BuildOptions } from "esbuild";

/** The esbuild options of each browser bundle (IIFE, then ESM). */
export declare const bundles: readonly (BuildOptions & { outfile: string })[];
