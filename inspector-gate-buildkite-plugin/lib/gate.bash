# shellcheck shell=bash
# The plugin's work: map the plugin options to `inspector-gate gate` arguments, run the gate,
# and turn its result into Buildkite's native signals (annotation, meta-data, artifacts).

# gate_args — fill the array GATE_ARGS from the BUILDKITE_PLUGIN_INSPECTOR_GATE_* options.
gate_args() {
  GATE_ARGS=(gate)
  local item name
  # Check every boolean now, before anything runs.
  for name in IGNORE_UNFIXED EXPLOIT_AVAILABLE_ONLY BASELINE_OPTIONAL SOFT_FAIL INSECURE_REGISTRY QUIET \
    VERBOSE DRY_RUN ANNOTATE UPLOAD_ARTIFACTS; do
    option_bool "$name" false || :
  done

  while IFS= read -r item; do [[ -n $item ]] && GATE_ARGS+=("--image=$item"); done < <(option_list IMAGE)
  while IFS= read -r item; do [[ -n $item ]] && GATE_ARGS+=("--push-from=$item"); done < <(option_list PUSH_FROM)
  while IFS= read -r item; do [[ -n $item ]] && GATE_ARGS+=("--tag=$item"); done < <(option_list TAG)
  for name in POLICY POLICY_FLOOR MAX_CRITICAL MAX_HIGH MAX_MEDIUM MAX_LOW MAX_INFORMATIONAL \
    MAX_UNTRIAGED FAIL_ON; do
    scalar "$name"
  done
  filter_flag IGNORE_UNFIXED --ignore-unfixed
  scalar MIN_EPSS
  scalar MIN_INSPECTOR_SCORE
  filter_flag EXPLOIT_AVAILABLE_ONLY --exploit-available-only
  while IFS= read -r item; do [[ -n $item ]] && GATE_ARGS+=("--ignore=$item"); done < <(option_list IGNORE)
  while IFS= read -r item; do [[ -n $item ]] && GATE_ARGS+=("--vex=$item"); done < <(option_list VEX)
  scalar TIMEOUT
  scalar ON_TIMEOUT
  scalar POLL_INTERVAL
  scalar SETTLE
  GATE_ARGS+=("--report-dir=$(report_dir)")
  for name in FORMAT APPROVE PIPELINE_EXECUTION_ID REPORT_URL IMAGE_DEFINITIONS CONTAINER_NAME \
    IMAGE_DETAIL BASELINE; do
    scalar "$name"
  done
  if option_bool BASELINE_OPTIONAL false; then GATE_ARGS+=(--baseline-optional); fi
  if option_bool SOFT_FAIL false; then GATE_ARGS+=(--soft-fail); fi
  scalar ATTEST
  for name in REGION PROFILE ROLE_ARN ROLE_EXTERNAL_ID API_RATE REGISTRY_URL; do
    scalar "$name"
  done
  if option_bool INSECURE_REGISTRY false; then GATE_ARGS+=(--insecure-registry); fi
  if option_bool QUIET false; then GATE_ARGS+=(-q); fi
  if option_bool VERBOSE false; then GATE_ARGS+=(-v); fi
  scalar COLOR
  if option_bool DRY_RUN false; then GATE_ARGS+=(--dry-run); fi

  if ! printf '%s\n' "${GATE_ARGS[@]}" | grep -Eq '^--image='; then
    plugin_error "set 'image' in the plugin's configuration (with push-from: the destination)"
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

# filter_flag NAME FLAG — a policy filter option: FLAG when true, FLAG=false when set to false (so
# the CI owner can turn off a filter the repository's policy file turns on), nothing when unset
# (the policy file decides).
filter_flag() {
  [[ -n $(option "$1") ]] || return 0
  if option_bool "$1" false; then GATE_ARGS+=("$2"); else GATE_ARGS+=("$2=false"); fi
}

# slug TEXT [MAX] — TEXT with runs of anything but [A-Za-z0-9._-] as one "-", trimmed.
slug() {
  local s
  s=$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '-' | tr -s '-')
  s=${s#-}
  s=${s%-}
  s=${s:0:${2:-100}}
  printf '%s' "${s%-}"
}

# step_name — this step in meta-data keys, report paths and annotation contexts: its key, else
# its label, else its id. Stable across retries; two gate steps in one build differ.
step_name() {
  local name
  name=$(slug "${BUILDKITE_STEP_KEY:-}" 60)
  [[ -n $name ]] || name=$(slug "${BUILDKITE_LABEL:-}" 60)
  [[ -n $name ]] || name=$(slug "${BUILDKITE_STEP_ID:-step}" 60)
  printf '%s' "$name"
}

# images_name — the gated image set (or the push source), for paths and contexts.
images_name() {
  local subject
  subject=$( (option_list IMAGE; option_list PUSH_FROM) | tr '\n' ' ')
  slug "$subject" 100
}

# report_dir — where the gate writes its reports (relative paths make tidy artifact names). The
# default names the step and the images, so two gate runs in one job never share a directory.
report_dir() {
  option REPORT_DIR "inspector-gate-reports/$(step_name)/$(images_name)"
}

# annotation_context — one annotation per step and gated image set, stable across retries.
annotation_context() {
  printf 'inspector-gate-%s-%s' "$(step_name)" "$(images_name)"
}

# redact TEXT — TEXT with the userinfo of any URL removed (https://user:token@host -> https://host).
redact() {
  printf '%s' "$1" | sed -E 's#([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@[:space:]]*@#\1#g'
}

# logged_args — GATE_ARGS as the log shows them: without credentials.
logged_args() {
  local arg out=()
  for arg in "${GATE_ARGS[@]}"; do out+=("$(redact "$arg")"); done
  printf '%s' "${out[*]}"
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

# meta KEY VALUE — set one meta-data key, logged; never fails the step.
meta() {
  if buildkite-agent meta-data set "$1" "$2"; then
    echo "meta-data $1=$(redact "$2")"
  else
    echo "inspector-gate: could not set meta-data $1" >&2
  fi
}

# report STATUS HANDOFF_FILE STDERR_FILE — annotate (with the gate's own cause line for exits
# 2/3/4), set meta-data namespaced by step and image, upload the reports and the hand-off file.
# Never fails the step by itself: the step's result is the gate's exit code.
report() {
  local status=$1 handoff=$2 stderr_file=$3 dir summary context style body cause step
  dir=$(report_dir)
  summary="$dir/summary.md"
  context=$(annotation_context)
  style=$(annotation_style "$status")
  step=$(step_name)
  read_handoff "$handoff"
  [[ -n $GATE_VERDICT ]] || GATE_VERDICT=$(verdict_for "$status")
  cause=
  if [[ $status -ge 2 && -f $stderr_file ]]; then
    cause=$(grep -E '^error: ' "$stderr_file" | tail -n 1 | cut -c 8- || true)
    cause=$(redact "${cause%$'\r'}")
  fi

  if option_bool ANNOTATE true; then
    body=$(mktemp)
    if [[ -n $cause ]]; then
      # The cause first, as the gate printed it (backticks would end the code span).
      # shellcheck disable=SC2016 # literal backticks: Markdown
      printf '**inspector-gate exited with %s (%s):** `%s`\n\n' "$status" "$GATE_VERDICT" "${cause//\`/\'}" >"$body"
    fi
    if [[ -s $summary ]]; then
      # Annotations hold at most 1 MiB.
      head -c 1000000 "$summary" >>"$body"
      if [[ $(wc -c <"$summary") -gt 1000000 ]]; then
        printf '\n\n_Truncated: the full summary is in the %s artifact._\n' "$summary" >>"$body"
      fi
    elif [[ $status -eq 0 ]]; then
      printf '### inspector-gate\n\nPassed (no summary was written: dry run?).\n' >>"$body"
    elif [[ -z $cause ]]; then
      printf '### inspector-gate\n\nExited with code %s (%s) before writing a summary: see the job log.\n' \
        "$status" "$GATE_VERDICT" >>"$body"
    fi
    buildkite-agent annotate --style "$style" --context "$context" <"$body" ||
      echo "inspector-gate: could not create the annotation" >&2
    rm -f "$body"
  fi

  # Namespaced by step (and by image), so two gate steps in one build never overwrite each
  # other: inspector-gate:<step>:verdict, inspector-gate:<step>:<image>:image-uri, ...
  meta "inspector-gate:$step:verdict" "$GATE_VERDICT"
  if [[ -n $IMAGE_DIGEST ]]; then meta "inspector-gate:$step:digest" "$IMAGE_DIGEST"; fi
  if [[ -n $IMAGE_URI ]]; then meta "inspector-gate:$step:image-uri" "$IMAGE_URI"; fi
  local -a images=() uris=() digests=()
  local image
  # (no mapfile: macOS agents run bash 3.2)
  while IFS= read -r image; do if [[ -n $image ]]; then images+=("$image"); fi; done < <(option_list IMAGE)
  read -r -a uris <<<"$IMAGE_URI"
  read -r -a digests <<<"$IMAGE_DIGEST"
  # The hand-off lists one URI per distinct deployed image, in --image order: pair them only
  # when nothing was merged.
  if [[ ${#uris[@]} -gt 0 && ${#uris[@]} -eq ${#images[@]} ]]; then
    local i key
    for i in "${!images[@]}"; do
      key="inspector-gate:$step:$(slug "${images[$i]}" 150)"
      meta "$key:image-uri" "${uris[$i]}"
      if [[ ${#digests[@]} -eq ${#images[@]} ]]; then meta "$key:digest" "${digests[$i]}"; fi
    done
  fi

  if [[ -f $handoff && -d $dir ]]; then
    cp "$handoff" "$dir/inspector-gate.env" 2>/dev/null || true
  fi
  if option_bool UPLOAD_ARTIFACTS true && [[ -d $dir ]] && [[ -n $(ls -A "$dir") ]]; then
    buildkite-agent artifact upload "$dir/*" ||
      echo "inspector-gate: could not upload the reports" >&2
  fi
  return 0
}
