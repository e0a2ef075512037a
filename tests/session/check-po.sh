#!/bin/sh
# Every translatable message in the sources has a translation in the catalog.
# Usage: check-po.sh XGETTEXT MSGCMP PO OUT.pot XGETTEXT-ARGS... -- SOURCES...
set -eu
xgettext=$1 msgcmp=$2 po=$3 pot=$4
shift 4
args=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do args="$args $1"; shift; done
shift
# shellcheck disable=SC2086
"$xgettext" $args -o "$pot" "$@"
"$msgcmp" "$po" "$pot"
echo "every message of $(grep -c '^msgid "[^"]' "$pot" || true) has a translation in $po"
