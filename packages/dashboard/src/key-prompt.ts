/**
 * Access: asks the gateway whether it needs a key and whether the one this tab holds is right;
 * if not, asks the operator for it once (kept in sessionStorage by api.ts) and checks it before
 * any data is asked for. Resolves once the page may read data.
 */
import { apiKey, session } from "./api.js";
import { byId, setText } from "./dom.js";

export async function ensureAccess(): Promise<void> {
  if ((await session()).authorized) return;
  const hadKey = apiKey.get() !== null;
  apiKey.clear();
  const panel = byId("key-panel");
  const form = byId<HTMLFormElement>("key-form");
  const input = byId<HTMLInputElement>("key-input");
  const error = byId("key-error");
  byId("board").hidden = true;
  panel.hidden = false;
  setText(error, hadKey ? "The key this tab had is no longer right; enter the current one." : "");
  setText(byId("conn"), "Waiting for the API key");
  input.focus();
  await new Promise<void>((resolve) => {
    const submit = async (ev: SubmitEvent) => {
      ev.preventDefault();
      apiKey.set(input.value);
      if ((await session()).authorized) {
        form.removeEventListener("submit", submit);
        input.value = "";
        setText(error, "");
        panel.hidden = true;
        // Onward from the page's start, not from the form that is gone.
        byId("main").focus();
        resolve();
        return;
      }
      apiKey.clear();
      setText(error, "That is not this gateway's key (HTTP_API_KEY).");
      input.select();
    };
    form.addEventListener("submit", submit);
  });
}
