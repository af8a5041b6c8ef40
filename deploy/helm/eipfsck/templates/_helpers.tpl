{{/* The labels every object carries (the same as deploy/'s). */}}
{{- define "eipfsck.labels" -}}
app.kubernetes.io/name: eipfsck
{{- end }}

{{- define "eipfsck.namespace" -}}
{{ required "namespace.name is required" .Values.namespace.name }}
{{- end }}

{{- define "eipfsck.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The ServiceAccount every binding names. */}}
{{- define "eipfsck.subject" -}}
- kind: ServiceAccount
  name: eipfsck
  namespace: {{ include "eipfsck.namespace" . }}
{{- end }}
