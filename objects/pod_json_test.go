package objects

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// realisticPod is a pod manifest using most supported fields, written as
// kubectl would show it.
const realisticPod = `
apiVersion: v1
kind: Pod
metadata:
  name: web-7c9f-abcde
  namespace: default
  labels: {app: web, pod-template-hash: 7c9f}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7c9f, uid: "1234", controller: true, blockOwnerDeletion: true}
spec:
  initContainers:
  - name: migrate
    image: example.com/web:1.2
    command: [/bin/migrate]
    args: [--up]
  containers:
  - name: app
    image: example.com/web:1.2
    imagePullPolicy: IfNotPresent
    workingDir: /srv
    ports:
    - {name: http, containerPort: 8080, protocol: TCP}
    - {name: metrics, containerPort: 9090, hostPort: 19090, hostIP: 127.0.0.1, protocol: TCP}
    env:
    - {name: MODE, value: prod}
    - name: POD_NAME
      valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.name}}
    - name: CPU_LIMIT
      valueFrom: {resourceFieldRef: {containerName: app, resource: limits.cpu, divisor: 1m}}
    - name: DB_HOST
      valueFrom: {configMapKeyRef: {name: web-config, key: db_host, optional: false}}
    - name: DB_PASSWORD
      valueFrom: {secretKeyRef: {name: web-secret, key: password}}
    envFrom:
    - configMapRef: {name: web-config}
      prefix: CFG_
    - secretRef: {name: web-secret, optional: true}
    resources:
      requests: {cpu: 250m, memory: 64Mi}
      limits: {cpu: "1", memory: 128Mi}
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: config, mountPath: /etc/web, readOnly: true, subPath: conf}
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
        scheme: HTTP
        httpHeaders: [{name: X-Probe, value: "1"}]
      initialDelaySeconds: 5
      timeoutSeconds: 2
      periodSeconds: 10
      successThreshold: 1
      failureThreshold: 3
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 5
    startupProbe:
      exec: {command: [cat, /tmp/ready]}
      failureThreshold: 30
      terminationGracePeriodSeconds: 10
    lifecycle:
      postStart: {exec: {command: [/bin/warm]}}
      preStop: {sleep: {seconds: 5}}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: FallbackToLogsOnError
    securityContext:
      runAsUser: 1000
      runAsNonRoot: true
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
      seccompProfile: {type: RuntimeDefault}
    stdin: false
    tty: false
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: web-data}
  - name: config
    configMap:
      name: web-config
      items: [{key: app.conf, path: conf/app.conf, mode: 0644}]
      defaultMode: 420
  - name: secret
    secret: {secretName: web-secret, defaultMode: 256, optional: true}
  - name: scratch
    emptyDir: {medium: Memory, sizeLimit: 64Mi}
  - name: host
    hostPath: {path: /var/log, type: Directory}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: mem, resourceFieldRef: {containerName: app, resource: requests.memory, divisor: 1Mi}}
  - name: all
    projected:
      sources:
      - configMap: {name: web-config}
      - secret: {name: web-secret, items: [{key: password, path: pw}]}
      - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
  restartPolicy: Always
  terminationGracePeriodSeconds: 60
  activeDeadlineSeconds: 3600
  dnsPolicy: None
  dnsConfig:
    nameservers: [10.96.0.10]
    searches: [default.svc.cluster.local, svc.cluster.local]
    options: [{name: ndots, value: "5"}, {name: edns0}]
  nodeSelector: {disktype: ssd}
  serviceAccountName: web
  nodeName: n1
  hostNetwork: false
  securityContext: {runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000]}
  imagePullSecrets: [{name: regcred}]
  hostname: web-0
  subdomain: web
  schedulerName: default-scheduler
  priorityClassName: high
  priority: 1000
  preemptionPolicy: PreemptLowerPriority
  enableServiceLinks: false
  readinessGates: [{conditionType: example.com/lb-ready}]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - {key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}
          - {key: cores, operator: Gt, values: ["2"]}
          matchFields:
          - {key: metadata.name, operator: NotIn, values: [n9]}
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 50
        preference:
          matchExpressions: [{key: zone, operator: In, values: [a]}]
    podAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 10
        podAffinityTerm:
          labelSelector: {matchLabels: {app: cache}}
          topologyKey: kubernetes.io/hostname
          namespaceSelector: {}
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchExpressions: [{key: app, operator: In, values: [web]}]
        namespaces: [default]
        topologyKey: kubernetes.io/hostname
  tolerations:
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
  - {key: dedicated, operator: Equal, value: web, effect: NoSchedule}
  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: DoNotSchedule
    labelSelector: {matchLabels: {app: web}}
    minDomains: 2
    nodeAffinityPolicy: Honor
    nodeTaintsPolicy: Ignore
    matchLabelKeys: [pod-template-hash]
status:
  phase: Running
  conditions:
  - {type: Ready, status: "True", lastProbeTime: null, lastTransitionTime: "2024-05-01T10:00:05Z"}
  - {type: PodScheduled, status: "True", lastProbeTime: null, lastTransitionTime: "2024-05-01T10:00:00Z"}
  hostIP: 10.0.0.5
  hostIPs: [{ip: 10.0.0.5}]
  podIP: 10.244.1.7
  podIPs: [{ip: 10.244.1.7}]
  startTime: "2024-05-01T10:00:00Z"
  initContainerStatuses:
  - name: migrate
    state: {terminated: {exitCode: 0, reason: Completed, startedAt: "2024-05-01T10:00:01Z", finishedAt: "2024-05-01T10:00:02Z", containerID: "fake://1"}}
    lastState: {}
    ready: true
    restartCount: 0
    image: example.com/web:1.2
    imageID: sha256:abc
    containerID: fake://1
    started: false
  containerStatuses:
  - name: app
    state: {running: {startedAt: "2024-05-01T10:00:03Z"}}
    lastState: {terminated: {exitCode: 137, signal: 9, reason: OOMKilled, message: killed, startedAt: "2024-05-01T09:00:00Z", finishedAt: "2024-05-01T09:59:00Z"}}
    ready: true
    restartCount: 1
    image: example.com/web:1.2
    imageID: sha256:abc
    containerID: fake://2
    started: true
  qosClass: Burstable
  nominatedNodeName: n1
  message: ok
  reason: Fine
`

func TestPodJSONRoundTrip(t *testing.T) {
	objs, err := NewScheme().Decode(strings.NewReader(realisticPod))
	require.NoError(t, err)
	require.Len(t, objs, 1)
	p, ok := objs[0].(*Pod)
	require.True(t, ok)

	// Spot checks that the fields landed where they belong.
	c := p.Spec.Containers[0]
	assert.Equal(t, FromString("http"), c.LivenessProbe.HTTPGet.Port)
	assert.Equal(t, FromInt32(8080), c.ReadinessProbe.TCPSocket.Port)
	assert.Equal(t, "1m", c.Env[2].ValueFrom.ResourceFieldRef.Divisor.String())
	assert.Equal(t, int32(420), *p.Spec.Volumes[1].ConfigMap.DefaultMode)
	assert.Equal(t, int32(137), p.Status.ContainerStatuses[0].LastTerminationState.Terminated.ExitCode)
	assert.Equal(t, "2024-05-01T10:00:03Z", p.Status.ContainerStatuses[0].State.Running.StartedAt.Format("2006-01-02T15:04:05Z07:00"))

	// Validation, as in Kubernetes, expects a defaulted object.
	p.Default()
	assert.Empty(t, p.Validate())
	objs, err = NewScheme().Decode(strings.NewReader(realisticPod))
	require.NoError(t, err)
	p = objs[0].(*Pod)

	// Encoding gives back the manifest: every field name is Kubernetes'.
	got, err := json.Marshal(p)
	require.NoError(t, err)
	wantJSON, err := yaml.YAMLToJSON([]byte(realisticPod))
	require.NoError(t, err)
	var gotMap, wantMap map[string]any
	require.NoError(t, json.Unmarshal(got, &gotMap))
	require.NoError(t, json.Unmarshal(wantJSON, &wantMap))
	// Values that the manifest writes in another form than the encoder.
	normaliseManifest(wantMap)
	assert.Equal(t, wantMap, gotMap)

	// And decoding the encoding gives the same pod.
	var again Pod
	require.NoError(t, json.Unmarshal(got, &again))
	assert.Equal(t, p, &again)

	// A deep copy is equal and shares nothing.
	cp := p.DeepCopy()
	assert.Equal(t, p, cp)
	cp.Spec.Containers[0].Env[0].Value = "changed"
	cp.Spec.Containers[0].Resources.Limits[ResourceCPU] = MustParseQuantity("9")
	cp.Spec.Tolerations[0].TolerationSeconds = ptrOf[int64](1)
	assert.Equal(t, "prod", p.Spec.Containers[0].Env[0].Value)
	assert.Equal(t, "1", ptrOf(p.Spec.Containers[0].Resources.Limits[ResourceCPU]).String())
	assert.Equal(t, int64(300), *p.Spec.Tolerations[0].TolerationSeconds)
}

// normaliseManifest rewrites the few values of realisticPod that a
// faithful encoder writes differently, as Kubernetes' does: false booleans
// with omitempty are dropped, a zero time is null, an empty struct is {}.
func normaliseManifest(m map[string]any) {
	m["metadata"].(map[string]any)["creationTimestamp"] = nil
	spec := m["spec"].(map[string]any)
	delete(spec, "hostNetwork")
	c := spec["containers"].([]any)[0].(map[string]any)
	delete(c, "stdin")
	delete(c, "tty")
	spec["initContainers"].([]any)[0].(map[string]any)["resources"] = map[string]any{}
}
