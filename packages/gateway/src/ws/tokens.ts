/**
 * Client tokens (CONTRACT.md §8): JWTs whose `sub` is the user, with `exp` required and the
 * optional claims `channels` and `watch`. Verified with jose against the keys of the
 * configuration, each with its own algorithm allow-list (HS256 for the HMAC secret; RS256 or
 * ES256 by the public key's type), `nbf`/`iat` honoured with a small clock skew, `iss`/`aud`
 * required when configured. With CLIENT_INSECURE (development only) nothing is verified: a
 * token is only decoded, or the client names its user.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { type ClientTokenConfig, ConfigError, echo, isValidId, limits } from "@herald/protocol";
import { decodeJwt, errors, type JWTPayload, jwtVerify } from "jose";

/** Seconds of clock difference tolerated on `exp`, `nbf` and `iat`. */
export const CLOCK_SKEW_S = 5;

/** What a verified token grants. */
export interface Grant {
  readonly user: string;
  /** Unix seconds. */
  readonly exp: number;
  /** The only channels the user may join or subscribe to; undefined: any. */
  readonly channels?: ReadonlySet<string>;
  /** The only users whose status the user may watch or ask for; undefined: any. */
  readonly watch?: ReadonlySet<string>;
}

/** A token that grants nothing (the socket is closed with 4401). */
export class TokenError extends Error {
  override readonly name = "TokenError";
  readonly code = "HERALD_TOKEN";
}

/** No way to verify tokens is configured (nor CLIENT_INSECURE): WebSocket connections are refused. */
export const NO_VERIFIER =
  "WebSocket connections are refused: set CLIENT_TOKEN_HMAC_SECRET or CLIENT_TOKEN_PUBLIC_KEY";

/** Why `id` is not a valid user (1..128 bytes) or channel (1..256) id, or undefined. */
function checkId(id: string, kind: "user" | "channel"): string | undefined {
  const max = kind === "user" ? limits.idMaxBytes : limits.channelMaxBytes;
  return isValidId(id, max)
    ? undefined
    : `not a valid ${kind} id (1 to ${max} bytes of UTF-8, no control characters)`;
}

function idList(
  payload: JWTPayload,
  claim: "channels" | "watch",
  kind: "channel" | "user",
): Set<string> | undefined {
  const value = payload[claim];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 10_000)
    throw new TokenError(`claim ${claim} must be an array of ${kind} ids`);
  for (const id of value) {
    const problem = typeof id === "string" ? checkId(id, kind) : "not a string";
    if (problem !== undefined) throw new TokenError(`claim ${claim}: ${problem}`);
  }
  return new Set(value as string[]);
}

function grantOf(payload: JWTPayload): Grant {
  const user = payload.sub;
  const problem = typeof user === "string" ? checkId(user, "user") : "missing";
  if (problem !== undefined) throw new TokenError(`claim sub (the user): ${problem}`);
  if (typeof payload.exp !== "number") throw new TokenError("claim exp is required");
  const channels = idList(payload, "channels", "channel");
  const watch = idList(payload, "watch", "user");
  return {
    user: user as string,
    exp: payload.exp,
    ...(channels !== undefined ? { channels } : {}),
    ...(watch !== undefined ? { watch } : {}),
  };
}

export class TokenVerifier {
  readonly #cfg: ClientTokenConfig;
  readonly #secret: Uint8Array | undefined;
  readonly #publicKey: { key: KeyObject; alg: "RS256" | "ES256" } | undefined;

  private constructor(cfg: ClientTokenConfig) {
    this.#cfg = cfg;
    this.#secret = cfg.hmacSecret === undefined ? undefined : new TextEncoder().encode(cfg.hmacSecret);
    this.#publicKey = cfg.publicKey === undefined ? undefined : publicKeyOf(cfg.publicKey);
  }

  /** Throws ConfigError for a public key that is neither RSA nor EC P-256. */
  static create(cfg: ClientTokenConfig): TokenVerifier {
    return new TokenVerifier(cfg);
  }

  /** Whether any token can be accepted (a key is configured, or CLIENT_INSECURE). */
  get enabled(): boolean {
    return this.#cfg.insecure || this.#secret !== undefined || this.#publicKey !== undefined;
  }

  get insecure(): boolean {
    return this.#cfg.insecure;
  }

  /** The grant of `token`; throws TokenError saying why not. */
  async verify(token: unknown, nowS = Math.floor(Date.now() / 1000)): Promise<Grant> {
    if (typeof token !== "string" || token === "") throw new TokenError("token must be a non-empty string");
    if (token.length > limits.requestMaxBytes) throw new TokenError("token is too large");
    if (this.#cfg.insecure) {
      let payload: JWTPayload;
      try {
        payload = decodeJwt(token);
      } catch (err) {
        throw new TokenError(`token is not a JWT: ${echo((err as Error).message)}`);
      }
      const grant = grantOf(payload);
      if (grant.exp + CLOCK_SKEW_S < nowS) throw new TokenError("token has expired");
      return grant;
    }
    if (!this.enabled) throw new TokenError(NO_VERIFIER);
    const algorithms: string[] = [];
    if (this.#secret !== undefined) algorithms.push("HS256");
    if (this.#publicKey !== undefined) algorithms.push(this.#publicKey.alg);
    try {
      const { payload } = await jwtVerify(
        token,
        (header) => {
          if (header.alg === "HS256" && this.#secret !== undefined) return this.#secret;
          if (header.alg === this.#publicKey?.alg) return this.#publicKey.key;
          throw new TokenError(
            `algorithm ${echo(String(header.alg))} is not accepted (accepted: ${algorithms.join(", ")})`,
          );
        },
        {
          algorithms,
          requiredClaims: ["exp", "sub"],
          clockTolerance: CLOCK_SKEW_S,
          currentDate: new Date(nowS * 1000),
          ...(this.#cfg.issuer !== undefined ? { issuer: this.#cfg.issuer } : {}),
          ...(this.#cfg.audience !== undefined ? { audience: this.#cfg.audience } : {}),
        },
      );
      return grantOf(payload);
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof errors.JWTExpired) throw new TokenError("token has expired");
      if (err instanceof errors.JOSEError) throw new TokenError(`token refused: ${echo(err.message)}`);
      throw new TokenError("token refused");
    }
  }
}

function publicKeyOf(pem: string): { key: KeyObject; alg: "RS256" | "ES256" } {
  const bad = (message: string) => new ConfigError([{ variable: "CLIENT_TOKEN_PUBLIC_KEY", message }]);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw bad("is not a public key Node can read (PEM, SPKI)");
  }
  if (key.asymmetricKeyType === "rsa") return { key, alg: "RS256" };
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1")
    return { key, alg: "ES256" };
  throw bad(`is a ${key.asymmetricKeyType ?? "unknown"} key; RS256 needs an RSA key, ES256 an EC P-256 key`);
}
