{{/*
The agent's pod template (metadata + spec), shared by the Deployment, Job and CronJob kinds
(agent.kind). Sidecar mode: the agent and its sanctum-sidecar in one pod. Gateway mode: the
agent alone, its proxy variables pointing at the gateway Service.
*/}}
{{- define "sanctum-sidecar.agentPodTemplate" -}}
{{- $sidecarMode := eq .Values.mode "sidecar" }}
{{- $args := dict "ctx" $ "role" (ternary "sidecar" "gateway" $sidecarMode) }}
{{- $native := and $sidecarMode (eq .Values.sidecar.mode "native") }}
{{- $batch := ne .Values.agent.kind "Deployment" }}
metadata:
  labels:
    {{- include "sanctum-sidecar.labels" . | nindent 4 }}
    app.kubernetes.io/component: agent
    {{- if not $sidecarMode }}
    {{ include "sanctum-sidecar.gatewayClientLabelKey" . }}: {{ include "sanctum-sidecar.fullname" . }}
    {{- end }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- $annotations := include "sanctum-sidecar.podAnnotations" . | trim }}
  {{- if $sidecarMode }}
  {{- $annotations = printf "%s\n%s" $annotations (include "sanctum-sidecar.sidecarPodAnnotations" $args | trim) | trim }}
  {{- end }}
  {{- with $annotations }}
  annotations:
    {{- . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "sanctum-sidecar.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  enableServiceLinks: false
  {{- if $batch }}
  restartPolicy: {{ .Values.agent.job.restartPolicy }}
  {{- end }}
  terminationGracePeriodSeconds: {{ int .Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.runtimeClassName }}
  runtimeClassName: {{ . }}
  {{- end }}
  {{- if $native }}
  initContainers:
    {{- include "sanctum-sidecar.container" (merge (dict "native" true) $args) | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .Values.agent.name }}
      image: {{ include "sanctum-sidecar.imageRef" (dict "image" .Values.agent.image "defaultTag" "") | quote }}
      imagePullPolicy: {{ .Values.agent.image.pullPolicy }}
      {{- with .Values.agent.command }}
      command:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.agent.args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- $env := include "sanctum-sidecar.agentEnv" $args | trim }}
      {{- if or $env .Values.agent.env }}
      env:
        {{- with $env }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .Values.agent.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with .Values.agent.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.agent.ports }}
      ports:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- range $probe := list "startupProbe" "livenessProbe" "readinessProbe" }}
      {{- with index $.Values.agent $probe }}
      {{ $probe }}:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- end }}
      {{- if and $sidecarMode (not .Values.agent.readinessProbe) }}
      # Ready when its sidecar is (one network namespace per pod).
      readinessProbe:
        httpGet:
          path: /readyz
          port: {{ int .Values.sidecar.admin.port }}
          scheme: HTTP
        periodSeconds: 10
        timeoutSeconds: 2
      {{- end }}
      resources:
        {{- toYaml .Values.agent.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.agent.securityContext | nindent 8 }}
      volumeMounts:
        - name: agent-tmp
          mountPath: /tmp
        {{- with include "sanctum-sidecar.agentVolumeMounts" $args | trim }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .Values.agent.volumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- if and $sidecarMode (not $native) }}
    {{- include "sanctum-sidecar.container" (merge (dict "native" false) $args) | nindent 4 }}
    {{- end }}
  volumes:
    - name: agent-tmp
      emptyDir: {}
    {{- with include "sanctum-sidecar.volumes" (merge (dict "role" (ternary "sidecar" "agent" $sidecarMode)) $args) | trim }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with .Values.agent.volumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* A Job spec around the agent's pod template (agent.job). */}}
{{- define "sanctum-sidecar.agentJobSpec" -}}
{{- $job := .Values.agent.job -}}
{{- if not (kindIs "invalid" $job.backoffLimit) }}
backoffLimit: {{ int $job.backoffLimit }}
{{- end }}
{{- if not (kindIs "invalid" $job.activeDeadlineSeconds) }}
activeDeadlineSeconds: {{ int $job.activeDeadlineSeconds }}
{{- end }}
{{- if not (kindIs "invalid" $job.ttlSecondsAfterFinished) }}
ttlSecondsAfterFinished: {{ int $job.ttlSecondsAfterFinished }}
{{- end }}
{{- if not (kindIs "invalid" $job.completions) }}
completions: {{ int $job.completions }}
{{- end }}
{{- if not (kindIs "invalid" $job.parallelism) }}
parallelism: {{ int $job.parallelism }}
{{- end }}
template:
  {{- include "sanctum-sidecar.agentPodTemplate" . | trim | nindent 2 }}
{{- end }}
