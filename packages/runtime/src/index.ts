export { DEAD_LETTER_MAX_BYTES, type DeadLetterSource, deadLetter } from "./dead-letter.js";
export { PublishError, ResourceConflictError } from "./errors.js";
export { HEADER_VALUE_MAX_CHARS, headerValue } from "./headers.js";
export { Health, type HealthReason } from "./health.js";
export {
  errorBody,
  type FastifyInstance,
  HTTP_BODY_LIMIT_BYTES,
  type HttpServer,
  type HttpServerOptions,
  startHttpServer,
} from "./http-server.js";
export { isConsumerNotFound, isWrongLastSequence } from "./jetstream-errors.js";
export { latch } from "./latch.js";
export { createLogger, type Logger, type LoggerOptions } from "./logger.js";
export { counterOf, createRegistry, gaugeOf, METRIC_PREFIX, type Registry } from "./metrics.js";
export { connectNats, inboxPrefixFor } from "./nats.js";
export { type Publication, StreamPublisher } from "./publisher.js";
export {
  type BucketSpec,
  ensureResources,
  partitionsOf,
  type ResourceSpec,
  resourceSpecs,
  resourcesFor,
  type StreamSpec,
} from "./resources.js";
export { backoffMs, type RetryOptions, retry } from "./retry.js";
export { Watchdog, type WatchdogOptions, type WatchdogProbe } from "./watchdog.js";
export {
  type App,
  EXIT_CONFIG,
  EXIT_FATAL,
  type HttpRoutes,
  listenAddressOf,
  type RunOptions,
  runWorker,
  STOP_TIMEOUT_MS,
  type StartApp,
  type StartedWorker,
  startWorker,
  type WorkerContext,
} from "./worker.js";
