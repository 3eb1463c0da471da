#!/usr/bin/env bash
# Proven evaluation on the embedded default: an owner publishes the flowers dataset privately (a row commitment,
# no row) and the example MLP with private weights, proves its accuracy on all 150 rows, and records the proven
# accuracy in a new version of the model. A second identity, which never sees a row or a weight, imports both
# from CAR files and checks the evaluation and the proven metric.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${DEMO_OUT:-$(dirname "$here")/demo-out}/eval"
zkreg="${ZKREG:-zkreg}"
rm -rf "$out"
mkdir -p "$out"
export ZKREG_HOME="$out/home"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$zkreg" init
step "$zkreg" publish "$here/data" --name flowers --private -m "150 labelled flowers, rows kept private"
step "$zkreg" show flowers
step "$zkreg" publish "$here/tiny-mlp.onnx" --name flower-mlp --weights private --dataset flowers -m "4-16-3 MLP"
step "$zkreg" eval flower-mlp --dataset flowers -o "$out/eval.json"
step "$zkreg" verify "$out/eval.json"
step "$zkreg" publish "$here/tiny-mlp.onnx" --name flower-mlp --weights private --dataset flowers \
    --metrics-proof "$out/eval.json" -m "accuracy proven on flowers"
step "$zkreg" show flower-mlp
step "$zkreg" export flowers -o "$out/flowers.car"
step "$zkreg" export flower-mlp -o "$out/flower-mlp.car"
for car in "$out/flowers.car" "$out/flower-mlp.car"; do
    if grep -q '5.0,3.8,1.2,0.5' "$car"; then
        echo "a private row leaked into $car" >&2
        exit 1
    fi
done

export ZKREG_HOME="$out/verifier-home"
step "$zkreg" init
step "$zkreg" import "$out/flowers.car"
step "$zkreg" import "$out/flower-mlp.car"
step "$zkreg" verify "$out/eval.json" --attest
step "$zkreg" verify flower-mlp
printf '\neval demo ok: a second identity verified the accuracy of a model whose weights it never saw, on rows\n'
printf 'it never saw\n'
