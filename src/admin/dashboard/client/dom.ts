/** Building nodes and formatting figures. Text goes in with textContent only: names come from user config. */

type Attrs = Readonly<Record<string, string>> & { readonly text?: string };

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: ReadonlyArray<Node | null>): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Readonly<Record<string, string>>): SVGElementTagNameMap[K] {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** The element the page's HTML shell (page.ts) always has. */
function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node;
}

function bytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = value;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? String(Math.round(n)) : n.toFixed(1)} ${units[i] ?? ''}`;
}

function time(iso: string): string {
  return iso ? new Date(iso).toLocaleTimeString() : 'never';
}

function sum(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A fold that the user opened or closed stays that way across re-renders; until then `unfold` decides. */
function foldable(key: string, summary: HTMLElement, body: HTMLElement, unfold: boolean): HTMLDetailsElement {
  const details = el('details', null, summary, body);
  const open = state.open[key];
  if (open === undefined ? unfold : open) details.setAttribute('open', '');
  details.addEventListener('toggle', () => {
    state.open[key] = details.open;
  });
  return details;
}

function headerRow(...labels: string[]): HTMLTableSectionElement {
  return el('thead', null, el('tr', null, ...labels.map((text) => el('th', { text }))));
}
