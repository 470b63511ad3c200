/** The runtime package's errors; each has a stable `code`. */
import { HeraldInternalError } from "@herald/protocol";

/** A publish the server refused, or that got no acknowledgement in time. */
export class PublishError extends HeraldInternalError {
  override readonly name = "PublishError";
  readonly code = "HERALD_PUBLISH_FAILED";
}

/** A stream, bucket or consumer exists with a configuration Herald cannot work with. */
export class ResourceConflictError extends HeraldInternalError {
  override readonly name = "ResourceConflictError";
  readonly code = "HERALD_RESOURCE_CONFLICT";
}
