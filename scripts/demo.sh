#!/usr/bin/env bash
# The main job: train softmax regression on the 60,000 Fashion-MNIST training images (10% held
# out for validation, so the report has validation curves), calibrate the probabilities'
# temperature on the first half of the 10,000 test images, evaluate on the second half, show a
# few predictions with their class names, and write the HTML report.
set -euo pipefail
build_dir=${1:-build}
data=/usr/share/datasets/fashion-mnist
softreg="$build_dir/softreg"
model="$build_dir/fashion-mnist.model"
names=(T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag "Ankle boot")

report="$build_dir/fashion-mnist-report.html"
split_dir="$build_dir/fashion-mnist-split"

# The test set in two halves of 5,000 IDX images (and their labels files beside them, where
# eval and calibrate find them): a new IDX header (magic, count 5,000 = 0x1388, and for images
# the 28 x 28 dimensions) followed by each half's bytes.
mkdir -p "$split_dir"
zcat "$data/t10k-images-idx3-ubyte.gz" >"$split_dir/t10k-images"
zcat "$data/t10k-labels-idx1-ubyte.gz" >"$split_dir/t10k-labels"
for half in first second; do
  skip=0
  if [ "$half" = second ]; then skip=5000; fi
  {
    printf '\x00\x00\x08\x03\x00\x00\x13\x88\x00\x00\x00\x1c\x00\x00\x00\x1c'
    head -c $((16 + (skip + 5000) * 784)) "$split_dir/t10k-images" | tail -c $((5000 * 784))
  } >"$split_dir/$half-images-idx3-ubyte"
  {
    printf '\x00\x00\x08\x01\x00\x00\x13\x88'
    head -c $((8 + skip + 5000)) "$split_dir/t10k-labels" | tail -c 5000
  } >"$split_dir/$half-labels-idx1-ubyte"
done
rm -f "$split_dir/t10k-images" "$split_dir/t10k-labels"

echo "== softreg demo: softmax regression on Fashion-MNIST (28x28 pixels / 255, 10 classes)"
echo "== training: L-BFGS, l2 = 1e-4, 100 iterations, 10% of the rows held out for validation"
"$softreg" train --data "$data/train-images-idx3-ubyte.gz" --model "$model" \
  --solver lbfgs --l2 1e-4 --max-iter 100 --valid-fraction 0.1
echo
echo "== calibration: the temperature T of softmax(z / T), fitted on test images 1-5,000"
"$softreg" calibrate --model "$model" --data "$split_dir/first-images-idx3-ubyte"
echo
echo "== evaluation on test images 5,001-10,000"
"$softreg" eval --model "$model" --data "$split_dir/second-images-idx3-ubyte" \
  --report "$report" --class-names "$(IFS=,; echo "${names[*]}")"
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
echo "== the report: $report"
