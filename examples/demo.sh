#!/usr/bin/env bash
# The main job on the embedded default (local blockstore, no daemon): a fresh identity publishes a dataset and a
# model trained on it, a fresh folder pulls both back, and every block and signature is verified. Then the owner
# publishes the model with private weights, serves one proven inference, and a second identity that never sees
# the weights checks the proof from an exported CAR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${DEMO_OUT:-$(dirname "$here")/demo-out}"
zkreg="${ZKREG:-zkreg}"
rm -rf "$out"
mkdir -p "$out"
export ZKREG_HOME="$out/home"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$zkreg" init
step "$zkreg" publish "$here/data" --name flowers -m "150 labelled flowers"
step "$zkreg" publish "$here/tiny-mlp.onnx" --name flower-mlp --dataset flowers -m "4-16-3 MLP"
step "$zkreg" ls
step "$zkreg" show flower-mlp
step "$zkreg" pull flowers -o "$out/pulled/flowers"
step "$zkreg" pull flower-mlp@1 -o "$out/pulled/flower-mlp"
step "$zkreg" verify flower-mlp
cmp "$here/tiny-mlp.onnx" "$out/pulled/flower-mlp/tiny-mlp.onnx"
cmp "$here/data/flowers.csv" "$out/pulled/flowers/data/flowers.csv"

echo '[5.1, 3.5, 1.4, 0.2]' > "$out/flower.json"
step "$zkreg" publish "$here/tiny-mlp.onnx" --name flower-mlp-private --weights private --dataset flowers
step "$zkreg" prove flower-mlp-private --input "$out/flower.json" -o "$out/proof.json"
step "$zkreg" export flower-mlp-private -o "$out/flower-mlp-private.car"

export ZKREG_HOME="$out/verifier-home"
step "$zkreg" init
step "$zkreg" import "$out/flower-mlp-private.car"
step "$zkreg" verify "$out/proof.json"
if "$zkreg" show flower-mlp-private --json | grep -q 'tiny-mlp.onnx'; then
    echo "private weights leaked into the published manifest" >&2
    exit 1
fi
printf '\ndemo ok: pulled copies are byte-identical to the originals (%s), and a second identity verified a\n' "$out/pulled"
printf 'proof of inference for a model whose weights it never saw\n'

