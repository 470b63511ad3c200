/**
 * @herald/client: the client SDK of Herald's WebSocket edge (CONTRACT.md §8), for browsers and
 * Node. `createClient()` gives a client that stays connected, refreshes its token, and keeps the
 * application's channel members and watched statuses current across reconnects.
 */
export { type BackoffOptions, backoffDelay } from "./backoff.js";
export { Channel, type ChannelEvents } from "./channel.js";
export {
  type ClientEvents,
  type ClientOptions,
  createClient,
  HeraldClient,
  type ReconnectOptions,
  type SetStatusOptions,
} from "./client.js";
export { Emitter, type Listener } from "./emitter.js";
export { ClientErrorCode, HeraldClientError } from "./errors.js";
export { memberKey } from "./members.js";
export type { WebSocketConstructor, WebSocketLike } from "./socket.js";
export { tokenExpiryMs } from "./token.js";
export type * from "./types.js";
