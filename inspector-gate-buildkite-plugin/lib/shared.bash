# shellcheck shell=bash
# Small helpers shared by the plugin's hooks: reading plugin options and reporting errors.

# The agent names option variables after the directory the plugin is in, without its
# -buildkite-plugin suffix, and says which in BUILDKITE_PLUGIN_NAME: this directory,
# inspector-gate-buildkite-plugin, gives BUILDKITE_PLUGIN_INSPECTOR_GATE_* (older agents only
# knew that name, from the repository). The former location, the repository's `buildkite`
# directory, gives BUILDKITE_PLUGIN_BUILDKITE_*, which every other plugin kept in a directory of
# that name shares: still read, for one release (until v0.2.0), with a deprecation warning.
PLUGIN_NAME=${BUILDKITE_PLUGIN_NAME:-INSPECTOR_GATE}
if [[ ! $PLUGIN_NAME =~ ^[A-Z0-9_]+$ ]]; then PLUGIN_NAME=INSPECTOR_GATE; fi
PLUGIN_PREFIX="BUILDKITE_PLUGIN_${PLUGIN_NAME}_"
if [[ $PLUGIN_NAME == BUILDKITE ]]; then
  printf 'warning: inspector-gate: deprecated plugin location: the options arrive as BUILDKITE_PLUGIN_BUILDKITE_*, a prefix any other plugin in a directory named "buildkite" shares (and overwrites). Reference the plugin as https://github.com/inspector-gate/inspector-gate.git/inspector-gate-buildkite-plugin#<commit> (or vendor that directory); the buildkite location is read until v0.2.0.\n' >&2
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
