export { type ApiReply, type CallOptions, callUntilAnswered } from "./api.js";
export {
  NATS_USERS,
  type NatsUser,
  natsAuthConf,
  passwordVariable,
  randomPassword,
  usersOf,
} from "./auth.js";
export { NatsServerMissingError, StopWaiting, WaitTimeoutError } from "./errors.js";
export {
  freePort,
  NatsCluster,
  NatsServer,
  type NatsServerOptions,
  natsServerBinary,
} from "./nats-server.js";
export { seededRandom } from "./random.js";
export { failTest, type WaitOptions, waitFor } from "./wait.js";
export {
  type Exit,
  repoRoot,
  type WorkerName,
  WorkerProcess,
  workerEntry,
  workerNodeFlags,
} from "./worker-process.js";
