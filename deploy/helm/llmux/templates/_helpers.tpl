{{/* The chart's name. */}}
{{- define "llmux.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's resource name. */}}
{{- define "llmux.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "llmux.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "llmux.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "llmux.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llmux.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "llmux.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "llmux.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "llmux.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llmux.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "llmux.configMapName" -}}
{{- default (include "llmux.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{/* config.yaml: the values' config with general_settings.drain_delay filled in. */}}
{{- define "llmux.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $settings := get $cfg "general_settings" | default dict }}
{{- if not (hasKey $settings "drain_delay") }}
{{- $_ := set $settings "drain_delay" (printf "%ds" (int .Values.drainDelaySeconds)) }}
{{- end }}
{{- $_ := set $cfg "general_settings" $settings }}
{{- toYaml $cfg }}
{{- end }}

{{/* The environment of the gateway and of its config check. */}}
{{- define "llmux.env" -}}
- name: LLMUX_CONFIG
  value: /etc/llmux/config.yaml
- name: HOST
  value: 0.0.0.0
- name: PORT
  value: {{ .Values.service.port | quote }}
- name: LLMUX_JSON_LOGS
  value: {{ .Values.jsonLogs | quote }}
{{- with .Values.masterKey }}
- name: LLMUX_MASTER_KEY
  valueFrom:
    secretKeyRef:
      name: {{ required "masterKey.secretName: the Secret holding the master key" .secretName }}
      key: {{ .secretKey }}
{{- end }}
{{- if .Values.database.secretName }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.secretName }}
      key: {{ .Values.database.secretKey }}
{{- end }}
{{- if .Values.redis.secretName }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.secretName }}
      key: {{ .Values.redis.secretKey }}
{{- else if .Values.redis.url }}
- name: REDIS_URL
  value: {{ .Values.redis.url | quote }}
{{- end }}
{{- range .Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .secretKey }}
{{- end }}
{{- with .Values.env }}
{{ toYaml . }}
{{- end }}
{{- end }}
