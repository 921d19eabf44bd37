/** With --cluster: the header's line (context, server, namespaces) and a banner while the API server is out of reach. */

function clusterLine(c: ClusterInfo): string {
  return `cluster ${c.context} \u00b7 ${c.server} \u00b7 namespaces ${c.namespaces.join(', ')}`;
}

function outageText(c: ClusterInfo): string {
  return `cluster ${c.context}: API server out of reach since ${time(c.unreachableSince)}; serving the last state seen`;
}

function renderCluster(c: ClusterInfo | null): void {
  byId('cluster').textContent = c === null ? '' : clusterLine(c);
  const banner = byId('cluster-outage');
  const out = c !== null && !c.reachable;
  banner.textContent = out ? outageText(c) : '';
  banner.style.display = out ? 'block' : 'none';
  if (out) banner.title = c.unreachableSince;
}
