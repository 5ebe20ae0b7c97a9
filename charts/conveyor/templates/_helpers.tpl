{{/* Names */}}
{{- define "conveyor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "conveyor.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's objects: <fullname>-<component>. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "conveyor.componentName" -}}
{{- printf "%s-%s" (include "conveyor.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The one label helper. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "conveyor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{ include "conveyor.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Values.image.tag | default .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: conveyor
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{/* Selectors: name + instance + component, so components never select each other's pods. */}}
{{- define "conveyor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "conveyor.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image of a Dockerfile target. Call with (dict "ctx" $ "target" "api"). */}}
{{- define "conveyor.image" -}}
{{- printf "%s/%s:%s" .ctx.Values.image.repository .target (.ctx.Values.image.tag | default .ctx.Chart.AppVersion) -}}
{{- end -}}

{{- define "conveyor.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-env" (include "conveyor.fullname" .)) -}}
{{- end -}}

{{/*
Queue of a worker pool: the rule of topology() in packages/jobs/src/topology.ts,
<namespace->conveyor-<pool>. test/chart/names.test.ts renders the chart and compares with topology().
Call with (dict "ctx" $ "pool" "default").
*/}}
{{- /* A pool's queue of one priority class and lane, as topology()'s poolQueueNames: normal is the pool's bare queue, the overflow lane adds -overflow. */ -}}
{{- define "conveyor.queueName" -}}
{{- if .ctx.Values.config.namespace -}}{{ .ctx.Values.config.namespace }}-{{- end -}}conveyor-{{ .pool }}{{- if and .priority (ne .priority "normal") -}}-{{ .priority }}{{- end -}}{{- if eq (.lane | default "regular") "overflow" -}}-overflow{{- end -}}
{{- end -}}

{{/* SQS queue URL whose path is exactly /<account>/<queue>, as KEDA's aws-sqs-queue scaler requires. */}}
{{- define "conveyor.queueUrl" -}}
{{- $aws := .ctx.Values.aws -}}
{{- $base := $aws.endpoint | default (printf "https://sqs.%s.amazonaws.com" $aws.region) | trimSuffix "/" -}}
{{- printf "%s/%s/%s" $base $aws.accountId (include "conveyor.queueName" .) -}}
{{- end -}}

{{/*
Where KEDA reads the api's ops port (GET /scaling/pools/{name}): keda.drainScaling.apiUrl, else the
api Service by its cluster DNS name.
*/}}
{{- define "conveyor.scalingApiUrl" -}}
{{- $url := .Values.keda.drainScaling.apiUrl | default (printf "http://%s.%s.svc.cluster.local:%d" (include "conveyor.componentName" (dict "ctx" . "component" "api")) .Release.Namespace (.Values.components.api.opsPort | int)) -}}
{{- $url | trimSuffix "/" -}}
{{- end -}}

{{/*
Handlers a pool's worker runs at once (WORKER_CONCURRENCY): the pool's `concurrency`, else the
worker SDK's default. Time-to-drain scaling counts this many slots per worker.
*/}}
{{- define "conveyor.poolConcurrency" -}}
{{- .concurrency | default 16 | int -}}
{{- end -}}

{{/*
Every deployable unit: the four services and one unit per worker pool, each with its merged
settings. One list so every template loops over the same thing.
*/}}
{{- define "conveyor.units" -}}
{{- $units := list -}}
{{- range $name := list "gateway" "api" "bridge" "scheduler" -}}
{{- $spec := index $.Values.components $name -}}
{{- $units = append $units (dict "component" $name "service" $name "spec" $spec "pool" "" "shutdownGraceMs" (int $.Values.config.shutdownGraceMs)) -}}
{{- end -}}
{{- range $pool := .Values.workerPools -}}
{{- $spec := deepCopy $.Values.components.worker -}}
{{- if $pool.resources -}}{{- $_ := set $spec "resources" $pool.resources -}}{{- end -}}
{{- $grace := (int $pool.shutdownGraceMs) | default (int $.Values.config.shutdownGraceMs) -}}
{{- $units = append $units (dict "component" (printf "worker-%s" $pool.name) "service" "worker" "spec" $spec "pool" $pool.name "shutdownGraceMs" $grace "concurrency" (include "conveyor.poolConcurrency" $pool)) -}}
{{- end -}}
{{- toJson (dict "units" $units) -}}
{{- end -}}

{{/* Environment of a unit. Call with (dict "ctx" $ "unit" $unit). */}}
{{- define "conveyor.env" -}}
{{- $v := .ctx.Values -}}
{{- $u := .unit -}}
{{- $secret := include "conveyor.secretName" .ctx -}}
{{- $needs := include "conveyor.needs" $u.service | fromJson -}}
- name: NODE_ENV
  value: {{ $v.config.nodeEnv | quote }}
- name: LOG_LEVEL
  value: {{ $v.config.logLevel | quote }}
{{- if $u.spec.port }}
- name: PORT
  value: {{ $u.spec.port | int | quote }}
{{- end }}
- name: OPS_PORT
  value: {{ $u.spec.opsPort | int | quote }}
- name: SHUTDOWN_GRACE_MS
  value: {{ $u.shutdownGraceMs | int | quote }}
- name: CONVEYOR_NAMESPACE
  value: {{ $v.config.namespace | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ $u.service | quote }}
{{- if $v.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.otel.endpoint | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=%s,deployment.environment=%s,k8s.namespace.name=%s%s" .ctx.Release.Name $v.config.nodeEnv .ctx.Release.Namespace (ternary (printf ",conveyor.pool=%s" $u.pool) "" (ne $u.pool "")) | quote }}
{{- end }}
{{- if $needs.postgres }}
- name: DATABASE_URL
  valueFrom: { secretKeyRef: { name: {{ $secret }}, key: DATABASE_URL } }
- name: DATABASE_POOL_MAX
  value: {{ $v.database.poolMax | int | quote }}
{{- end }}
{{- if $needs.kafka }}
- name: KAFKA_BROKERS
  value: {{ $v.kafka.brokers | quote }}
- name: KAFKA_CLIENT_ID
  value: {{ printf "conveyor-%s" $u.service | quote }}
{{- end }}
{{- if $needs.aws }}
{{- include "conveyor.awsEnv" .ctx }}
- name: S3_BUCKET
  value: {{ $v.s3.bucket | quote }}
{{- end }}
{{- if eq $u.service "gateway" }}
- name: API_URL
  value: {{ printf "http://%s:%d" (include "conveyor.componentName" (dict "ctx" .ctx "component" "api")) (int $v.components.api.port) | quote }}
- name: API_INTERNAL_TOKEN
  valueFrom: { secretKeyRef: { name: {{ $secret }}, key: INTERNAL_TOKEN } }
- name: JWT_TENANT_CLAIM
  value: {{ $v.gateway.tenantClaim | quote }}
{{- with $v.gateway.jwksUrl }}
- name: JWKS_URL
  value: {{ . | quote }}
{{- end }}
{{- with $v.gateway.corsOrigins }}
- name: CORS_ORIGINS
  value: {{ . | quote }}
{{- end }}
{{- if $v.gateway.devSigningKey }}
- name: JWT_DEV_SIGNING_KEY
  valueFrom: { secretKeyRef: { name: {{ $secret }}, key: JWT_DEV_SIGNING_KEY } }
{{- end }}
{{- with $v.gateway.redisUrl }}
- name: REDIS_URL
  value: {{ . | quote }}
{{- end }}
{{- if and $v.ingress.enabled $v.ingress.trustedProxies }}
- name: TRUSTED_PROXIES
  value: {{ join "," $v.ingress.trustedProxies | quote }}
{{- end }}
{{- end }}
{{- if eq $u.service "api" }}
- name: INTERNAL_TOKEN
  valueFrom: { secretKeyRef: { name: {{ $secret }}, key: INTERNAL_TOKEN } }
- name: WEBHOOK_SECRETS_KEY
  valueFrom: { secretKeyRef: { name: {{ $secret }}, key: WEBHOOK_SECRETS_KEY } }
{{- with $v.webhooks.allowedHosts }}
- name: WEBHOOK_ALLOWED_HOSTS
  value: {{ join "," . | quote }}
{{- end }}
{{- with $v.webhooks.allowedCidrs }}
- name: WEBHOOK_ALLOWED_CIDRS
  value: {{ join "," . | quote }}
{{- end }}
# /schedules writes JobSchedule custom resources in the release's namespace, where the scheduler watches them.
- name: SCHEDULES_SOURCE
  value: kubernetes
- name: SCHEDULES_NAMESPACE
  value: {{ .ctx.Release.Namespace | quote }}
{{- with $v.s3.publicEndpoint }}
- name: S3_PUBLIC_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with $v.metrics.prometheusUrl }}
- name: PROMETHEUS_URL
  value: {{ . | quote }}
{{- end }}
{{- with $v.metrics.prometheusSelector }}
- name: PROMETHEUS_SELECTOR
  value: {{ . | quote }}
{{- end }}
{{- if $v.ingress.enabled }}
- name: PUBLIC_BASE_URL
  value: {{ printf "%s://%s" (ternary "https" "http" (ne $v.ingress.tlsSecretName "")) $v.ingress.host | quote }}
{{- end }}
{{- end }}
{{- if eq $u.service "worker" }}
- name: WORKER_POOL
  value: {{ $u.pool | quote }}
# The same number KEDA's time-to-drain trigger counts as one worker's slots.
- name: WORKER_CONCURRENCY
  value: {{ $u.concurrency | quote }}
{{- end }}
{{- if eq $u.service "scheduler" }}
- name: SCHEDULES_SOURCE
  value: kubernetes
# Its Role covers this namespace only.
- name: SCHEDULES_WATCH_NAMESPACE
  value: {{ .ctx.Release.Namespace | quote }}
{{- if $v.keda.enabled }}
# Each WorkerPool's ScaledObject authenticates to SQS as the chart's own pools do.
- name: WORKER_POOL_TRIGGER_AUTHENTICATION
  value: {{ printf "%s-aws" (include "conveyor.fullname" .ctx) | quote }}
# A WorkerPool with spec.drainScaling gets the chart pools' time-to-drain trigger, read here.
- name: WORKER_POOL_SCALING_URL
  value: {{ include "conveyor.scalingApiUrl" .ctx | quote }}
- name: WORKER_POOL_SCALING_FAILURE_THRESHOLD
  value: {{ $v.keda.drainScaling.failureThreshold | int | quote }}
{{- end }}
# Replicas elect one leader on this Lease, in the pod's own namespace, where the Role lets them
# get, create and update leases; the pod name names the holder and the replica in Events.
- name: LEADER_ELECTION_LEASE_NAME
  value: {{ include "conveyor.componentName" (dict "ctx" .ctx "component" "scheduler") | quote }}
- name: LEADER_ELECTION_NAMESPACE
  valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
- name: HOSTNAME
  valueFrom: { fieldRef: { fieldPath: metadata.name } }
- name: RETENTION_FINISHED_JOBS
  value: {{ $v.retention.finishedJobs | quote }}
- name: RETENTION_IDEMPOTENCY_KEYS
  value: {{ $v.retention.idempotencyKeys | quote }}
- name: RETENTION_NOTIFICATIONS
  value: {{ $v.retention.notifications | quote }}
- name: RETENTION_OVERRIDES
  value: {{ toJson $v.retention.overrides | quote }}
{{- end }}
{{- range $k, $val := $v.config.extraEnv }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- range $k, $val := $u.spec.env }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- end -}}

{{/* AWS variables; keys come from the Secret only when static credentials are used. */}}
{{- define "conveyor.awsEnv" }}
- name: AWS_REGION
  value: {{ .Values.aws.region | quote }}
{{- with .Values.aws.endpoint }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- if include "conveyor.staticAwsKeys" . }}
- name: AWS_ACCESS_KEY_ID
  valueFrom: { secretKeyRef: { name: {{ include "conveyor.secretName" . }}, key: AWS_ACCESS_KEY_ID } }
- name: AWS_SECRET_ACCESS_KEY
  valueFrom: { secretKeyRef: { name: {{ include "conveyor.secretName" . }}, key: AWS_SECRET_ACCESS_KEY } }
{{- end }}
{{- end -}}

{{- define "conveyor.staticAwsKeys" -}}
{{- if or .Values.aws.accessKeyId (and .Values.existingSecret .Values.aws.keysInExistingSecret) -}}true{{- end -}}
{{- end -}}

{{/*
What each service talks to: drives both its environment and its NetworkPolicy egress, so the two
cannot drift apart.
*/}}
{{- define "conveyor.needs" -}}
{{- $needs := dict
  "gateway" (dict "api" true)
  "api" (dict "postgres" true "kafka" true "aws" true "webhooks" true "kubernetesApi" true)
  "bridge" (dict "kafka" true "aws" true)
  "worker" (dict "postgres" true "aws" true)
  "scheduler" (dict "postgres" true "kafka" true "aws" true "kubernetesApi" true)
  "tools" (dict "postgres" true "kafka" true "aws" true)
-}}
{{- toJson (index $needs .) -}}
{{- end -}}

{{- define "conveyor.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: { type: RuntimeDefault }
{{- end -}}

{{- define "conveyor.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities: { drop: [ALL] }
seccompProfile: { type: RuntimeDefault }
{{- end -}}

{{/* Rolls pods when the configuration they read changes. */}}
{{- define "conveyor.checksums" -}}
{{- if not .Values.existingSecret }}
checksum/secret: {{ include "conveyor.secretData" . | sha256sum }}
{{- end }}
{{- end -}}

{{/*
The chart Secret's data. Tokens not given are generated once and then read back from the cluster,
so upgrades neither change them nor roll the pods.
*/}}
{{- define "conveyor.secretData" -}}
DATABASE_URL: {{ required "database.url is required (or set existingSecret)" .Values.database.url | quote }}
INTERNAL_TOKEN: {{ include "conveyor.generatedSecret" (dict "ctx" . "value" "internalToken" "key" "INTERNAL_TOKEN") | quote }}
WEBHOOK_SECRETS_KEY: {{ include "conveyor.generatedSecret" (dict "ctx" . "value" "webhookSecret" "key" "WEBHOOK_SECRETS_KEY") | quote }}
{{- with .Values.gateway.devSigningKey }}
JWT_DEV_SIGNING_KEY: {{ . | quote }}
{{- end }}
{{- if .Values.aws.accessKeyId }}
AWS_ACCESS_KEY_ID: {{ .Values.aws.accessKeyId | quote }}
AWS_SECRET_ACCESS_KEY: {{ required "aws.secretAccessKey is required with aws.accessKeyId" .Values.aws.secretAccessKey | quote }}
{{- end }}
{{- end -}}

{{/* One egress rule from a networkPolicy.egress entry ({to, ports}). */}}
{{- define "conveyor.egressRule" -}}
- {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    {{- toYaml .ports | nindent 4 }}
{{- end -}}

{{/* auth.<value> when set, else the key from the Secret already in the cluster, else a new random one (memoised for this render). */}}
{{- define "conveyor.generatedSecret" -}}
{{- $auth := .ctx.Values.auth -}}
{{- if not (index $auth .value) -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace (include "conveyor.secretName" .ctx) -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- $_ := set $auth .value (index $existing.data .key | b64dec) -}}
{{- else -}}
{{- $_ := set $auth .value (randAlphaNum 40) -}}
{{- end -}}
{{- end -}}
{{- index $auth .value -}}
{{- end -}}
