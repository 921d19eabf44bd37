import { parseAllDocuments } from 'yaml';
const svc = (i) => `apiVersion: v1
kind: Service
metadata:
  name: svc-${i}
  labels: {app: web-${i}, tier: backend}
  annotations:
    description: "a fairly long annotation value to make documents realistic ${i}"
spec:
  selector:
    app: web-${i}
  ports:
    - name: http
      port: 80
      targetPort: 8080
    - name: https
      port: 443
      targetPort: 8443
---
`;
let text = ''; let i = 0; while (text.length < 16*1024*1024) text += svc(i++);
console.log('docs', i, 'bytes', text.length);
const t0 = performance.now(); const before = process.memoryUsage().heapUsed;
const docs = parseAllDocuments(text, { version: '1.1' });
const t1 = performance.now();
const js = docs.map(d => d.toJS({ maxAliasCount: 100 }));
const t2 = performance.now();
console.log('parse ms', Math.round(t1-t0), 'toJS ms', Math.round(t2-t1), 'heap MB', Math.round((process.memoryUsage().heapUsed-before)/1e6), 'rss', Math.round(process.memoryUsage().rss/1e6));
