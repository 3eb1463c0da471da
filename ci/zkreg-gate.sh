#!/usr/bin/env bash
# The one-command CI gate: what action.yml runs, for any CI system.
#
# Gates a model on a policy file (signed by X, lineage present, proven metrics, trusted verifiers agree) and writes
# a signed verification summary (in-toto Statement, SLSA VSA predicate, DSSE envelope). Exit status is zkreg
# verify's: 0 every rule passed, 4 bytes/signature/proof failed, 5 a policy rule was not met; 1-3 and 6 for
# errors of the inputs (a bad policy file, an unknown ref, a peer that cannot be reached).
#
# Settings (environment):
#   ZKREG_GATE_REF      required: the manifest CID (or name@version) to gate
#   ZKREG_GATE_POLICY   required: the policy file (TOML) checked into the repository
#   ZKREG_GATE_CAR      artefact CAR file(s) to import (`zkreg export REF -o FILE.car`), space-separated
#   ZKREG_GATE_FEEDS    feed file(s) to import (`zkreg ledger export -o FILE`), space-separated
#   ZKREG_GATE_PEER     a `zkreg serve` URL: sync feeds with it, and pull the artefact from it if not held
#   ZKREG_GATE_TRUST    did:keys of the verifiers this pipeline trusts (its trust roots), space-separated
#   ZKREG_GATE_VSA      where to write the verification summary (default: zkreg-vsa.intoto.json)
#   ZKREG_GATE_ATTEST   "true": also append the verdict to this identity's feed
#   ZKREG_HOME          the data dir; give it the pipeline's own identity (restored from a secret) so that its
#                       summaries are signed by a key others know; default: a fresh one under $RUNNER_TEMP
#   ZKREG_SOURCE        where to `pip install` zkreg from when no `zkreg` is on PATH (default: this checkout)
set -euo pipefail

: "${ZKREG_GATE_REF:?set ZKREG_GATE_REF to the manifest CID or name@version to gate}"
: "${ZKREG_GATE_POLICY:?set ZKREG_GATE_POLICY to the policy file}"
vsa="${ZKREG_GATE_VSA:-zkreg-vsa.intoto.json}"
export ZKREG_HOME="${ZKREG_HOME:-${RUNNER_TEMP:-/tmp}/zkreg-gate-home}"

step() { printf '::group::%s\n' "$*" >&2 || true; }
done_step() { printf '::endgroup::\n' >&2 || true; }

step "install zkreg"
if ! command -v zkreg >/dev/null; then
    python3 -m pip install --quiet "${ZKREG_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}"
fi
zkreg --help >/dev/null
done_step

step "identity"
zkreg id >/dev/null 2>&1 || zkreg init
done_step

step "artefact and feeds"
for car in ${ZKREG_GATE_CAR:-}; do
    zkreg import "$car"
done
for feeds in ${ZKREG_GATE_FEEDS:-}; do
    zkreg ledger import "$feeds"
done
if [ -n "${ZKREG_GATE_PEER:-}" ]; then
    zkreg sync "$ZKREG_GATE_PEER"
    if ! zkreg show "$ZKREG_GATE_REF" >/dev/null 2>&1; then
        zkreg pull "$ZKREG_GATE_REF" --remote "$ZKREG_GATE_PEER" -o "${RUNNER_TEMP:-/tmp}/zkreg-gate-artefact"
    fi
fi
for did in ${ZKREG_GATE_TRUST:-}; do
    zkreg peer trust "$did"
done
done_step

step "verify against ${ZKREG_GATE_POLICY}"
attest=()
[ "${ZKREG_GATE_ATTEST:-false}" = "true" ] && attest=(--attest)
status=0
zkreg verify "$ZKREG_GATE_REF" --policy "$ZKREG_GATE_POLICY" --vsa-out "$vsa" "${attest[@]}" || status=$?
done_step
[ -f "$vsa" ] && echo "verification summary: $vsa" >&2
exit "$status"
