export { type ApiReply, type CallOptions, callUntilAnswered } from "./api.js";
export {
  freePort,
  NatsCluster,
  NatsServer,
  NatsServerMissingError,
  type NatsServerOptions,
  natsServerBinary,
} from "./nats-server.js";
export { StopWaiting, type WaitOptions, WaitTimeoutError, waitFor } from "./wait.js";
export {
  type Exit,
  repoRoot,
  type WorkerName,
  WorkerProcess,
  workerEntry,
  workerNodeFlags,
} from "./worker-process.js";
