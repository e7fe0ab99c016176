{{/*
Names and labels. The name helpers take a context with .Values, .Release and .Chart.Name, so the
sidecar templates can compute the same names from a parent chart (see _sidecar.tpl).
*/}}
{{- define "sanctum-sidecar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sanctum-sidecar.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sanctum-sidecar.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sanctum-sidecar.labels" -}}
helm.sh/chart: {{ include "sanctum-sidecar.chart" . }}
{{ include "sanctum-sidecar.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sanctum-sidecar
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "sanctum-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sanctum-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of the pods that run the sanctum-sidecar (agent pods in sidecar mode, gateway pods in gateway mode). */}}
{{- define "sanctum-sidecar.proxySelectorLabels" -}}
{{ include "sanctum-sidecar.selectorLabels" . }}
app.kubernetes.io/component: {{ ternary "gateway" "agent" (eq .Values.mode "gateway") }}
{{- end }}

{{/* Selector labels of the agent pods. */}}
{{- define "sanctum-sidecar.agentSelectorLabels" -}}
{{ include "sanctum-sidecar.selectorLabels" . }}
app.kubernetes.io/component: agent
{{- end }}

{{/* The label that marks a pod as a client of this release's gateway. */}}
{{- define "sanctum-sidecar.gatewayClientLabelKey" -}}
sidecar.sanctumai.io/gateway
{{- end }}

{{- define "sanctum-sidecar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sanctum-sidecar.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository[:tag][@digest] */}}
{{- define "sanctum-sidecar.imageRef" -}}
{{- $img := .image -}}
{{- $tag := default .defaultTag $img.tag | toString -}}
{{- $ref := $img.repository -}}
{{- if $tag }}{{ $ref = printf "%s:%s" $ref $tag }}{{ end -}}
{{- if $img.digest }}{{ $ref = printf "%s@%s" $ref $img.digest }}{{ end -}}
{{- $ref -}}
{{- end }}

{{- define "sanctum-sidecar.routesConfigMapName" -}}
{{- default (printf "%s-routes" (include "sanctum-sidecar.fullname" .)) .Values.routes.existingConfigMap }}
{{- end }}

{{- define "sanctum-sidecar.keySecretName" -}}
{{- default (printf "%s-agent-key" (include "sanctum-sidecar.fullname" .)) .Values.vault.key.existingSecret }}
{{- end }}

{{/* The gateway Service's in-cluster host name. */}}
{{- define "sanctum-sidecar.gatewayHost" -}}
{{- printf "%s.%s.svc.%s" (include "sanctum-sidecar.fullname" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/* "20s"-style duration from seconds. */}}
{{- define "sanctum-sidecar.seconds" -}}
{{- printf "%ds" (int .) }}
{{- end }}

{{/*
Render-time checks: the mistakes that values.schema.json cannot express. Included by every
workload template so `helm template`/`install` fails before anything reaches the cluster.
*/}}
{{- define "sanctum-sidecar.validate" -}}
{{- $v := .Values -}}
{{- if or (eq $v.mode "sidecar") (eq $v.mode "injector") }}
  {{- if not (has $v.sidecar.listen.address (list "127.0.0.1" "::1" "localhost")) }}
    {{- fail (printf "sidecar.listen.address=%q: in %s mode the proxy must listen on loopback (127.0.0.1 or ::1) so only its own agent can use it (SECURITY I12); use mode=gateway for a shared proxy" $v.sidecar.listen.address $v.mode) }}
  {{- end }}
  {{- if and (eq $v.sidecar.mode "native") (semverCompare "<1.29.0-0" .Capabilities.KubeVersion.Version) }}
    {{- fail (printf "sidecar.mode=native needs Kubernetes >= 1.29 (native sidecar containers); this cluster is %s: set sidecar.mode=classic" .Capabilities.KubeVersion.Version) }}
  {{- end }}
{{- end }}
{{- if eq $v.mode "gateway" }}
  {{- if and (not $v.routes.existingConfigMap) (not $v.routes.config.agents) }}
    {{- fail "mode=gateway needs per-agent authentication: set routes.config.agents (name, token_sha256, routes) or use routes.existingConfigMap (SECURITY I12/I14)" }}
  {{- end }}
  {{- if and $v.agent.enabled $v.agent.gatewayAuth.existingSecret }}
    {{- if not $v.agent.gatewayAuth.username }}
      {{- fail "agent.gatewayAuth.username must name the agent (an entry of routes.config.agents): the gateway checks that the Basic user name matches the token's agent" }}
    {{- end }}
    {{- if and (not $v.routes.existingConfigMap) $v.routes.config.agents }}
      {{- $names := list }}
      {{- range $v.routes.config.agents }}{{ $names = append $names .name }}{{ end }}
      {{- if not (has $v.agent.gatewayAuth.username $names) }}
        {{- fail (printf "agent.gatewayAuth.username=%q is not an agent of routes.config.agents (%s)" $v.agent.gatewayAuth.username (join ", " $names)) }}
      {{- end }}
    {{- end }}
  {{- end }}
  {{- if and $v.gateway.pdb.enabled (not (kindIs "invalid" $v.gateway.pdb.minAvailable)) (not (kindIs "invalid" $v.gateway.pdb.maxUnavailable)) }}
    {{- fail "gateway.pdb: set either minAvailable or maxUnavailable, not both" }}
  {{- end }}
{{- end }}
{{- if and (ne $v.mode "injector") (not $v.vault.agent) }}
  {{- fail "vault.agent must name the agent identity registered in the vault (it is written into routes.yaml)" }}
{{- end }}
{{- if and (eq $v.vault.transport "tcp") (not $v.vault.tcp.address) }}
  {{- fail "vault.transport=tcp needs vault.tcp.address (host:port)" }}
{{- end }}
{{- if eq $v.vault.transport "socket" }}
  {{- if not $v.vault.socket.volume }}
    {{- fail "vault.transport=socket needs vault.socket.volume: the volume that holds the vault's socket (e.g. csi, emptyDir shared with a vault container, persistentVolumeClaim)" }}
  {{- end }}
  {{- if and (hasKey $v.vault.socket.volume "hostPath") (not $v.vault.socket.allowHostPath) }}
    {{- fail "vault.socket.volume is a hostPath, which the baseline and restricted Pod Security Standards refuse (the pods would be rejected in hardened namespaces). Use a csi, emptyDir or persistentVolumeClaim volume, or vault.transport=tcp; set vault.socket.allowHostPath=true only for namespaces without Pod Security admission" }}
  {{- end }}
{{- end }}
{{- if and $v.interception.enabled (not $v.interception.caSecret) }}
  {{- fail "interception.enabled needs interception.caSecret (a Secret with ca.crt and ca.key from `sanctum-sidecar ca init`)" }}
{{- end }}
{{- $drain := add (int $v.sidecar.shutdownTimeoutSeconds) (ternary 0 (int $v.sidecar.preStopSleepSeconds) (and (eq $v.mode "sidecar") (eq $v.sidecar.mode "native"))) }}
{{- if ge (int $drain) (int $v.terminationGracePeriodSeconds) }}
  {{- fail (printf "terminationGracePeriodSeconds (%d) must exceed sidecar.preStopSleepSeconds + sidecar.shutdownTimeoutSeconds (%d), or the kubelet kills the sidecar mid-drain" (int $v.terminationGracePeriodSeconds) (int $drain)) }}
{{- end }}
{{- if eq $v.sidecar.listen.port $v.sidecar.admin.port }}
  {{- fail "sidecar.listen.port and sidecar.admin.port must differ" }}
{{- end }}
{{- if eq $v.mode "injector" }}
  {{- if and (eq $v.injector.tls.source "secret") (or (not $v.injector.tls.existingSecret) (not $v.injector.tls.caBundle)) }}
    {{- fail "injector.tls.source=secret needs injector.tls.existingSecret (a kubernetes.io/tls Secret for <fullname>-injector.<namespace>.svc) and injector.tls.caBundle (base64 of its CA certificate)" }}
  {{- end }}
  {{- if and (eq $v.injector.failurePolicy "Fail") (lt (int $v.injector.replicas) 2) }}
    {{- fail "injector.failurePolicy=Fail with a single injector replica blocks pod creation in the selected namespaces during every injector restart: set injector.replicas >= 2, or failurePolicy=Ignore" }}
  {{- end }}
{{- end }}
{{- if and (eq $v.mode "sidecar") (has $v.agent.kind (list "Job" "CronJob")) (eq $v.sidecar.mode "classic") $v.agent.enabled }}
  {{- fail (printf "agent.kind=%s needs sidecar.mode=native (Kubernetes >= 1.29): a classic sidecar is a regular container that never exits, so the Job would never complete. On older clusters use mode=gateway (the agent's Job then has no sidecar)" $v.agent.kind) }}
{{- end }}
{{- /* sidecar.extraVolumeMounts must name a volume of the pod that runs the sidecar. */}}
{{- $chartVolumes := list "sanctum-routes" "sanctum-key" "sanctum-tmp" }}
{{- if eq $v.vault.transport "socket" }}{{ $chartVolumes = append $chartVolumes "sanctum-vault" }}{{ end }}
{{- if $v.interception.enabled }}{{ $chartVolumes = concat $chartVolumes (list "sanctum-ca" "sanctum-ca-public") }}{{ end }}
{{- $podVolumes := list }}
{{- if eq $v.mode "sidecar" }}
  {{- $podVolumes = list "agent-tmp" }}
  {{- range $v.agent.volumes }}{{ $podVolumes = append $podVolumes .name }}{{ end }}
{{- end }}
{{- $extraVolumes := list }}
{{- range $v.sidecar.extraVolumes }}
  {{- if or (has .name $chartVolumes) (has .name $podVolumes) (has .name $extraVolumes) (hasPrefix "sanctum-" .name) }}
    {{- fail (printf "sidecar.extraVolumes: the name %q is already used in the pod (names starting with sanctum- are reserved for the chart)" .name) }}
  {{- end }}
  {{- $extraVolumes = append $extraVolumes .name }}
{{- end }}
{{- range $v.sidecar.extraVolumeMounts }}
  {{- if not (or (has .name $chartVolumes) (has .name $podVolumes) (has .name $extraVolumes)) }}
    {{- fail (printf "sidecar.extraVolumeMounts: no volume %q in the %s pod; define it in sidecar.extraVolumes" .name (get (dict "gateway" "gateway" "injector" "injected" "sidecar" "agent") $v.mode)) }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
The routes.yaml document: routes.config with listen, admin (and admin_detail) and vault filled in from the values
(these follow the chart's ports and mounts, so the chart's keys win over routes.config's).
*/}}
{{- define "sanctum-sidecar.routesDocument" -}}
{{- $v := .Values -}}
{{- $cfg := deepCopy $v.routes.config -}}
{{- $vault := dict "agent" $v.vault.agent "key_file" (printf "%s/%s" $v.vault.key.mountPath $v.vault.key.fileName) -}}
{{- if eq $v.vault.transport "socket" -}}
{{- $_ := set $vault "socket" $v.vault.socket.path -}}
{{- else -}}
{{- $_ := set $vault "tcp" $v.vault.tcp.address -}}
{{- end -}}
{{- if $v.vault.passphrase.existingSecret -}}
{{- $_ := set $vault "passphrase_env" $v.vault.passphrase.envName -}}
{{- end -}}
{{- $userVault := omit (default (dict) $cfg.vault) "agent" "socket" "tcp" "key_file" "passphrase_env" -}}
{{- $_ := set $cfg "vault" (merge $vault $userVault) -}}
{{- $listenHost := ternary $v.gateway.listenAddress $v.sidecar.listen.address (eq $v.mode "gateway") -}}
{{- $_ := set $cfg "listen" (include "sanctum-sidecar.hostPort" (dict "host" $listenHost "port" $v.sidecar.listen.port)) -}}
{{- $_ := set $cfg "admin" (include "sanctum-sidecar.hostPort" (dict "host" $v.sidecar.admin.address "port" $v.sidecar.admin.port)) -}}
{{- $_ := set $cfg "admin_detail" (default false $v.sidecar.admin.detail) -}}
{{- if $v.interception.enabled -}}
{{- $_ := set $cfg "tls" (merge (dict "ca_dir" $v.interception.mountPath) (default (dict) $cfg.tls)) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end }}

{{/* The routes ConfigMap's data (also hashed for routes.rolloutOnChange). */}}
{{- define "sanctum-sidecar.routesData" -}}
{{ .Values.routes.fileName }}: |
  # Rendered by the sanctum-sidecar Helm chart from routes.config; listen, admin and vault
  # follow the chart's values. Check it with: sanctum-sidecar check <this file>
  {{- include "sanctum-sidecar.routesDocument" . | nindent 2 }}
{{- end }}

{{/* Pod annotations shared by the workloads. */}}
{{- define "sanctum-sidecar.podAnnotations" -}}
{{- if and .Values.routes.rolloutOnChange (not .Values.routes.existingConfigMap) }}
checksum/routes: {{ include "sanctum-sidecar.routesData" . | sha256sum }}
{{- end }}
{{- if .Values.metrics.scrapeAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.sidecar.admin.port | int | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}
