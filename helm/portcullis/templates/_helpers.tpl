{{/*
Names and labels. Every object is named from portcullis.fullname (the release name, or
release-chart when the release name does not contain the chart name), cut to 63 characters.
*/}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "portcullis.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A name for a second object of the release ("redis", "forward-auth"), kept within 63 characters. */}}
{{- define "portcullis.componentName" -}}
{{- $root := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- printf "%s-%s" (include "portcullis.fullname" $root | trunc (int (sub 62 (len $suffix)))) $suffix | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The gateway pods; the bundled Redis carries component: redis instead. */}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "portcullis.redis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.image" -}}
{{- $tag := toString (default .Chart.AppVersion .Values.image.tag) -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The Secret mounted at /run/secrets/portcullis: existingSecret, else the release's full name. */}}
{{- define "portcullis.secretName" -}}
{{- default (include "portcullis.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "portcullis.redis.host" -}}
{{- printf "%s.%s.svc.%s" (include "portcullis.componentName" (list . "redis")) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* Where the gateway's Service answers inside the cluster (the forward-auth address). */}}
{{- define "portcullis.serviceUrl" -}}
{{- printf "http://%s.%s.svc.%s:%d" (include "portcullis.fullname" .) .Release.Namespace .Values.clusterDomain (int .Values.service.port) -}}
{{- end -}}

{{/* server.prefix as the gateway will read it (its default is /.portcullis). */}}
{{- define "portcullis.prefix" -}}
{{- $server := get (.Values.config | default dict) "server" | default dict -}}
{{- get $server "prefix" | default "/.portcullis" -}}
{{- end -}}

{{- define "portcullis.publicUrl" -}}
{{- $server := get (.Values.config | default dict) "server" | default dict -}}
{{- get $server "publicUrl" | default "" | trimSuffix "/" -}}
{{- end -}}

{{- define "portcullis.publicHost" -}}
{{- (urlParse (include "portcullis.publicUrl" .)).host -}}
{{- end -}}

{{/* The seconds the gateway drains for after SIGTERM (server.shutdownGraceSeconds, default 10). */}}
{{- define "portcullis.shutdownGraceSeconds" -}}
{{- $server := get (.Values.config | default dict) "server" | default dict -}}
{{- if hasKey $server "shutdownGraceSeconds" -}}
{{- int (get $server "shutdownGraceSeconds") -}}
{{- else -}}
10
{{- end -}}
{{- end -}}

{{/* preStop sleep + drain + a margin, unless set explicitly (portcullis.validate checks it is enough). */}}
{{- define "portcullis.terminationGracePeriodSeconds" -}}
{{- if .Values.terminationGracePeriodSeconds -}}
{{- int .Values.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (int (include "portcullis.shutdownGraceSeconds" .)) (int .Values.lifecycle.preStopSleepSeconds) 5 -}}
{{- end -}}
{{- end -}}

{{/* Hosts of the example Ingresses that the forward-auth setup protects. */}}
{{- define "portcullis.protectedHosts" -}}
{{- $hosts := list -}}
{{- if .Values.ingressNginx.enabled -}}
{{- range .Values.ingressNginx.apps }}{{ $hosts = append $hosts .host }}{{ end -}}
{{- end -}}
{{- if .Values.traefik.enabled -}}
{{- range .Values.traefik.apps }}{{ $hosts = append $hosts .host }}{{ end -}}
{{- end -}}
{{- toJson (uniq $hosts) -}}
{{- end -}}

{{/* session.redis.url from the chart's values, or "" when the values name no Redis. */}}
{{- define "portcullis.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{- if .Values.redis.auth.existingSecret -}}
{{- printf "redis://:${PORTCULLIS_REDIS_PASSWORD}@%s:6379" (include "portcullis.redis.host" .) -}}
{{- else -}}
{{- printf "redis://%s:6379" (include "portcullis.redis.host" .) -}}
{{- end -}}
{{- else if .Values.redis.externalUrlSecret.name -}}
${PORTCULLIS_REDIS_URL}
{{- else if .Values.redis.externalUrl -}}
{{- .Values.redis.externalUrl -}}
{{- end -}}
{{- end -}}

{{/*
The gateway configuration written to the ConfigMap: values.config as the user wrote it, plus what
the chart owns or derives. The chart sets server.listen (containerPort) and server.healthListen
(health.port), adds the protected hosts to server.allowedRedirectHosts, points session.secretFile
at the mounted Secret and storage.dataDir at the data volume unless given, fills session.redis.url
and storage.postgres.url from the redis/postgres values, and in sidecar mode with no routes adds
one route to the app on localhost.
*/}}
{{- define "portcullis.config" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}

{{- $server := get $config "server" | default dict -}}
{{- $_ := set $server "listen" (printf "0.0.0.0:%d" (int .Values.containerPort)) -}}
{{- if gt (int .Values.health.port) 0 -}}
{{- $_ := set $server "healthListen" (printf "0.0.0.0:%d" (int .Values.health.port)) -}}
{{- end -}}
{{- $redirectHosts := get $server "allowedRedirectHosts" | default list -}}
{{- $publicHost := include "portcullis.publicHost" . -}}
{{- range (include "portcullis.protectedHosts" . | fromJsonArray) -}}
{{- if and (ne . $publicHost) (not (has . $redirectHosts)) -}}
{{- $redirectHosts = append $redirectHosts . -}}
{{- end -}}
{{- end -}}
{{- if $redirectHosts -}}
{{- $_ := set $server "allowedRedirectHosts" $redirectHosts -}}
{{- end -}}
{{- $_ := set $config "server" $server -}}

{{- $session := get $config "session" | default dict -}}
{{- if not (or (hasKey $session "secret") (hasKey $session "secretFile")) -}}
{{- $_ := set $session "secretFile" "/run/secrets/portcullis/session-secret" -}}
{{- end -}}
{{- $redisUrl := include "portcullis.redisUrl" . -}}
{{- if $redisUrl -}}
{{- $_ := set $session "store" "redis" -}}
{{- $redis := get $session "redis" | default dict -}}
{{- $_ := set $redis "url" $redisUrl -}}
{{- $_ := set $session "redis" $redis -}}
{{- end -}}
{{- $_ := set $config "session" $session -}}

{{- $storage := get $config "storage" | default dict -}}
{{- if not (hasKey $storage "dataDir") -}}
{{- $_ := set $storage "dataDir" "/var/lib/portcullis" -}}
{{- end -}}
{{- if .Values.postgres.urlSecret.name -}}
{{- $postgres := get $storage "postgres" | default dict -}}
{{- $_ := set $postgres "url" "${PORTCULLIS_POSTGRES_URL}" -}}
{{- $_ := set $storage "postgres" $postgres -}}
{{- end -}}
{{- $_ := set $config "storage" $storage -}}

{{- if and .Values.sidecar.enabled (not (get $config "routes")) -}}
{{- $route := dict "id" "app" "path" "/" "upstream" (printf "http://127.0.0.1:%d" (int .Values.sidecar.appPort)) "allow" (dict "authenticated" true) -}}
{{- $_ := set $config "routes" (list $route) -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The identity headers the gateway answers with, as config.headers names them. */}}
{{- define "portcullis.responseHeaders" -}}
{{- $headers := get (.Values.config | default dict) "headers" | default dict -}}
{{- $names := list (get $headers "user" | default "X-Auth-Request-User") (get $headers "email" | default "X-Auth-Request-Email") (get $headers "groups" | default "X-Auth-Request-Groups") (get $headers "name" | default "X-Auth-Request-Name") (get $headers "assertion" | default "X-Portcullis-Assertion") -}}
{{- toJson $names -}}
{{- end -}}

{{/*
Refuses value combinations that would deploy a gateway that cannot work. Each message names the
value to change. Rendered (to nothing) by templates/validate.yaml.
*/}}
{{- define "portcullis.validate" -}}
{{- $config := include "portcullis.config" . | fromYaml -}}
{{- $user := .Values.config | default dict -}}
{{- $userServer := get $user "server" | default dict -}}
{{- $userSession := get $user "session" | default dict -}}
{{- $server := get $config "server" -}}
{{- $session := get $config "session" -}}
{{- $assertion := get $config "assertion" | default dict -}}

{{- if not (include "portcullis.publicUrl" .) -}}
{{- fail "config.server.publicUrl is required: the URL users reach the gateway at, e.g. https://apps.example.com" -}}
{{- end -}}
{{- $listen := printf "0.0.0.0:%d" (int .Values.containerPort) -}}
{{- if and (hasKey $userServer "listen") (ne (toString (get $userServer "listen")) $listen) -}}
{{- fail (printf "config.server.listen is set by the chart (%s, from containerPort): remove it and set containerPort instead" $listen) -}}
{{- end -}}
{{- if hasKey $userServer "healthListen" -}}
{{- fail "config.server.healthListen is set by the chart from health.port: remove it and set health.port instead" -}}
{{- end -}}

{{- if and .Values.existingSecret .Values.secret.create -}}
{{- fail "set either existingSecret (a Secret you manage) or secret.create (the chart makes one), not both" -}}
{{- end -}}

{{- $redisSources := 0 -}}
{{- if .Values.redis.enabled }}{{ $redisSources = add1 $redisSources }}{{ end -}}
{{- if .Values.redis.externalUrl }}{{ $redisSources = add1 $redisSources }}{{ end -}}
{{- if .Values.redis.externalUrlSecret.name }}{{ $redisSources = add1 $redisSources }}{{ end -}}
{{- if gt $redisSources 1 -}}
{{- fail "choose one of redis.enabled, redis.externalUrl and redis.externalUrlSecret" -}}
{{- end -}}
{{- if and (eq $redisSources 1) (get (get $userSession "redis" | default dict) "url") -}}
{{- fail "config.session.redis.url is set while the redis values also name a Redis: keep one" -}}
{{- end -}}

{{- $multi := or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled -}}
{{- if $multi -}}
{{- if ne (get $session "store" | default "memory") "redis" -}}
{{- fail "more than one replica needs the Redis session store (a login's callback may reach any replica): set redis.enabled, redis.externalUrl or redis.externalUrlSecret" -}}
{{- end -}}
{{- if not (or (hasKey $assertion "signingKey") (hasKey $assertion "signingKeyFile")) -}}
{{- fail "more than one replica needs one shared assertion key: set config.assertion.signingKeyFile (e.g. /run/secrets/portcullis/assertion-signing-key.pem, an EC P-256 key in the Secret); otherwise each replica signs with a key the others do not publish" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" -}}
{{- end -}}

{{- if or .Values.ingressNginx.enabled .Values.traefik.enabled -}}
{{- $trust := get $server "trustProxy" | default 0 -}}
{{- if or (not $trust) (eq (toString $trust) "0") -}}
{{- fail "forward-auth (ingressNginx/traefik) needs config.server.trustProxy: the ingress controller's pod CIDR(s), e.g. [10.244.0.0/16]; the gateway believes X-Original-URL and X-Forwarded-* only from those peers" -}}
{{- end -}}
{{- if not (kindIs "slice" $trust) -}}
{{- fail "forward-auth (ingressNginx/traefik) needs config.server.trustProxy as a list of the ingress controller's CIDRs, e.g. [10.244.0.0/16]: a hop count trusts whichever pod connects" -}}
{{- end -}}
{{- $publicHost := include "portcullis.publicHost" . -}}
{{- $cookieDomain := get $session "cookieDomain" | default "" | trimPrefix "*" | trimPrefix "." -}}
{{- range (include "portcullis.protectedHosts" . | fromJsonArray) -}}
{{- if and (ne . $publicHost) (not (and $cookieDomain (hasSuffix (printf ".%s" $cookieDomain) .))) -}}
{{- fail (printf "the protected host %s differs from publicUrl's host %s: set config.session.cookieDomain to a parent domain of both (e.g. .example.com) so the session cookie reaches %s" . $publicHost .) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- if .Values.sidecar.enabled -}}
{{- if not (get (.Values.sidecar.app | default dict) "image") -}}
{{- fail "sidecar.enabled needs sidecar.app: the app's container (at least name and image)" -}}
{{- end -}}
{{- if or (eq (int .Values.sidecar.appPort) (int .Values.containerPort)) (eq (int .Values.sidecar.appPort) (int .Values.health.port)) -}}
{{- fail "sidecar.appPort must differ from containerPort and health.port (the containers share the pod's network)" -}}
{{- end -}}
{{- end -}}

{{- $minimum := add (int (include "portcullis.shutdownGraceSeconds" .)) (int .Values.lifecycle.preStopSleepSeconds) -}}
{{- if le (int (include "portcullis.terminationGracePeriodSeconds" .)) $minimum -}}
{{- fail (printf "terminationGracePeriodSeconds must exceed lifecycle.preStopSleepSeconds + config.server.shutdownGraceSeconds (%d), or the kubelet kills the gateway mid-drain" $minimum) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (not (dig "requests" "cpu" "" (.Values.resources | default dict))) (.Values.autoscaling.targetCPUUtilizationPercentage) -}}
{{- fail "autoscaling on CPU utilization needs resources.requests.cpu" -}}
{{- end -}}
{{- end -}}
