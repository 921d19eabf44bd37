/** The Services: a card per Service with few ports; one line per port in a single list with many. */

/** Up to this many Service ports, endpoint tables are unfolded; beyond, each folds behind a summary line. */
const UNFOLD_UP_TO = 6;

function serviceMeta(info: ServiceInfo | undefined): HTMLElement | null {
  if (!info) return null;
  const parts: string[] = [];
  if (info.addresses.length > 0) parts.push(info.addresses.join(', '));
  else if (info.headless) parts.push('headless');
  if (info.externalName) parts.push(`CNAME ${info.externalName}`);
  if (info.names[0] !== undefined) parts.push(info.names[0]);
  if (info.mappedFrom.length > 0) parts.push(`manifest clusterIP ${info.mappedFrom.join(', ')} mapped`);
  // Where a Service comes from when it is not the config files: `cluster:<context>`.
  if (info.source?.startsWith('cluster:') === true) parts.push(`from ${info.source.replace(/\[0\]$/, '')}`);
  return el('span', { class: 'meta', 'data-field': 'addresses', text: `  ${parts.join(' \u00b7 ')}` });
}

/** Service name -> its ports, in the order of the ports; Services without a proxied port (ExternalName, headless) too, for their names. */
function portsByService(): Map<string, PortInfo[]> {
  const byService = new Map<string, PortInfo[]>();
  for (const p of state.services) {
    const name = `${p.namespace}/${p.service}`;
    byService.set(name, [...(byService.get(name) ?? []), p]);
  }
  for (const name of Object.keys(state.serviceInfo).sort()) if (!byService.has(name)) byService.set(name, []);
  return byService;
}

/** Many ports: one line per port in one list, endpoint tables folded behind their summary, so 30 ports fit in about two screens. */
function compactList(byService: ReadonlyMap<string, readonly PortInfo[]>): HTMLElement {
  const list = el('section', { class: 'service compact' });
  for (const [name, ports] of byService) {
    const info = state.serviceInfo[name];
    if (ports.length === 0)
      list.appendChild(el('div', { class: 'port', 'data-service': name }, el('span', { class: 'port-name', text: name }), serviceMeta(info)));
    for (const p of ports) {
      const row = renderPort(p, false, true);
      row.setAttribute('data-service', name);
      const meta = serviceMeta(info);
      if (meta) row.firstChild?.firstChild?.appendChild(meta);
      list.appendChild(row);
    }
  }
  return list;
}

/** Few ports: a card per Service, endpoint tables unfolded. */
function serviceCards(byService: ReadonlyMap<string, readonly PortInfo[]>): HTMLElement[] {
  return [...byService].map(([name, ports]) =>
    el(
      'section',
      { class: 'service', 'data-service': name },
      el('h2', { text: name }, serviceMeta(state.serviceInfo[name])),
      ...ports.map((p) => renderPort(p, true, false)),
    ),
  );
}

function renderServices(): void {
  state.live = {};
  const byService = portsByService();
  let cards = state.services.length > UNFOLD_UP_TO ? [compactList(byService)] : serviceCards(byService);
  if (cards.length === 0) cards = [el('div', { class: 'empty', text: 'No Service ports are configured.' })];
  byId('services').replaceChildren(...cards);
}
