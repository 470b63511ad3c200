/**
 * @herald/protocol: what Herald's components share internally, on top of the public contract
 * (@herald/contract, re-exported here for their convenience): internal subjects, streams and
 * buckets, the internal schemas and msgpack codecs of commands and facts, the partition hash
 * and the configuration. Clients use @herald/contract, never this.
 */
export * from "@herald/contract";
export * from "./codec.js";
export * from "./config.js";
export * from "./errors.js";
export * from "./names.js";
export * from "./partition.js";
export type {
  Command,
  CommandBatch,
  CommandType,
  Fact,
  MemberDoc,
  MemberFact,
  UserFact,
  Verdict,
} from "./schemas.js";
export * as internalSchemas from "./schemas.js";
