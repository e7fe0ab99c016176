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
{{- /* Classic and gateway containers get SIGTERM while the pod is still in Service endpoints and
the agent may still send: keep serving for preStopSleepSeconds, with a preStop sleep where the
cluster has that action (>= 1.30), else with the sidecar's own drain delay. Native sidecars are
stopped after the agent has exited and need neither. */ -}}
{{- $stopDelay := ternary 0 (int $v.sidecar.preStopSleepSeconds) $native -}}
{{- $preStopSleep := and (gt $stopDelay 0) (semverCompare ">=1.30.0-0" $ctx.Capabilities.KubeVersion.Version) -}}
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
    {{- if and (gt $stopDelay 0) (not $preStopSleep) }}
    # No preStop sleep action before Kubernetes 1.30: the sidecar keeps serving this long itself.
    - name: SANCTUM_SIDECAR_DRAIN_DELAY
      value: {{ include "sanctum-sidecar.seconds" $stopDelay | quote }}
    {{- end }}
    {{- with $v.vault.agent }}
    - name: SANCTUM_SIDECAR_VAULT_AGENT
      value: {{ . | quote }}
    {{- end }}
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
  {{- if $preStopSleep }}
  lifecycle:
    # Keep serving while endpoints and the agent wind down; no shell needed (distroless).
    preStop:
      sleep:
        seconds: {{ $stopDelay }}
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
{{- with $v.sidecar.extraVolumes }}
{{ toYaml . }}
{{- end }}
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
      {{- if and $v.interception.bundleFileName (ne $v.interception.bundleFileName $v.interception.certFileName) }}
      - key: {{ $v.interception.bundleFileName }}
        path: {{ $v.interception.bundleFileName }}
      {{- end }}
{{- end }}
{{- end }}

{{/*
Annotations for the pod that runs the sidecar (map entries; may be empty): the declared Pod
Security exception when the vault socket comes from a hostPath (vault.socket.allowHostPath), so
the pod itself says why the baseline and restricted profiles would refuse it.
*/}}
{{- define "sanctum-sidecar.sidecarPodAnnotations" -}}
{{- $v := default .ctx.Values .values -}}
{{- if and (eq $v.vault.transport "socket") (hasKey $v.vault.socket.volume "hostPath") }}
sidecar.sanctumai.io/pod-security-exception: "hostPath volume sanctum-vault: vault.socket.allowHostPath=true; the baseline and restricted Pod Security Standards refuse hostPath volumes"
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
Agent environment (list items), the variables `sanctum-sidecar env` prints (src/agent-env.ts; a
test renders both and compares them): the proxy variables in both cases (curl reads only the
lowercase http_proxy), NODE_USE_ENV_PROXY=1 (Node's own fetch ignores the proxy variables
without it), NO_PROXY; with interception, the CA for Node (NODE_EXTRA_CA_CERTS, added to its
roots) and the CA bundle for every variable that replaces a trust store; with agent.routeEnv, a
base URL per prefix route and a placeholder key per credential route (the agent's own in gateway
mode). role "sidecar" (default): the proxy is the pod's loopback; "gateway": the gateway Service,
with the agent's name and $(SANCTUM_SIDECAR_PROXY_TOKEN) in the URLs.
*/}}
{{- define "sanctum-sidecar.agentEnv" -}}
{{- $ctx := .ctx -}}
{{- $v := default $ctx.Values .values -}}
{{- $role := default "sidecar" .role -}}
{{- $names := include "sanctum-sidecar.scope" . | fromYaml -}}
{{- $base := "" }}
{{- $auth := "" }}
{{- $tokenPath := "" }}
{{- $noProxy := list "localhost" "127.0.0.1" "::1" }}
{{- if eq $role "gateway" }}
{{- $base = printf "http://%s:%d" $names.gatewayHost (int $v.gateway.service.port) }}
{{- $noProxy = append $noProxy $names.gatewayHost }}
{{- if $v.agent.gatewayAuth.existingSecret }}
{{- $auth = printf "%s:$(SANCTUM_SIDECAR_PROXY_TOKEN)@" $v.agent.gatewayAuth.username }}
{{- $tokenPath = "/_agent/$(SANCTUM_SIDECAR_PROXY_TOKEN)" }}
{{- end }}
{{- else }}
{{- $host := $v.sidecar.listen.address }}
{{- if eq $host "localhost" }}{{ $host = "127.0.0.1" }}{{ end }}
{{- $base = printf "http://%s" (include "sanctum-sidecar.hostPort" (dict "host" $host "port" $v.sidecar.listen.port)) }}
{{- end }}
{{- $noProxy = concat $noProxy $v.agent.noProxy | uniq }}
{{- if and $auth $v.agent.proxyEnv }}
- name: SANCTUM_SIDECAR_PROXY_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $v.agent.gatewayAuth.existingSecret }}
      key: {{ $v.agent.gatewayAuth.secretKey }}
{{- end }}
{{- if $v.agent.proxyEnv }}
{{- $proxy := replace "http://" (printf "http://%s" $auth) $base }}
{{- range $name := list "HTTP_PROXY" "http_proxy" "HTTPS_PROXY" "https_proxy" }}
- name: {{ $name }}
  value: {{ $proxy | quote }}
{{- end }}
- name: NODE_USE_ENV_PROXY
  value: "1"
{{- range $name := list "NO_PROXY" "no_proxy" }}
- name: {{ $name }}
  value: {{ join "," $noProxy | quote }}
{{- end }}
{{- end }}
{{- if $v.interception.enabled }}
{{- $caFile := printf "%s/%s" $v.interception.agentMountPath $v.interception.certFileName }}
{{- $bundle := printf "%s/%s" $v.interception.agentMountPath (default $v.interception.certFileName $v.interception.bundleFileName) }}
{{- range $v.interception.agentCaEnv }}
- name: {{ . }}
  value: {{ $caFile | quote }}
{{- end }}
{{- range $v.interception.agentCaBundleEnv }}
- name: {{ . }}
  value: {{ $bundle | quote }}
{{- end }}
{{- end }}
{{- if and $v.agent.routeEnv $v.agent.proxyEnv (not $v.routes.existingConfigMap) }}
{{- include "sanctum-sidecar.routeEnv" (dict "values" $v "role" $role "base" (printf "%s%s" $base $tokenPath)) }}
{{- end }}
{{- end }}

{{/* What well-known SDKs read, by API host: the same table as KNOWN_SDKS in src/agent-env.ts. */}}
{{- define "sanctum-sidecar.knownSdks" -}}
api.openai.com: {baseUrlVar: OPENAI_BASE_URL, basePath: /v1, keyVars: [OPENAI_API_KEY]}
api.anthropic.com: {baseUrlVar: ANTHROPIC_BASE_URL, basePath: "", keyVars: [ANTHROPIC_API_KEY]}
api.groq.com: {baseUrlVar: GROQ_BASE_URL, basePath: "", keyVars: [GROQ_API_KEY]}
api.mistral.ai: {keyVars: [MISTRAL_API_KEY]}
generativelanguage.googleapis.com: {keyVars: [GEMINI_API_KEY]}
api.github.com: {keyVars: [GITHUB_TOKEN, GH_TOKEN]}
{{- end }}

{{/*
Base URLs (prefix routes) and placeholder keys (credential routes) of routes.config, for the
routes the agent may use (gateway mode with gatewayAuth: its routes and its first placeholder).
A name already set keeps its first value, as in `sanctum-sidecar env`.
*/}}
{{- define "sanctum-sidecar.routeEnv" -}}
{{- $v := .values -}}
{{- $sdks := include "sanctum-sidecar.knownSdks" . | fromYaml -}}
{{- $cfg := $v.routes.config -}}
{{- $routes := default (list) $cfg.routes -}}
{{- $placeholder := "sk-sanctum-placeholder" -}}
{{- if and (eq .role "gateway") $v.agent.gatewayAuth.existingSecret -}}
{{- range (default (list) $cfg.agents) -}}
{{- if eq .name $v.agent.gatewayAuth.username -}}
{{- $allowed := default (list) .routes -}}
{{- $kept := list -}}
{{- range $routes }}{{ if has .name $allowed }}{{ $kept = append $kept . }}{{ end }}{{ end -}}
{{- $routes = $kept -}}
{{- with .placeholders }}{{ $placeholder = first . }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $r := $routes }}
{{- if $r.prefix }}
{{- $matchHost := "" }}{{ with $r.match }}{{ $matchHost = default "" .host }}{{ end }}
{{- $upstream := urlParse (default (printf "https://%s" $matchHost) $r.upstream) }}
{{- $upHost := regexReplaceAll ":[0-9]+$" $upstream.host "" }}
{{- $sdk := default (get $sdks $upHost) (get $sdks $matchHost) }}
{{- $sdkPath := "" }}{{ $sdkVar := "" }}{{ if $sdk }}{{ $sdkPath = default "" $sdk.basePath }}{{ $sdkVar = default "" $sdk.baseUrlVar }}{{ end }}
{{- $basePath := trimSuffix "/" $upstream.path }}
{{- $suffix := ternary (trimPrefix $basePath $sdkPath) $sdkPath (hasPrefix $basePath $sdkPath) }}
{{- $url := printf "%s%s%s" $.base $r.prefix $suffix }}
{{- $envName := regexReplaceAll "[^A-Z0-9]" (upper $r.name) "_" }}
{{- range $n := compact (list (printf "%s_BASE_URL" $envName) $sdkVar) }}
{{- if not (hasKey $seen $n) }}{{ $_ := set $seen $n true }}
- name: {{ $n }}
  value: {{ $url | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- range $r := $routes }}
{{- if $r.credential }}
{{- $matchHost := "" }}{{ with $r.match }}{{ $matchHost = default "" .host }}{{ end }}
{{- $upstream := urlParse (default (printf "https://%s" $matchHost) $r.upstream) }}
{{- $upHost := regexReplaceAll ":[0-9]+$" $upstream.host "" }}
{{- $sdk := default (get $sdks $upHost) (get $sdks $matchHost) }}
{{- $envName := regexReplaceAll "[^A-Z0-9]" (upper $r.name) "_" }}
{{- $keyVars := list }}{{ if $sdk }}{{ $keyVars = $sdk.keyVars }}{{ end }}
{{- range $n := prepend $keyVars (printf "%s_API_KEY" $envName) }}
{{- if not (hasKey $seen $n) }}{{ $_ := set $seen $n true }}
- name: {{ $n }}
  value: {{ $placeholder | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
