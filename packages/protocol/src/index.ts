export * from "./api.js";
export * from "./codec.js";
export * from "./config.js";
export * from "./errors.js";
export * from "./limits.js";
export * from "./names.js";
export * from "./partition.js";
export type {
  ChannelEvent,
  Command,
  CommandBatch,
  CommandType,
  Fact,
  HeartbeatItem,
  LeaveReason,
  ManualStatus,
  Member,
  MemberDoc,
  MemberFact,
  PresenceEvent,
  Status,
  StatusDoc,
  StatusEvent,
  UserFact,
  UserStatus,
} from "./schemas.js";
export * as schemas from "./schemas.js";
export * from "./tokens.js";
export { compile, type Validator } from "./validate.js";
