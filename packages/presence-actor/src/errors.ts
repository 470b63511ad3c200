/** presence-actor's own errors; each has a stable `code`. */
import { HeraldInternalError } from "@herald/protocol";

/** This process no longer owns a partition: another claimed it, or our lease ran out. */
export class FencedError extends HeraldInternalError {
  override readonly name = "FencedError";
  readonly code = "HERALD_ACTOR_FENCED";
  constructor(
    readonly partition: number,
    reason: string,
  ) {
    super(`partition ${partition}: ${reason}`);
  }
}
