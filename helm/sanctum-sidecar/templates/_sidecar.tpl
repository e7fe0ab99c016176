{{/*
=================================================================================================
Reusable sidecar templates. Other charts can include the sanctum-sidecar in their own pods:

  # Chart.yaml of your chart
  dependencies:
    - name: sanctum-sidecar
      version: 0.1.0
      repository: oci://ghcr.io/sanctumai/charts     # or file://../sanctum-sidecar
  # values.yaml of your chart
  sanctum-sidecar:
    agent: {enabled: false}        # render only the routes ConfigMap, not the demo workload
    image: {tag: "0.1.0"}
    vault: {agent: my-agent}
  # your pod template
  {{- $sanctum := dict "ctx" $ "values" (index .Values "sanctum-sidecar") }}
  initContainers:
    {{- include "sanctum-sidecar.container" $sanctum | nindent 8 }}
  containers:
    - name: my-agent
      env:
        {{- include "sanctum-sidecar.agentEnv" $sanctum | nindent 12 }}
      volumeMounts:
        {{- include "sanctum-sidecar.agentVolumeMounts" $sanctum | nindent 12 }}
  volumes:
    {{- include "sanctum-sidecar.volumes" $sanctum | nindent 8 }}

Arguments (a dict):
  ctx     the caller's root context ($): Release, Capabilities, Chart
  values  values shaped like this chart's values.yaml (default: ctx.Values). From a parent chart
          pass (index .Values "sanctum-sidecar"): Helm has merged this chart's defaults into it.
  role    "sidecar" (default) or "gateway"
  native  sidecar role only: true = native sidecar (init container with restartPolicy Always);
          default: values.sidecar.mode == "native"

The names of the ConfigMap and Secrets are computed exactly as this chart computes them, so the
ConfigMap rendered by the dependency is the one mounted.
=================================================================================================
*/}}

{{/* A context for the name helpers, built from the arguments. */}}
{{- define "sanctum-sidecar.scope" -}}
{{- $ctx := .ctx -}}
{{- $v := default $ctx.Values .values -}}
{{- $scope := dict "Values" $v "Release" $ctx.Release "Chart" (dict "Name" "sanctum-sidecar") -}}
{{- toYaml (dict
  "fullname" (include "sanctum-sidecar.fullname" $scope)
  "routesConfigMap" (include "sanctum-sidecar.routesConfigMapName" $scope)
  "keySecret" (include "sanctum-sidecar.keySecretName" $scope)
  "gatewayHost" (include "sanctum-sidecar.gatewayHost" $scope)
) -}}
{{- end }}

{{/* host:port, with brackets for IPv6. */}}
{{- define "sanctum-sidecar.hostPort" -}}
{{- if contains ":" (toString .host) -}}
[{{ .host }}]:{{ int .port }}
{{- else -}}
{{ .host }}:{{ int .port }}
{{- end -}}
{{- end }}

{{/* An httpGet probe on the admin port. */}}
{{- define "sanctum-sidecar.probe" -}}
httpGet:
  path: {{ .path }}
  port: admin
  scheme: HTTP
periodSeconds: {{ int .probe.periodSeconds }}
timeoutSeconds: {{ int .probe.timeoutSeconds }}
failureThreshold: {{ int .probe.failureThreshold }}
successThreshold: 1
{{- end }}

{{/* A Kubernetes memory quantity ("192Mi", "1Gi", "200M", "268435456") in whole MiB. */}}
{{- define "sanctum-sidecar.mebibytes" -}}
{{- $q := toString . -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $q -}}
{{- $unit := trimPrefix $num $q -}}
{{- $factors := dict "" 1.0 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "k" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0 -}}
{{- if or (not $num) (not (hasKey $factors $unit)) -}}
{{- fail (printf "sanctum-sidecar: cannot read the memory quantity %q (use e.g. 192Mi)" $q) -}}
{{- end -}}
{{- floor (divf (mulf (float64 $num) (index $factors $unit)) 1048576.0) | int64 -}}
{{- end }}

{{/*
NODE_OPTIONS of the sidecar container: "auto" gives V8's old space half of the memory limit
(scripts/shipped-runtime.mjs nodeOptionsForLimit says why; test/packaging/node-flags.test.ts
checks both agree), nothing without a limit; any other string is used as is.
*/}}
{{- define "sanctum-sidecar.nodeOptions" -}}
{{- if eq (toString .nodeOptions) "auto" -}}
{{- with (.resources.limits | default dict).memory -}}
--max-old-space-size={{ div (include "sanctum-sidecar.mebibytes" . | int64) 2 }}
{{- end -}}
{{- else -}}
{{- .nodeOptions -}}
{{- end -}}
{{- end }}

{{/* The sanctum-sidecar container (a list item). */}}
{{- define "sanctum-sidecar.container" -}}
{{- $ctx := .ctx -}}
{{- $v := default $ctx.Values .values -}}
{{- $role := default "sidecar" .role -}}
{{- $native := false -}}
{{- if eq $role "sidecar" -}}
{{- $native = ternary .native (eq $v.sidecar.mode "native") (hasKey . "native") -}}
{{- end -}}
{{- $names := include "sanctum-sidecar.scope" . | fromYaml -}}
{{- $defaultTag := "" -}}
{{- if eq $ctx.Chart.Name "sanctum-sidecar" }}{{ $defaultTag = $ctx.Chart.AppVersion }}{{ end -}}
{{- if and (not $v.image.tag) (not $v.image.digest) (not $defaultTag) -}}
{{- fail "sanctum-sidecar.container: set image.tag (or image.digest) in the sanctum-sidecar values" -}}
{{- end -}}
{{- $listenHost := ternary $v.gateway.listenAddress $v.sidecar.listen.address (eq $role "gateway") -}}
{{- $resources := ternary $v.gateway.resources $v.sidecar.resources (eq $role "gateway") -}}
- name: {{ $v.sidecar.name }}
  image: {{ include "sanctum-sidecar.imageRef" (dict "image" $v.image "defaultTag" $defaultTag) | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if $native }}
  # Native sidecar (KEP-753): starts before the agent, runs beside it, stops after it.
  restartPolicy: Always
  {{- end }}
  args:
    - run
    - --config
    - {{ printf "%s/%s" $v.routes.mountPath $v.routes.fileName | quote }}
    {{- range $v.sidecar.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    - name: SANCTUM_SIDECAR_LISTEN
      value: {{ include "sanctum-sidecar.hostPort" (dict "host" $listenHost "port" $v.sidecar.listen.port) | quote }}
    - name: SANCTUM_SIDECAR_ADMIN
      value: {{ include "sanctum-sidecar.hostPort" (dict "host" $v.sidecar.admin.address "port" $v.sidecar.admin.port) | quote }}
    - name: SANCTUM_SIDECAR_LOG_LEVEL
      value: {{ $v.sidecar.logLevel | quote }}
    - name: SANCTUM_SIDECAR_SHUTDOWN_TIMEOUT
      value: {{ include "sanctum-sidecar.seconds" $v.sidecar.shutdownTimeoutSeconds | quote }}
    - name: SANCTUM_SIDECAR_VAULT_AGENT
      value: {{ $v.vault.agent | quote }}
    {{- if eq $v.vault.transport "socket" }}
    - name: SANCTUM_SIDECAR_VAULT_SOCKET
      value: {{ $v.vault.socket.path | quote }}
    {{- else }}
    - name: SANCTUM_SIDECAR_VAULT_TCP
      value: {{ $v.vault.tcp.address | quote }}
    {{- end }}
    - name: SANCTUM_SIDECAR_KEY_FILE
      value: {{ printf "%s/%s" $v.vault.key.mountPath $v.vault.key.fileName | quote }}
    {{- if $v.vault.passphrase.existingSecret }}
    - name: {{ $v.vault.passphrase.envName }}
      valueFrom:
        secretKeyRef:
          name: {{ $v.vault.passphrase.existingSecret }}
          key: {{ $v.vault.passphrase.secretKey }}
    {{- end }}
    {{- if $v.interception.enabled }}
    - name: SANCTUM_SIDECAR_CA_DIR
      value: {{ $v.interception.mountPath | quote }}
    {{- end }}
    {{- with include "sanctum-sidecar.nodeOptions" (dict "nodeOptions" $v.sidecar.nodeOptions "resources" $resources) }}
    - name: NODE_OPTIONS
      value: {{ . | quote }}
    {{- end }}
    {{- with $v.sidecar.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.sidecar.extraEnvFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - name: proxy
      containerPort: {{ int $v.sidecar.listen.port }}
      protocol: TCP
    - name: admin
      containerPort: {{ int $v.sidecar.admin.port }}
      protocol: TCP
  {{- if $v.sidecar.startupProbe.enabled }}
  startupProbe:
    {{- include "sanctum-sidecar.probe" (dict "path" "/readyz" "probe" $v.sidecar.startupProbe) | nindent 4 }}
  {{- end }}
  {{- if $v.sidecar.livenessProbe.enabled }}
  livenessProbe:
    {{- include "sanctum-sidecar.probe" (dict "path" "/healthz" "probe" $v.sidecar.livenessProbe) | nindent 4 }}
  {{- end }}
  {{- if $v.sidecar.readinessProbe.enabled }}
  readinessProbe:
    {{- include "sanctum-sidecar.probe" (dict "path" "/readyz" "probe" $v.sidecar.readinessProbe) | nindent 4 }}
  {{- end }}
  {{- if and (not $native) (gt (int $v.sidecar.preStopSleepSeconds) 0) (semverCompare ">=1.30.0-0" $ctx.Capabilities.KubeVersion.Version) }}
  lifecycle:
    # Keep serving while endpoints and the agent wind down; no shell needed (distroless).
    preStop:
      sleep:
        seconds: {{ int $v.sidecar.preStopSleepSeconds }}
  {{- end }}
  resources:
    {{- toYaml $resources | nindent 4 }}
  securityContext:
    {{- toYaml $v.sidecar.securityContext | nindent 4 }}
  volumeMounts:
    # A directory mount (never subPath): ConfigMap updates reach the running sidecar.
    - name: sanctum-routes
      mountPath: {{ $v.routes.mountPath }}
      readOnly: true
    - name: sanctum-key
      mountPath: {{ $v.vault.key.mountPath }}
      readOnly: true
    {{- if eq $v.vault.transport "socket" }}
    - name: sanctum-vault
      mountPath: {{ dir $v.vault.socket.path }}
      readOnly: true
    {{- end }}
    {{- if $v.interception.enabled }}
    - name: sanctum-ca
      mountPath: {{ $v.interception.mountPath }}
      readOnly: true
    {{- end }}
    - name: sanctum-tmp
      mountPath: /tmp
    {{- with $v.sidecar.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{/*
Volumes (list items). role "sidecar" (default): everything the sidecar and its agent need;
"gateway": the gateway pod's; "agent": the agent pod's in gateway mode (the public CA only).
*/}}
{{- define "sanctum-sidecar.volumes" -}}
{{- $ctx := .ctx -}}
{{- $v := default $ctx.Values .values -}}
{{- $role := default "sidecar" .role -}}
{{- $names := include "sanctum-sidecar.scope" . | fromYaml -}}
{{- if ne $role "agent" }}
- name: sanctum-routes
  configMap:
    name: {{ $names.routesConfigMap }}
    items:
      - key: {{ $v.routes.fileName }}
        path: {{ $v.routes.fileName }}
- name: sanctum-key
  secret:
    secretName: {{ $names.keySecret }}
    # 0400. The kubelet gives the files group fsGroup (and group read), so the non-root
    # sidecar can read the key and no other user can.
    defaultMode: {{ int $v.vault.key.defaultMode }}
{{- if eq $v.vault.transport "socket" }}
- name: sanctum-vault
  {{- toYaml $v.vault.socket.volume | nindent 2 }}
{{- end }}
{{- if $v.interception.enabled }}
- name: sanctum-ca
  secret:
    secretName: {{ $v.interception.caSecret }}
    defaultMode: {{ int $v.vault.key.defaultMode }}
{{- end }}
- name: sanctum-tmp
  emptyDir:
    medium: Memory
    sizeLimit: {{ $v.sidecar.tmpSizeLimit }}
{{- end }}
{{- if and $v.interception.enabled (ne $role "gateway") }}
# The agent trusts the interception CA: it gets the certificate, never the key.
- name: sanctum-ca-public
  secret:
    secretName: {{ $v.interception.caSecret }}
    defaultMode: 292
    items:
      - key: {{ $v.interception.certFileName }}
        path: {{ $v.interception.certFileName }}
{{- end }}
{{- end }}

{{/* Agent volume mounts (list items; may be empty). */}}
{{- define "sanctum-sidecar.agentVolumeMounts" -}}
{{- $ctx := .ctx -}}
{{- $v := default $ctx.Values .values -}}
{{- if $v.interception.enabled }}
- name: sanctum-ca-public
  mountPath: {{ $v.interception.agentMountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
Agent environment (list items): the proxy variables in both cases (curl reads only the lowercase
http_proxy; most other clients read either) and the CA variables when interception is on.
role "sidecar" (default): the proxy is the pod's loopback; "gateway": the gateway Service.
*/}}
{{- define "sanctum-sidecar.agentEnv" -}}
{{- $ctx := .ctx -}}
{{- $v := default $ctx.Values .values -}}
{{- $role := default "sidecar" .role -}}
{{- $names := include "sanctum-sidecar.scope" . | fromYaml -}}
{{- if $v.agent.proxyEnv }}
{{- $proxy := "" }}
{{- if eq $role "gateway" }}
{{- if $v.agent.gatewayAuth.existingSecret }}
- name: SANCTUM_SIDECAR_PROXY_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $v.agent.gatewayAuth.existingSecret }}
      key: {{ $v.agent.gatewayAuth.secretKey }}
{{- $proxy = printf "http://%s:$(SANCTUM_SIDECAR_PROXY_TOKEN)@%s:%d" $v.agent.gatewayAuth.username $names.gatewayHost (int $v.gateway.service.port) }}
{{- else }}
{{- $proxy = printf "http://%s:%d" $names.gatewayHost (int $v.gateway.service.port) }}
{{- end }}
{{- else }}
{{- $host := $v.sidecar.listen.address }}
{{- if eq $host "localhost" }}{{ $host = "127.0.0.1" }}{{ end }}
{{- $proxy = printf "http://%s" (include "sanctum-sidecar.hostPort" (dict "host" $host "port" $v.sidecar.listen.port)) }}
{{- end }}
{{- $noProxy := join "," (concat (list "localhost" "127.0.0.1" "::1") $v.agent.noProxy) }}
{{- range $name := list "HTTP_PROXY" "http_proxy" "HTTPS_PROXY" "https_proxy" }}
- name: {{ $name }}
  value: {{ $proxy | quote }}
{{- end }}
{{- range $name := list "NO_PROXY" "no_proxy" }}
- name: {{ $name }}
  value: {{ $noProxy | quote }}
{{- end }}
{{- end }}
{{- if $v.interception.enabled }}
{{- $caFile := printf "%s/%s" $v.interception.agentMountPath $v.interception.certFileName }}
{{- range $v.interception.agentCaEnv }}
- name: {{ . }}
  value: {{ $caFile | quote }}
{{- end }}
{{- end }}
{{- end }}
