/** presence-actor's own errors. */

/** This process no longer owns a partition: another claimed it, or our lease ran out. */
export class FencedError extends Error {
  override readonly name = "FencedError";
  constructor(
    readonly partition: number,
    reason: string,
  ) {
    super(`partition ${partition}: ${reason}`);
  }
}
