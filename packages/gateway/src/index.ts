export { type GatewayApp, type GatewayOptions, start } from "./app.js";
