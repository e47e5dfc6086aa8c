# Shared by deliver.sh and check.sh (sourced, not run): resolve the outbox folder.
# resolve_outbox <step> <configured> <default>: sets $outbox to <configured> when it is
# non-empty, else to <default>. A configured folder must already exist; the default folder
# is created when missing (only by deliver.sh, which passes create=1).
resolve_outbox() {
  step=$1
  configured=$2
  fallback=$3
  create=${4:-0}

  if [ -n "$configured" ]; then
    if [ ! -d "$configured" ]; then
      echo "$step: outbox folder $configured does not exist; create it or point the variable at an existing folder." >&2
      exit 1
    fi
    outbox=$configured
    return 0
  fi

  if [ "$create" = 1 ]; then
    mkdir -p "$fallback"
  fi
  if [ ! -d "$fallback" ]; then
    echo "$step: outbox folder $fallback does not exist; run the delivery step first." >&2
    exit 1
  fi
  outbox=$fallback
}
