/** The header: the feed's status, readiness, the config served, a failed reload's errors, the workers. */

function setStatus(text: string, cls: Condition['cls']): void {
  const s = byId('conn-status');
  s.textContent = text;
  s.className = `pill ${cls}`;
}

function workerPill(w: WorkerInfo): HTMLElement {
  const cls = w.ready ? 'ok' : w.state === 'running' ? 'bad' : 'warn';
  const text =
    `worker ${w.worker} \u00b7 pid ${w.pid} \u00b7 ${w.ready ? 'ready' : w.reason} \u00b7 ${bytes(w.residentBytes)}` +
    (w.restarts > 0 ? ` \u00b7 restarted ${w.restarts}\u00d7` : '') +
    (w.stale ? ' \u00b7 not answering' : '');
  return el('span', { class: `pill ${cls}`, 'data-worker': String(w.worker), text });
}

function renderHeader(c: ConfigInfo): void {
  const ready = byId('ready');
  ready.textContent = c.ready ? 'ready' : `not ready: ${c.reason}`;
  ready.className = `pill ${c.ready ? 'ok' : 'bad'}`;
  byId('config-meta').textContent =
    `${c.config} \u00b7 ${c.hash ? c.hash.slice(0, 12) : 'no config'} \u00b7 loaded ${time(c.loadedAt)}` +
    ` \u00b7 reloads ${c.reloads.success} ok, ${c.reloads.failure} failed`;
  const box = byId('reload-errors');
  if (c.lastReload.result === 'failure') {
    box.style.display = 'block';
    box.replaceChildren(
      el('h2', { text: `Last reload failed at ${time(c.lastReload.at)}; still serving the config loaded at ${time(c.loadedAt)}` }),
      el('pre', { text: c.lastReload.errors.join('\n') }),
    );
  } else {
    box.style.display = 'none';
    box.replaceChildren();
  }
  byId('workers').replaceChildren(...(state.workers ?? []).map(workerPill));
}
