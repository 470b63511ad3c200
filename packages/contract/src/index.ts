/**
 * @herald/contract: Herald's public contract in code (CONTRACT.md), for clients, SDKs and
 * Herald's own edges. Id rules and limits, the token encoding, method names and public
 * subjects, the schemas of params, results, live events and the `presence_status` value with
 * their validators, request parsing, and the API's error codes. Pure: no Node built-ins, no
 * internal formats, so it bundles for browsers.
 */
export * from "./api.js";
export * from "./errors.js";
export * from "./json.js";
export * from "./limits.js";
export * from "./methods.js";
export type {
  ChannelEvent,
  HeartbeatItem,
  LeaveReason,
  ManualStatus,
  Member,
  PresenceEvent,
  Status,
  StatusDoc,
  StatusEvent,
  UserStatus,
} from "./schemas.js";
export * as schemas from "./schemas.js";
export * from "./tokens.js";
export { compile, type Validator } from "./validate.js";
