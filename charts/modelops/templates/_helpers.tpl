{{- define "modelops.fullname" -}}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelops.serviceAccountName" -}}
{{- default (include "modelops.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "modelops.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "modelops.labels" -}}
app.kubernetes.io/name: modelops
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "modelops.selectorLabels" -}}
app.kubernetes.io/name: modelops
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "modelops.monitoringLabels" -}}
{{- include "modelops.labels" . }}
{{- with .Values.prometheus.release }}
release: {{ . | quote }}
{{- end }}
{{- with .Values.prometheus.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "modelops.alertLabels" -}}
severity: {{ .severity }}
{{- with .rules.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- /*
Events counted by a counter within a window, per group. A labelled counter is born at its first
event (value 1), which increase() cannot see; a series that exists now but not a window ago is
such a birth.
*/ -}}
{{- define "modelops.newEvents" -}}
sum by ({{ .by }}) ((increase({{ .series }}[{{ .window }}]) > 0) or ({{ .series }} unless {{ .series }} offset {{ .window }})) > 0
{{- end -}}
