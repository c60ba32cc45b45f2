# shellcheck shell=bash
# The plugin's work: map the plugin options to `inspector-gate gate` arguments, run the gate,
# and turn its result into Buildkite's native signals (annotation, meta-data, artifacts).

# gate_args — fill the array GATE_ARGS from the BUILDKITE_PLUGIN_INSPECTOR_GATE_* options.
gate_args() {
  GATE_ARGS=(gate)
  local item name
  # Check every boolean now, before anything runs.
  for name in IGNORE_UNFIXED EXPLOIT_AVAILABLE_ONLY QUIET VERBOSE DRY_RUN ANNOTATE UPLOAD_ARTIFACTS; do
    option_bool "$name" false || :
  done

  while IFS= read -r item; do [[ -n $item ]] && GATE_ARGS+=("--image=$item"); done < <(option_list IMAGE)
  scalar PUSH_FROM
  while IFS= read -r item; do [[ -n $item ]] && GATE_ARGS+=("--tag=$item"); done < <(option_list TAG)
  for name in POLICY MAX_CRITICAL MAX_HIGH MAX_MEDIUM MAX_LOW MAX_UNTRIAGED FAIL_ON; do
    scalar "$name"
  done
  if option_bool IGNORE_UNFIXED false; then GATE_ARGS+=(--ignore-unfixed); fi
  scalar MIN_EPSS
  scalar MIN_INSPECTOR_SCORE
  if option_bool EXPLOIT_AVAILABLE_ONLY false; then GATE_ARGS+=(--exploit-available-only); fi
  while IFS= read -r item; do [[ -n $item ]] && GATE_ARGS+=("--ignore=$item"); done < <(option_list IGNORE)
  scalar TIMEOUT
  scalar ON_TIMEOUT
  scalar POLL_INTERVAL
  scalar SETTLE
  GATE_ARGS+=("--report-dir=$(report_dir)")
  for name in FORMAT APPROVE PIPELINE_EXECUTION_ID REPORT_URL IMAGE_DEFINITIONS CONTAINER_NAME \
    IMAGE_DETAIL REGION PROFILE ROLE_ARN REGISTRY_URL; do
    scalar "$name"
  done
  if option_bool QUIET false; then GATE_ARGS+=(-q); fi
  if option_bool VERBOSE false; then GATE_ARGS+=(-v); fi
  scalar COLOR
  if option_bool DRY_RUN false; then GATE_ARGS+=(--dry-run); fi

  if ! printf '%s\n' "${GATE_ARGS[@]}" | grep -Eq '^--(image|push-from)='; then
    plugin_error "set 'image' (or 'push-from' and 'image') in the plugin's configuration"
    return 2
  fi
  return 0
}

# scalar NAME — append --name=value for a set scalar option.
scalar() {
  local value flag
  value=$(option "$1")
  [[ -n $value ]] || return 0
  flag=$(printf '%s' "$1" | tr '[:upper:]_' '[:lower:]-')
  GATE_ARGS+=("--$flag=$value")
}

# report_dir — where the gate writes its reports (relative paths make tidy artifact names).
report_dir() {
  option REPORT_DIR inspector-gate-reports
}

# annotation_context — one annotation per gated image set, stable across retries of the step.
annotation_context() {
  local subject
  subject=$( (option_list IMAGE; option PUSH_FROM) | tr '\n' ' ')
  subject=$(printf '%s' "$subject" | tr -c 'A-Za-z0-9._-' '-' | tr -s '-')
  subject=${subject#-}
  subject=${subject%-}
  printf 'inspector-gate-%s' "${subject:0:100}"
}

# annotation_style EXIT_CODE — success on pass, warning when inconclusive, error otherwise.
annotation_style() {
  case $1 in
    0) echo success ;;
    3) echo warning ;;
    *) echo error ;;
  esac
}

# verdict_for EXIT_CODE — the verdict word when the gate did not say it itself.
verdict_for() {
  case $1 in
    0) echo pass ;;
    1) echo fail ;;
    3) echo inconclusive ;;
    *) echo error ;;
  esac
}

# unquote VALUE — undo the gate's shell quoting of an env-file value ('a b', with '\'' for ').
unquote() {
  local v=$1
  if [[ ${#v} -ge 2 && $v == \'*\' ]]; then
    v=${v:1:${#v}-2}
    v=${v//\'\\\'\'/\'}
  fi
  printf '%s' "$v"
}

# read_handoff FILE — read IMAGE_DIGEST, IMAGE_URI and GATE_VERDICT from the KEY=VALUE file
# the gate writes (never sourced: only these keys; values unquoted, never evaluated). Several
# images give space-separated values; the last line for a key wins.
read_handoff() {
  IMAGE_DIGEST=
  IMAGE_URI=
  GATE_VERDICT=
  [[ -f $1 ]] || return 0
  local line key value
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    key=${line%%=*}
    value=$(unquote "${line#*=}")
    [[ $line == *=* ]] || continue
    case $key in
      IMAGE_DIGEST) IMAGE_DIGEST=$value ;;
      IMAGE_URI) IMAGE_URI=$value ;;
      GATE_VERDICT) GATE_VERDICT=$value ;;
    esac
  done <"$1"
}

# report STATUS HANDOFF_FILE — annotate, set meta-data, upload the reports. Never fails the
# step by itself: the step's result is the gate's exit code.
report() {
  local status=$1 handoff=$2 dir summary context style body
  dir=$(report_dir)
  summary="$dir/summary.md"
  context=$(annotation_context)
  style=$(annotation_style "$status")
  read_handoff "$handoff"
  [[ -n $GATE_VERDICT ]] || GATE_VERDICT=$(verdict_for "$status")

  if option_bool ANNOTATE true; then
    body=$(mktemp)
    if [[ -s $summary ]]; then
      # Annotations hold at most 1 MiB.
      head -c 1000000 "$summary" >"$body"
      if [[ $(wc -c <"$summary") -gt 1000000 ]]; then
        printf '\n\n_Truncated: the full summary is in the %s artifact._\n' "$summary" >>"$body"
      fi
    elif [[ $status -eq 0 ]]; then
      printf '### inspector-gate\n\nPassed (no summary was written: dry run?).\n' >"$body"
    else
      printf '### inspector-gate\n\nExited with code %s (%s) before writing a summary: see the job log.\n' \
        "$status" "$GATE_VERDICT" >"$body"
    fi
    buildkite-agent annotate --style "$style" --context "$context" <"$body" ||
      echo "inspector-gate: could not create the annotation" >&2
    rm -f "$body"
  fi

  buildkite-agent meta-data set inspector-gate-verdict "$GATE_VERDICT" ||
    echo "inspector-gate: could not set meta-data" >&2
  if [[ -n $IMAGE_DIGEST ]]; then
    buildkite-agent meta-data set inspector-gate-digest "$IMAGE_DIGEST" ||
      echo "inspector-gate: could not set meta-data" >&2
  fi
  if [[ -n $IMAGE_URI ]]; then
    buildkite-agent meta-data set inspector-gate-image-uri "$IMAGE_URI" ||
      echo "inspector-gate: could not set meta-data" >&2
  fi

  if option_bool UPLOAD_ARTIFACTS true && [[ -d $dir ]] && [[ -n $(ls -A "$dir") ]]; then
    buildkite-agent artifact upload "$dir/*" ||
      echo "inspector-gate: could not upload the reports" >&2
  fi
  return 0
}
