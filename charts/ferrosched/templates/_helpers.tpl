{{/* Chart name, overridable. */}}
{{- define "ferrosched.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the operator's objects. It never has the form "ferrosched-<x>", which the
operator gives its operands (x is a profile name), so the two cannot collide.
*/}}
{{- define "ferrosched.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels that select the operator's pods. */}}
{{- define "ferrosched.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ferrosched.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels of every object of the release. */}}
{{- define "ferrosched.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "ferrosched.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ferrosched
{{- end }}

{{/* Labels of the operator's objects. */}}
{{- define "ferrosched.labels" -}}
{{ include "ferrosched.commonLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The image, tag defaulting to the chart's appVersion. */}}
{{- define "ferrosched.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Where the operands live: operands.namespace, else the release namespace. */}}
{{- define "ferrosched.operandNamespace" -}}
{{- .Values.operands.namespace | default .Release.Namespace }}
{{- end }}
