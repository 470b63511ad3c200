/**
 * A few DOM helpers. Every id, data value and event field reaches the page as text
 * (`textContent`, attributes), never as HTML.
 */
export type Child = Node | string | number | null | undefined | false;

export interface Props {
  readonly class?: string;
  /** `data-*` attributes. */
  readonly data?: Readonly<Record<string, string | number>>;
  /** Other attributes (`href`, `title`, `aria-*`, …). */
  readonly attrs?: Readonly<Record<string, string>>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class !== undefined) el.className = props.class;
  for (const [k, v] of Object.entries(props.data ?? {})) el.dataset[k] = String(v);
  for (const [k, v] of Object.entries(props.attrs ?? {})) el.setAttribute(k, v);
  append(el, children);
  return el;
}

export function append(el: Element, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** Sets the text only when it changed (no needless layout, focus and selection kept). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** A link that opens the user or channel view. */
export function idLink(kind: "user" | "channel", id: string): HTMLAnchorElement {
  return h("a", { attrs: { href: `#${kind}=${encodeURIComponent(id)}` }, data: { [kind]: id } }, id);
}

export function badge(text: string, kind: string = text): HTMLSpanElement {
  return h("span", { class: `badge ${kind}` }, text);
}

/**
 * Keeps a table body's rows in step with `items` by key: rows of keys still present are
 * updated in place (a focused link in them stays focused), others are added or removed.
 */
export function syncRows<T>(
  tbody: HTMLTableSectionElement,
  items: readonly T[],
  key: (item: T) => string,
  create: (item: T) => HTMLTableRowElement,
  update: (row: HTMLTableRowElement, item: T) => void,
): void {
  const existing = new Map<string, HTMLTableRowElement>();
  for (const row of Array.from(tbody.rows)) existing.set(row.dataset.key ?? "", row);
  let at = 0;
  for (const item of items) {
    const k = key(item);
    let row = existing.get(k);
    existing.delete(k);
    if (row === undefined) {
      row = create(item);
      row.dataset.key = k;
    }
    update(row, item);
    if (tbody.rows[at] !== row) tbody.insertBefore(row, tbody.rows[at] ?? null);
    at++;
  }
  for (const row of existing.values()) row.remove();
}

/** A definition list of facts (term, value). */
export function facts(rows: readonly [string, Child | Child[]][]): HTMLDListElement {
  const dl = h("dl", { class: "facts" });
  for (const [term, value] of rows) {
    const dd = h("dd");
    for (const c of Array.isArray(value) ? value : [value])
      if (c !== null && c !== undefined && c !== false) dd.append(typeof c === "number" ? String(c) : c);
    dl.append(h("dt", {}, term), dd);
  }
  return dl;
}
