// Model files: saving and loading SoftmaxRegression in softreg's binary format, and exporting
// the weights to NumPy's .npz.
#pragma once

#include <string>

#include "softreg/model.hpp"

namespace softreg {

/// Writes the model to path in the format of docs/FORMATS.md ("Model files"): magic, format
/// version, dtype, d, K, class labels, preprocessing, weights, training metadata, CRC-32.
/// The bytes go to a temporary file in the same directory, which is flushed and renamed over
/// path: an interrupted save never leaves a half-written model. Throws IoError naming the file.
void save_model(const SoftmaxRegression& model, const std::string& path);

/// Reads a model file. A file that is not a softreg model (wrong magic), from a newer format
/// version, truncated, or whose checksum does not match throws ParseError naming the file and
/// the byte offset; a file that cannot be opened throws IoError.
SoftmaxRegression load_model(const std::string& path);

/// Writes an uncompressed .npz (a zip of .npy arrays, as numpy.savez) with
///   coef       float64 (K, d)  the weights acting on RAW input features (preprocessing folded
///                              in), laid out as scikit-learn's coef_
///   intercept  float64 (K,)    likewise folded, as intercept_
///   classes    the class labels: int64 (K,) if every label is an integer, else a fixed-width
///              unicode array ('<U{n}') as numpy.array(list_of_str)
/// so that argmax(X @ coef.T + intercept) reproduces predict(). Temporary file and rename.
void export_npz(const SoftmaxRegression& model, const std::string& path);

}  // namespace softreg
