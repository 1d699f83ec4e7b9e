#!/usr/bin/env bash
# tfy-api.sh METHOD PATH [JSON_BODY]: one authenticated call to the control plane.
#
# Credentials come from the environment (or KEY=VALUE lines in ./.env, read without executing it):
# TFY_BASE_URL (or TFY_HOST, TFY_API_HOST) and TFY_API_KEY. The key is sent only in the
# Authorization header and never printed. 4xx/5xx exit non-zero with the JSON error body on stdout.
set -euo pipefail

fail() { printf '{"error": "%s"}\n' "$1" >&2; exit 1; }

if [[ -f .env ]]; then
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line#export }"
        [[ "$line" =~ ^(TFY_BASE_URL|TFY_HOST|TFY_API_HOST|TFY_API_KEY)=(.*)$ ]] || continue
        key="${BASH_REMATCH[1]}"; value="${BASH_REMATCH[2]}"
        value="${value%\"}"; value="${value#\"}"; value="${value%\'}"; value="${value#\'}"
        [[ -z "${!key:-}" ]] && export "$key=$value"
    done < .env
fi

base="${TFY_BASE_URL:-${TFY_HOST:-${TFY_API_HOST:-}}}"
[[ -n "$base" ]] || fail "TFY_BASE_URL not set. Export it (or TFY_HOST) or add it to .env"
[[ -n "${TFY_API_KEY:-}" ]] || fail "TFY_API_KEY not set. Export it or add it to .env"
[[ $# -ge 2 ]] || fail "usage: tfy-api.sh METHOD PATH [JSON_BODY]"

method="$1"; path="$2"; body="${3:-}"
case "$method" in GET|POST|PUT|PATCH|DELETE) ;; *) fail "METHOD must be GET, POST, PUT, PATCH, or DELETE" ;; esac
[[ "$path" == /* && "$path" != *..* ]] || fail "PATH must start with / and must not contain .."

args=(--silent --show-error --fail-with-body
      --connect-timeout "${TFY_API_CONNECT_TIMEOUT:-10}" --max-time "${TFY_API_MAX_TIME:-60}"
      -X "$method" "${base%/}${path}"
      -H "Content-Type: application/json")
[[ -n "$body" ]] && args+=(--data "$body")
# The key goes through a header file on stdin so it never appears in the process list.
printf 'Authorization: Bearer %s\n' "$TFY_API_KEY" | curl "${args[@]}" -H @-
