export { start } from "./app.js";
export {
  type BucketDiff,
  compareProjections,
  DEFAULT_SUFFIX,
  differences,
  type InvalidFact,
  PROJECTIONS,
  type RebuildOptions,
  type RebuildProgress,
  type RebuildResult,
  rebuildProjections,
  rebuiltName,
} from "./rebuild.js";
