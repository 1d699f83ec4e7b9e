#!/usr/bin/env bash
# tfy-version.sh [sdk|cli|python|all]: installed versions as JSON, for the skill's pre-flight check.
set -euo pipefail
what="${1:-all}"

version_of() {  # first x.y.z in a command's output, or empty
    "$@" 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+[A-Za-z0-9.+-]*' | head -n 1 || true
}
entry() {  # name version
    if [[ -n "$2" ]]; then printf '"%s": {"installed": true, "version": "%s"}' "$1" "$2"
    else printf '"%s": {"installed": false}' "$1"; fi
}

sdk=""; cli=""; gateway=""; py=""
python_bin="$(command -v python3 || command -v python || true)"
if [[ -n "$python_bin" ]]; then
    py="$("$python_bin" -c 'import platform; print(platform.python_version())')"
    sdk="$("$python_bin" -m pip show truefoundry 2>/dev/null | sed -n 's/^Version: //p' || true)"
fi
command -v tfy >/dev/null && cli="$(version_of tfy --version)"
command -v tfy-gateway >/dev/null && gateway="$(version_of tfy-gateway --version)"
compatible=false
[[ "$py" =~ ^3\.(1[0-4])\. ]] && compatible=true

parts=()
[[ "$what" == all || "$what" == sdk ]] && parts+=("$(entry sdk "$sdk")")
[[ "$what" == all || "$what" == cli ]] && parts+=("$(entry cli "$cli")" "$(entry tfy_gateway "$gateway")")
[[ "$what" == all || "$what" == python ]] && parts+=("\"python\": {\"version\": \"${py:-none}\", \"compatible\": $compatible}")
(IFS=,; printf '{%s}\n' "${parts[*]}")
