export { createLogger, type Logger, type LoggerOptions } from "./logger.js";
export { connectNats } from "./nats.js";
export { type Publication, PublishError, StreamPublisher } from "./publisher.js";
export {
  type BucketSpec,
  ensureResources,
  partitionsOf,
  ResourceConflictError,
  type ResourceSpec,
  resourceSpecs,
  resourcesFor,
  type StreamSpec,
} from "./resources.js";
export {
  type App,
  EXIT_CONFIG,
  runWorker,
  STOP_TIMEOUT_MS,
  type StartApp,
  type StartedWorker,
  startWorker,
  type WorkerContext,
} from "./worker.js";
