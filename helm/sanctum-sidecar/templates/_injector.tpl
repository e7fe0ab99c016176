{{/*
Injector mode: names, and the settings the injector derives each injected sidecar from. The
settings are this chart's values (sidecar.*, routes mount, vault.*, interception.*,
agent.proxyEnv/noProxy) with injector.defaults as the per-pod names, the resolved image and
the cluster's version: the same inputs the "sanctum-sidecar.container" template takes, so an
injected pod runs the sidecar this chart would render.
*/}}
{{- define "sanctum-sidecar.injectorName" -}}
{{- printf "%s-injector" (include "sanctum-sidecar.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sanctum-sidecar.injectorTlsSecret" -}}
{{- if eq .Values.injector.tls.source "secret" }}
{{- .Values.injector.tls.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "sanctum-sidecar.injectorName" .) }}
{{- end }}
{{- end }}

{{- define "sanctum-sidecar.injectorSelectorLabels" -}}
{{ include "sanctum-sidecar.selectorLabels" . }}
app.kubernetes.io/component: injector
{{- end }}

{{- define "sanctum-sidecar.injectorSettings" -}}
{{- $v := .Values -}}
{{- $key := deepCopy $v.vault.key -}}
{{- $_ := set $key "existingSecret" $v.injector.defaults.agentKeySecret -}}
{{- $vault := deepCopy $v.vault -}}
{{- $_ := set $vault "key" $key -}}
{{- $_ := set $vault "agent" $v.injector.defaults.vaultAgent -}}
{{- $values := dict
  "sidecar" $v.sidecar
  "routes" (dict "existingConfigMap" $v.injector.defaults.routesConfigMap "fileName" $v.routes.fileName "mountPath" $v.routes.mountPath)
  "vault" $vault
  "interception" $v.interception
  "agent" (dict "proxyEnv" $v.agent.proxyEnv "noProxy" $v.agent.noProxy)
-}}
{{- toPrettyJson (dict
  "image" (include "sanctum-sidecar.imageRef" (dict "image" $v.image "defaultTag" .Chart.AppVersion))
  "imagePullPolicy" $v.image.pullPolicy
  "kubeVersion" .Capabilities.KubeVersion.Version
  "values" $values) }}
{{- end }}

{{/* NOTES for injector mode. */}}
{{- define "sanctum-sidecar.injectorNotes" -}}
{{- $inj := .Values.injector -}}
{{- $name := include "sanctum-sidecar.injectorName" . -}}
{{- $ns := .Release.Namespace -}}
{{- $native := eq .Values.sidecar.mode "native" -}}
What was rendered, and why (Kubernetes {{ .Capabilities.KubeVersion.Version }}):
- The sidecar injector (mode=injector): deployment/{{ $name }} ({{ int $inj.replicas }} replicas) behind service/{{ $name }}, and
  a MutatingWebhookConfiguration for pod CREATE in namespaces matching injector.namespaceSelector
  (never {{ $ns }} or {{ join ", " $inj.excludeNamespaces }}), failurePolicy {{ $inj.failurePolicy }}
  {{- if eq $inj.failurePolicy "Fail" }} (pods there are not created while no injector
  answers: an agent never starts without the sidecar it asked for){{ else }} (pods there start without the sidecar
  while no injector answers){{ end }}.
- Serving certificate: {{ if eq $inj.tls.source "certManager" }}from cert-manager (Certificate {{ $name }}; its CA reaches the webhook through
  cert-manager.io/inject-ca-from). cert-manager must be installed.{{ else }}the Secret {{ $inj.tls.existingSecret }}, trusted through injector.tls.caBundle.{{ end }}
- Injected sidecars: {{ ternary "native (an init container with restartPolicy Always; Jobs complete when the agent exits)" "classic (a regular container; pods that run to completion are not injected)" $native }},
  vault {{ if eq .Values.vault.transport "tcp" }}over TCP at {{ .Values.vault.tcp.address }}{{ else }}on the socket {{ .Values.vault.socket.path }}{{ end }}, image {{ include "sanctum-sidecar.imageRef" (dict "image" .Values.image "defaultTag" .Chart.AppVersion) }}.

Use it

1. Opt a namespace in:

     kubectl label namespace <ns> sidecar.sanctumai.io/injection=enabled

2. In that namespace, the routes ConfigMap and the agent key Secret (names: the annotations below, or
   the defaults {{ $inj.defaults.routesConfigMap }} and {{ $inj.defaults.agentKeySecret }}):

     kubectl -n <ns> create configmap {{ $inj.defaults.routesConfigMap }} --from-file={{ .Values.routes.fileName }}=./routes.yaml
     sanctum-sidecar keygen <agent> --out ./{{ .Values.vault.key.fileName }}
     kubectl -n <ns> create secret generic {{ $inj.defaults.agentKeySecret }} --from-file={{ .Values.vault.key.fileName }}=./{{ .Values.vault.key.fileName }}

3. Annotate the pod template:

     sidecar.sanctumai.io/inject: "true"
     sidecar.sanctumai.io/routes-configmap: <name>     # optional
     sidecar.sanctumai.io/agent-key-secret: <name>     # optional
     sidecar.sanctumai.io/vault-agent: <agent>         # optional; default: routes.yaml vault.agent
     sidecar.sanctumai.io/vault-address: <host:port>   # optional
     sidecar.sanctumai.io/mode: native|classic         # optional

   Unusable annotations are reported as warnings (and in the pod's sidecar.sanctumai.io/injector-warnings
   annotation) and the defaults apply. To refuse such pods instead:

     kubectl label namespace <ns> sidecar.sanctumai.io/strict=true
{{- end }}
