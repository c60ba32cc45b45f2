# shellcheck shell=bash
# Small helpers shared by the plugin's hooks: reading plugin options and reporting errors.

# The agent names option variables after the plugin's location (a vendored directory or a
# repository subdirectory called `buildkite` gives BUILDKITE_PLUGIN_BUILDKITE_*) and says which
# in BUILDKITE_PLUGIN_NAME; older agents only knew the repository name (inspector-gate).
PLUGIN_PREFIX="BUILDKITE_PLUGIN_${BUILDKITE_PLUGIN_NAME:-INSPECTOR_GATE}_"
if [[ ! $PLUGIN_PREFIX =~ ^BUILDKITE_PLUGIN_[A-Z0-9_]+_$ ]]; then
  PLUGIN_PREFIX="BUILDKITE_PLUGIN_INSPECTOR_GATE_"
fi

# plugin_error MESSAGE — an error block the Buildkite log expands (+++), on stderr.
plugin_error() {
  printf '+++ :rotating_light: inspector-gate: %s\n' "$*" >&2
}

# option NAME [DEFAULT] — a scalar option (NAME upper-case, e.g. PUSH_FROM).
option() {
  local var="${PLUGIN_PREFIX}$1"
  printf '%s' "${!var:-${2:-}}"
}

# option_list NAME — a string or array option, one value per line (array: NAME_0, NAME_1, …).
option_list() {
  local var="${PLUGIN_PREFIX}$1" i=0 item
  if [[ -n ${!var:-} ]]; then
    printf '%s\n' "${!var}"
  fi
  while :; do
    item="${var}_$i"
    [[ -n ${!item+set} ]] || break
    printf '%s\n' "${!item}"
    i=$((i + 1))
  done
}

# option_bool NAME DEFAULT — succeeds when the boolean option is true.
option_bool() {
  local value
  value=$(option "$1" "$2")
  case "$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')" in
    true | 1 | yes | on) return 0 ;;
    false | 0 | no | off | '') return 1 ;;
    *)
      local name
      name=$(printf '%s' "$1" | tr '[:upper:]_' '[:lower:]-')
      plugin_error "option $name must be true or false, not '$value'"
      exit 2
      ;;
  esac
}
