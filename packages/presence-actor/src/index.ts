export { start } from "./app.js";
export { presenceMachine } from "./machine.js";
