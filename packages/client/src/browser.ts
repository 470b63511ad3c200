/**
 * The client's only contact with the page, when there is one (`document` and `window` exist):
 * user activity (pointer, keyboard, the tab becoming visible) and the page going away
 * (`pagehide`) or coming back from the back/forward cache (`pageshow` with `persisted`).
 */

export interface PageHooks {
  /** The user did something (called on every such DOM event; the caller throttles). */
  activity?: () => void;
  /** The page is being hidden or unloaded. */
  pageHide?: () => void;
  /** The page was shown again from the back/forward cache. */
  pageShow?: () => void;
}

/** Events that mean a person is there. */
export const ACTIVITY_EVENTS = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"] as const;

/** True when running in a page (a browser window, or a test that provides both globals). */
export function hasPage(): boolean {
  return (
    typeof document !== "undefined" &&
    typeof window !== "undefined" &&
    typeof document.addEventListener === "function" &&
    typeof window.addEventListener === "function"
  );
}

/** Adds the page listeners of `hooks`; returns the function that removes them. */
export function attachPage(hooks: PageHooks): () => void {
  const undo: (() => void)[] = [];
  const listen = (target: EventTarget, type: string, fn: (ev: Event) => void) => {
    const opts = { capture: true, passive: true };
    target.addEventListener(type, fn, opts);
    undo.push(() => target.removeEventListener(type, fn, opts));
  };
  const { activity, pageHide, pageShow } = hooks;
  if (activity !== undefined) {
    for (const type of ACTIVITY_EVENTS) listen(document, type, () => activity());
    listen(document, "visibilitychange", () => {
      if (document.visibilityState === "visible") activity();
    });
  }
  if (pageHide !== undefined) listen(window, "pagehide", () => pageHide());
  if (pageShow !== undefined) {
    listen(window, "pageshow", (ev) => {
      if ((ev as PageTransitionEvent).persisted === true) pageShow();
    });
  }
  return () => {
    for (const fn of undo) fn();
  };
}
