#!/usr/bin/env bash
# The main job: train softmax regression on the 60,000 Fashion-MNIST training images, evaluate on
# the 10,000 test images, and show a few predictions with their class names.
set -euo pipefail
build_dir=${1:-build}
data=/usr/share/datasets/fashion-mnist
softreg="$build_dir/softreg"
model="$build_dir/fashion-mnist.model"
names=(T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag "Ankle boot")

echo "== softreg demo: softmax regression on Fashion-MNIST (28x28 pixels / 255, 10 classes)"
echo "== training: L-BFGS, l2 = 1e-4, 100 iterations"
"$softreg" train --data "$data/train-images-idx3-ubyte.gz" --model "$model" \
  --solver lbfgs --l2 1e-4 --max-iter 100
echo
echo "== evaluation on the 10,000 test images"
"$softreg" eval --model "$model" --data "$data/t10k-images-idx3-ubyte.gz"
echo
echo "== the first five test images"
"$softreg" predict --model "$model" --data "$data/t10k-images-idx3-ubyte.gz" --top-k 2 \
  --output "$build_dir/fashion-mnist-predictions.csv"
truth=($(zcat "$data/t10k-labels-idx1-ubyte.gz" | od -An -tu1 -j8 -N5))
i=0
sed -n 2,6p "$build_dir/fashion-mnist-predictions.csv" | while IFS=, read -r pred top1 p1 top2 p2; do
  printf '  image %d (true: %-11s) predicted %-11s (p = %.3f), runner-up %-11s (p = %.3f)\n' \
    "$((i + 1))" "${names[${truth[$i]}]}" "${names[$top1]}" "$p1" "${names[$top2]}" "$p2"
  i=$((i + 1))
done
echo
echo "== the model file: $model  (softreg info --model $model)"
