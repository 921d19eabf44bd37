/** A config with every kind of Service DNS knows, for the zone, answer and server tests. */
export const DNS_CONFIG = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports:
    - {name: http, port: 80}
    - {name: dns, port: 53, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  ports: [{name: grpc, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: mysql, port: 3306, targetPort: mysql}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, labels: {app: db}}
spec:
  hostname: db-0
  subdomain: db
  containers: [{name: db, ports: [{name: mysql, containerPort: 3306}]}]
status: {podIP: 127.0.50.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, labels: {app: db}}
spec:
  containers: [{name: db, ports: [{name: mysql, containerPort: 3307}]}]
status: {podIP: 127.0.50.2}
---
apiVersion: v1
kind: Pod
metadata: {name: db-2, labels: {app: db}}
spec:
  hostname: db-2
  subdomain: db
  containers:
    - name: db
      ports: [{name: mysql, containerPort: 3306}]
      readinessProbe: {tcpSocket: {port: 3306}}
status: {podIP: 127.0.50.3}
---
apiVersion: v1
kind: Service
metadata: {name: legacy}
spec:
  clusterIP: None
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: legacy}
subsets:
  - addresses: [{ip: 127.0.60.1, hostname: one}, {ip: 127.0.60.2}]
    ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec:
  clusterIP: None
  selector: {app: nothing}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: search}
spec:
  type: ExternalName
  externalName: example.com.
---
apiVersion: v1
kind: Service
metadata: {name: dual}
spec:
  clusterIP: 127.0.0.70
  clusterIPs: [127.0.0.70, "::1"]
  ipFamilyPolicy: RequireDualStack
  ports: [{port: 90}]
---
apiVersion: v1
kind: Service
metadata: {name: copied}
spec:
  clusterIP: 10.96.0.10
  ports: [{port: 91}]
`;
