#!/bin/sh
# Creates the namespace kmemfix uses and registers its custom search
# attributes. The list below must equal workflows.SearchAttributes
# (workflows/names.go); deploy/compose_test.go checks that it does.
# Idempotent: an attribute or namespace that already exists is kept.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"

until temporal operator cluster health >/dev/null 2>&1; do echo "waiting for $TEMPORAL_ADDRESS"; sleep 2; done

temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1 ||
  temporal operator namespace create --namespace "$ns" --retention "${NAMESPACE_RETENTION:-720h}"

search_attribute() { # NAME TYPE
  if temporal operator search-attribute list --namespace "$ns" | grep -qw -- "$1"; then
    echo "search attribute $1 exists"
    return
  fi
  temporal operator search-attribute create --namespace "$ns" --name "$1" --type "$2"
}

search_attribute KmemfixRollout Keyword
search_attribute KmemfixNode Keyword
search_attribute KmemfixStep Keyword
search_attribute KmemfixOutcome Keyword
search_attribute KmemfixWave Int
search_attribute KmemfixRolloutState Keyword
search_attribute KmemfixPauseReason Text
echo "namespace $ns and kmemfix search attributes are ready"
