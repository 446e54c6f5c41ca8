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

{{/* Image of profiles without spec.image: operands.schedulerImage, else the chart's. */}}
{{- define "ferrosched.schedulerImage" -}}
{{- .Values.operands.schedulerImage | default (include "ferrosched.image" .) }}
{{- end }}

{{/*
Image repositories (or prefixes ending in "/") a profile's spec.image may use, as JSON:
operands.allowedImages, else the repository of the scheduler image (its "@digest" cut,
then its ":tag" when the last ":" comes after the last "/") — the operator's own default.
*/}}
{{- define "ferrosched.allowedImages" -}}
{{- if .Values.operands.allowedImages }}
{{- toJson .Values.operands.allowedImages }}
{{- else }}
{{- $untagged := regexReplaceAll "@.*$" (include "ferrosched.schedulerImage" .) "" }}
{{- $repo := regexReplaceAll ":[^/:]*$" $untagged "" }}
{{- list $repo | toJson }}
{{- end }}
{{- end }}

{{/*
Names of the chart's namespaced objects in the operands' namespace, comma-separated:
the operator refuses a profile whose children ("ferrosched-<profile>", ...) would take
one. Keep in step with the templates (tests/tests/chart.rs derives the list from the
rendering and compares).
*/}}
{{- define "ferrosched.reservedNames" -}}
{{- $full := include "ferrosched.fullname" . -}}
{{- $ops := include "ferrosched.operandNamespace" . -}}
{{- /* Lease; Role and RoleBinding: always in the operands' namespace. */ -}}
{{- /* ServiceAccount, Deployment, Service, PDB: $full, in the release namespace. */ -}}
{{- $names := list "ferrosched-operator" $full -}}
{{- /* The ServiceMonitors: always in the operands' namespace (next to the CA bundle). */ -}}
{{- if .Values.metrics.serviceMonitor.enabled -}}
{{- $names = append $names (printf "%s-schedulers" $full) -}}
{{- end -}}
{{- if and .Values.metrics.dashboard.enabled (eq (.Values.metrics.dashboard.namespace | default .Release.Namespace) $ops) -}}
{{- $names = append $names (printf "%s-dashboard" $full) -}}
{{- end -}}
{{- /* The PrometheusRule is named $full. */ -}}
{{- $names | uniq | sortAlpha | join "," -}}
{{- end }}
