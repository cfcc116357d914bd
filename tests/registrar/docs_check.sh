#!/bin/sh
# Fails when a flag that `rsp-registrar --help` (or `status --help`) lists is missing from the
# man page or from a completion file: the documentation cannot drift from the option table.
# usage: docs_check.sh RSP_REGISTRAR SOURCE_DIR
set -eu
bin=$1
src=$2
man="$src/man/rsp-registrar.1"
bash_c="$src/completions/bash/rsp-registrar"
zsh_c="$src/completions/zsh/_rsp-registrar"
fish_c="$src/completions/fish/rsp-registrar.fish"
for f in "$man" "$bash_c" "$zsh_c" "$fish_c"; do
  [ -f "$f" ] || { echo "missing: $f"; exit 1; }
done

flags=$( { "$bin" --help; "$bin" status --help; } |
         grep -oE '(^|[ ,])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[ ,]//' | sort -u)
[ -n "$flags" ] || { echo "no flags found in --help"; exit 1; }

# The man page escapes hyphens (\-); compare without the backslashes.
man_text=$(sed 's/\\//g' "$man")
status=0
for flag in $flags; do
  name=${flag#-}; name=${name#-}
  printf '%s\n' "$man_text" | grep -qe "$flag" || { echo "man page lacks $flag"; status=1; }
  grep -qe "$flag" "$bash_c" || { echo "bash completion lacks $flag"; status=1; }
  grep -qe "$flag" "$zsh_c" || { echo "zsh completion lacks $flag"; status=1; }
  case $flag in
    --*) grep -qE -e "-l $name( |\$)" "$fish_c" || { echo "fish completion lacks $flag"; status=1; } ;;
    -*)  grep -qE -e "-s $name( |\$)" "$fish_c" || { echo "fish completion lacks $flag"; status=1; } ;;
  esac
done
[ $status -eq 0 ] && echo "$(echo "$flags" | wc -l) flags documented in man page and completions"
exit $status
