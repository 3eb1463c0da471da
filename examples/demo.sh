#!/usr/bin/env bash
# The main job on the embedded default (local blockstore, no daemon): a fresh identity publishes a dataset and a
# model trained on it, a fresh folder pulls both back, and every block and signature is verified.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${DEMO_OUT:-$here/../demo-out}"
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
printf '\ndemo ok: pulled copies are byte-identical to the originals (%s)\n' "$out/pulled"
