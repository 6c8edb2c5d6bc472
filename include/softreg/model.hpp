// The softmax-regression classifier: training options, the fitted model and its predictions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "softreg/data.hpp"
#include "softreg/error.hpp"
#include "softreg/matrix.hpp"
#include "softreg/optim.hpp"

namespace softreg {

class Communicator;  // softreg/distributed.hpp

/// automatic picks one of the others from the data's shape when a fit starts (choose_solver);
/// a model's TrainingInfo records the solver that ran, never automatic.
enum class Solver { lbfgs, sgd, adam, newton_cg, saga, automatic };
enum class Scaling { none, standard, minmax };
enum class DType { float32, float64 };
/// L-BFGS's initial inverse Hessian. automatic: the second-moment preconditioner for data of up
/// to 2048 features, dense or sparse (the Hessian at the start, classes decoupled), the diagonal
/// otherwise;
/// diagonal: 1 / the Hessian's diagonal at the start; none: the identity.
enum class Preconditioner { automatic, diagonal, none };

const char* solver_name(Solver s);    // "lbfgs", "sgd", "adam", "newton-cg", "saga", "auto"
const char* scaling_name(Scaling s);  // "none", "standard", "minmax"
const char* dtype_name(DType t);      // "float32", "float64"

/// Feature preprocessing fitted on the training data: x' = (x - offset) * scale, per feature.
/// standard: offset = mean, scale = 1 / std (1 for a constant feature); minmax: offset = min,
/// scale = 1 / (max - min) (1 for a constant feature), so training features land in [0, 1].
/// The model never rewrites the data: the map is folded into the weights (see
/// SoftmaxRegression::folded_weights), so sparse data stays sparse, even when centered.
struct Preprocessing {
  Scaling kind = Scaling::none;
  std::vector<double> offset;  // d entries (empty for none)
  std::vector<double> scale;   // d entries (empty for none)
};

struct TrainOptions {
  Solver solver = Solver::automatic;
  DType dtype = DType::float32;  // the type the passes over the data run in
  double l2 = 1e-4;              // lambda of (lambda / 2) ||W||^2; C = 1 / (lambda n)
  /// false: b is fixed at 0 (every solver; a warm start's bias is dropped), so the logits are
  /// x' W of the preprocessed features x' (with standard scaling those are centred, so the
  /// raw-feature intercept of folded_weights is not 0), as scikit-learn's fit_intercept=False.
  bool fit_intercept = true;
  /// lambda_1 of lambda_1 ||W||_1 (W only, in the preprocessed space, as the L2 term), for
  /// sparse models: L-BFGS then runs as OWL-QN and coefficients come out exactly 0. > 0 needs
  /// solver lbfgs or automatic (which then picks lbfgs) and turns the Adam warm-up off.
  /// Elastic net: l1 and l2 together.
  double l1 = 0.0;
  /// Continue the fit that `warm_start` was stopped in (by the progress callback returning
  /// false: SIGINT in the command line) instead of starting a new one from its weights: with
  /// the same data, options and thread count, the model is bitwise the one the uninterrupted
  /// fit gives. The stopped fit's model carries what that needs (TrainingInfo::parameters
  /// "resume.lbfgs", "resume.newton", "resume.saga" or "resume.stochastic"), for every solver,
  /// with l1 and with a validation split (whose best point and patience count it keeps).
  /// InvalidArgument when warm_start holds no such state or the options differ from the
  /// recorded ones.
  bool resume = false;
  int max_iter = 100;  // L-BFGS iterations
  double tol = 1e-5;   // L-BFGS: max |gradient| at which it stops
  /// L-BFGS curvature pairs kept; 0 picks min(100, max(10, 64 MiB / (16 bytes x parameters))):
  /// a long memory saves many iterations on problems with few parameters (on Fashion-MNIST,
  /// 100 pairs reach scikit-learn's 400-iteration objective in about 160 iterations, 10 pairs
  /// need 500), while the 64 MiB budget keeps large problems at the classic 10.
  int lbfgs_memory = 0;                                       // in [0, 10000]
  Preconditioner preconditioner = Preconditioner::automatic;  // L-BFGS
  /// L-BFGS: epochs of Adam (mini-batches of 256, lr 0.02 decaying to 0 on a cosine) run
  /// first, kept only if they lower the full objective. Mini-batches make their progress for a
  /// fraction of the cost of full passes, and L-BFGS then needs fewer of them (Fashion-MNIST:
  /// 3 epochs, about 0.15 s, take the iterations to scikit-learn's objective from 103 to 71).
  /// -1 picks 3 for dense data with at least kAutoWarmupRows training rows and no warm start,
  /// else 0 (full passes are cheap on small problems; on sparse data a mini-batch step costs
  /// O(d K) for a few rows' entries); 0 switches it off.
  int lbfgs_warmup = -1;  // in [-1, 1000]
  static constexpr std::size_t kAutoWarmupRows = 20000;
  int epochs = 10;                // SGD / Adam
  std::int64_t batch_size = 256;  // SGD / Adam; >= 1
  double lr = 0.0;                // SGD / Adam; 0 picks the solver's default (0.1 / 0.001)
  LrSchedule schedule = LrSchedule::constant;
  double momentum = 0.9;        // SGD
  double valid_fraction = 0.0;  // in [0, 1): rows held out for early stopping
  int patience = 5;             // iterations / epochs without validation improvement
  Scaling scale = Scaling::none;
  std::uint64_t seed = 0;  // validation split and mini-batch order
  int threads = 0;         // 0: softreg::get_num_threads()
  /// Class weights: empty for none, {"balanced"} for n / (K n_c), or a weight per label.
  bool balanced = false;
  std::map<std::string, double> class_weight;
  /// Stop as soon as the training objective is <= this (time-to-objective benchmarks).
  double target_loss = -std::numeric_limits<double>::infinity();
  std::vector<double> sample_weight;  // one per row, or empty
  ProgressCallback progress;          // per iteration / epoch; return false to stop
  /// Data-parallel training (softreg/distributed.hpp): the data given to fit is this rank's
  /// shard (read_shard), and every sum over rows is combined across the ranks, which all call
  /// fit with the same options and take the same steps. Null (or one rank): a single process.
  /// Solvers lbfgs (with l1 too), newton-cg, sgd and adam; automatic picks lbfgs; saga and a
  /// validation split are InvalidArgument. The stop request of a progress callback is agreed
  /// (any rank's stops all of them, at the same iteration). Not recorded in the model.
  Communicator* communicator = nullptr;

  /// The first field out of range, what it must be and the value it has: {"valid_fraction",
  /// "in [0, 1)", "1.5"}; a sample or class weight is named "sample_weight[3]" /
  /// "class_weight[\"cat\"]". Empty when every field is in range. These rules are the only
  /// range checks of the options: the command line and the Python module word this problem in
  /// their own names (--valid-fraction, validation_fraction) without checking ranges again.
  struct Problem {
    std::string field;
    std::string need;
    std::string got;
  };
  std::optional<Problem> problem() const;

  /// Throws InvalidArgument with problem() worded as "softreg::TrainOptions: l2 must be finite
  /// and >= 0; got -1". The sizes that depend on the data (sample_weight's length, class_weight
  /// labels) are checked by fit.
  void validate() const;
};

/// Each label's index in `classes`, or -1 for a label not among them: the one label-to-class
/// mapping of training, evaluation and the command line. O(K + n) with a hash of the classes.
std::vector<std::int64_t> class_indices(std::span<const std::string> classes,
                                        std::span<const std::string> labels);

class SoftmaxRegression;

/// The solver a fit with these options runs on this data: options.solver itself unless it is
/// automatic. automatic picks SAGA for sparse data without scaling (options.scale, or a warm
/// start's preprocessing, which the fit keeps) whose d K parameters number at least
/// kSagaMinParameters and whose n x K remembered gradients (8 bytes each) fit in
/// kSagaMaxMemory, and L-BFGS otherwise. The rule is the measured one of docs/BENCHMARKS.md:
/// on TF-IDF text (50,752 x 45,557, 58 classes) SAGA reaches L-BFGS's objective about 4.5x
/// sooner (1.26 s against 5.86 s on 2 cores), where L-BFGS's vector algebra over millions of
/// parameters dominates its iterations; on dense data the preconditioned, threaded L-BFGS is
/// far ahead, and on small problems it converges to tight tolerances in fewer passes. K is the
/// number of distinct labels of the data.
template <class T>
Solver choose_solver(const Dataset<T>& data, const TrainOptions& options,
                     const SoftmaxRegression* warm_start = nullptr);
inline constexpr std::size_t kSagaMinParameters = 100000;
inline constexpr std::size_t kSagaMaxMemory = std::size_t{1} << 30;

/// The memory a fit's solver state takes beyond the data, in bytes, with P = (d + 1) K
/// parameters (docs/ARCHITECTURE.md, "Memory"): L-BFGS 8 P (2 m + 8) with m curvature pairs
/// (TrainOptions::lbfgs_memory, or its automatic choice), Newton-CG 8 (8 P + n K), SAGA
/// 8 (max(n K + 2 d K, 1.5 n K) + 3 P), SGD and Adam 48 P. fit refuses (InvalidArgument, before
/// allocating) a problem whose estimate exceeds the machine's physical memory, naming the sizes.
std::size_t training_memory(std::size_t n, std::size_t d, std::size_t k, Solver solver,
                            int lbfgs_memory = 0);

/// What training did, stored in the model file.
struct TrainingInfo {
  Solver solver = Solver::lbfgs;
  DType dtype = DType::float32;
  double l2 = 0.0;
  int iterations = 0;
  int evaluations = 0;
  bool converged = false;
  std::string message;
  double final_loss = 0.0;
  double grad_norm = 0.0;
  double valid_loss = -1.0;  // -1 when there was no validation split
  std::uint64_t n_train = 0;
  std::uint64_t n_valid = 0;
  double seconds = 0.0;
  /// One value per iteration / epoch (the solver's objective: the penalized mean loss for the
  /// full-batch solvers, the mean mini-batch loss of the epoch for SGD / Adam; the Adam warm-up
  /// before L-BFGS is not included).
  std::vector<double> loss_history;
  /// The options the fit was given, as text: every TrainOptions field that shapes the result
  /// by its field name ("solver" -> "auto", "l2" -> "0.0001", "scale" -> "standard",
  /// "class_weight[cat]" -> "2", "sample_weight" -> "given" when there were sample weights,
  /// which the model does not keep), plus "index_base" -> "0" / "1" for LibSVM data. Front
  /// ends add their own under a prefix (the Python estimator: "python.C", ...). What refitting
  /// the same way needs; saved in model files.
  std::map<std::string, std::string> parameters;
  /// Alongside loss_history, entry for entry: the training accuracy (of the full pass for
  /// L-BFGS, Newton-CG and SAGA; over the epoch's mini-batches, as they were seen, for SGD /
  /// Adam), and with a validation split (TrainOptions::valid_fraction) the validation loss
  /// (unpenalized, unweighted mean cross-entropy) and accuracy. Empty when not computed: all
  /// three for models from before format version 3, the validation pair without a split.
  std::vector<double> accuracy_history;
  std::vector<double> valid_loss_history;
  std::vector<double> valid_accuracy_history;
};

/// TrainingInfo::parameters for these options (numbers with 17 significant digits, so they
/// read back exactly).
std::map<std::string, std::string> option_record(const TrainOptions& options);

/// A fitted multinomial logistic regression: W (d x K), b (K) acting on preprocessed features,
/// class labels (strings; integer labels sort numerically, others lexicographically, as
/// scikit-learn's classes_), the preprocessing, the training record and a temperature T > 0
/// (1 unless calibrated: fit_temperature in include/softreg/calibration.hpp) by which the
/// probabilities divide the logits. Immutable once built; every prediction method is const
/// and safe to call from several threads.
class SoftmaxRegression {
 public:
  SoftmaxRegression() = default;
  /// Assembles a model from parts (model files, tests). Throws InvalidArgument if sizes
  /// disagree, there are no classes, a class label repeats, or a weight is not finite.
  /// feature_names is empty or holds d distinct, non-empty names (InvalidArgument otherwise).
  /// temperature must be finite and > 0 (InvalidArgument otherwise).
  SoftmaxRegression(std::vector<std::string> classes, std::size_t n_features,
                    std::vector<double> weights, std::vector<double> bias,
                    Preprocessing preprocessing, TrainingInfo info,
                    std::vector<std::string> feature_names = {}, double temperature = 1.0);

  /// Fits on data (features plus labels; labels required). warm_start, if given, supplies the
  /// starting weights, the classes and the preprocessing (the data's labels must be among its
  /// classes and its feature count must match). Throws InvalidArgument for bad options or
  /// data (no rows, a single class, mismatched weights). The model keeps data.feature_names
  /// (or the warm start's when the data names none); a warm start whose names differ from the
  /// data's is an InvalidArgument naming the first column that differs. The options are
  /// recorded in info().parameters. The fitted model's temperature is 1 (a warm start's
  /// calibration belongs to its weights, not to the new ones). A loss that becomes NaN or
  /// infinite (SGD, Adam or SAGA) throws FitDiverged, which holds the last finite model.
  template <class T>
  static SoftmaxRegression fit(const Dataset<T>& data, const TrainOptions& options,
                               const SoftmaxRegression* warm_start = nullptr);

  std::size_t n_features() const { return d_; }
  std::size_t n_classes() const { return classes_.size(); }
  const std::vector<std::string>& classes() const { return classes_; }
  /// The names of the features the model was trained on, in column order (d of them), or
  /// empty when the training data named none. align_features() matches data to them.
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  /// W, d x K row-major, in the preprocessed feature space.
  const std::vector<double>& weights() const { return w_; }
  const std::vector<double>& bias() const { return b_; }
  const Preprocessing& preprocessing() const { return pre_; }
  const TrainingInfo& info() const { return info_; }
  /// The calibration temperature: predict_proba and predict_log_proba give softmax(z / T) of
  /// the logits z; decision_function and predict do not depend on it. 1 when uncalibrated.
  double temperature() const { return temperature_; }
  /// This model with temperature t (finite and > 0, else InvalidArgument); everything else is
  /// copied unchanged.
  SoftmaxRegression with_temperature(double t) const;

  /// W and b acting on raw features: x' W + b = x (diag(scale) W) + (b - (offset * scale)^T W).
  void folded_weights(std::vector<double>& w_raw, std::vector<double>& b_raw) const;

  /// Index of a label in classes(), or -1.
  std::int64_t class_index(const std::string& label) const;

  /// Each label's index in classes(), -1 for a label the model does not know (class_indices()).
  std::vector<std::int64_t> class_indices(std::span<const std::string> labels) const;

  /// Logits (n x K, row-major) for X (n x d), x W + b before the temperature. Throws
  /// InvalidArgument if X has another number of features than the model, or out has the wrong
  /// size.
  template <class T>
  void decision_function(const FeatureMatrix<T>& x, std::span<T> out, int threads = 0) const;
  /// Probabilities (n x K): softmax(z / temperature()).
  template <class T>
  void predict_proba(const FeatureMatrix<T>& x, std::span<T> out, int threads = 0) const;
  /// Log-probabilities (n x K): log_softmax(z / temperature()).
  template <class T>
  void predict_log_proba(const FeatureMatrix<T>& x, std::span<T> out, int threads = 0) const;
  /// Class indices (into classes()) of the largest logit, ties to the lowest index. A row whose
  /// logits contain NaN throws softreg::Error naming the row: never a silent class 0.
  template <class T>
  std::vector<std::int64_t> predict(const FeatureMatrix<T>& x, int threads = 0) const;
  /// Accuracy against labels (strings as in the data file); a label the model does not know
  /// counts as wrong.
  template <class T>
  double score(const FeatureMatrix<T>& x, std::span<const std::string> labels,
               int threads = 0) const;

 private:
  std::vector<std::string> classes_;
  std::size_t d_ = 0;
  std::vector<double> w_;
  std::vector<double> b_;
  Preprocessing pre_;
  TrainingInfo info_;
  std::vector<std::string> feature_names_;
  double temperature_ = 1.0;
};

/// The block size of fit_streamed unless given: 8 MiB of the file. Measured on Fashion-MNIST
/// (docs/SCALING.md): blocks of 1 to 8 MiB cost 24-30 ms per L-BFGS iteration, blocks of 16
/// MiB and more about 140 ms (their decoded rows are allocated and page-faulted afresh each
/// pass instead of reusing freed memory).
constexpr std::size_t kStreamBlockBytes = std::size_t{8} << 20;

/// Fits on a file too large for memory (softreg train --stream): the file is read in blocks of
/// about block_bytes of it (ReadOptions::shard_* with one shard per block; read again at every
/// full pass), never whole. Plain regular files only (CSV, LibSVM, IDX, .npy): a gzip file or
/// standard input is an InvalidArgument (a deflate stream cannot be entered at a block).
/// A survey pass finds the rows, classes and width, a second pass the class masses, the feature
/// moments (for --scale and the diagonal preconditioner) and, for up to 2048 features, the
/// 8192-row sample of the second-moment preconditioner; then:
///  - lbfgs (and automatic): every evaluation re-reads and re-parses the whole file, block by
///    block, adding the blocks' sums in file order: the same objective as fit on the whole
///    data (equal to its rounding), at the cost of one read of the file per evaluation;
///  - sgd, adam: each epoch reads the blocks in order once, shuffling rows within a block
///    (StochasticOptions::block_rows): mini-batches never span blocks, so the path differs
///    from an in-memory fit's, whose shuffle spans every row.
/// Peak memory: one block's rows decoded (float32: at most 4 bytes per byte of the block for
/// IDX ubyte, 2 for CSV, whose values take at least 2 bytes of text; LibSVM about 8 bytes per
/// entry, 2 per byte of text), plus the solver state (training_memory without the data), the
/// objective's per-group partial gradients (at most 32 x 12 d K bytes, capped at 256 MiB) and
/// the preconditioner's sample (8192 x d x sizeof(T) and (d + 1)^2 doubles). With
/// options.communicator each rank streams its own shard of the file in blocks (a rank's blocks
/// are shards rank x B + j of ranks x B) and the ranks add their sums as fit does; SGD / Adam
/// then shuffle within super-block j (block j of every rank), so each mini-batch is spread over
/// the ranks and each rank evaluates its rows of it. newton-cg and saga keep per-row state and
/// cannot stream; valid_fraction, resume and options.sample_weight are InvalidArgument (a CSV
/// weight column works).
template <class T>
SoftmaxRegression fit_streamed(const std::string& path, const ReadOptions& read,
                               const TrainOptions& options,
                               std::size_t block_bytes = kStreamBlockBytes);

extern template SoftmaxRegression fit_streamed<float>(const std::string&, const ReadOptions&,
                                                      const TrainOptions&, std::size_t);
extern template SoftmaxRegression fit_streamed<double>(const std::string&, const ReadOptions&,
                                                       const TrainOptions&, std::size_t);

/// Thrown by SoftmaxRegression::fit when the training loss becomes NaN or infinite (an SGD or
/// Adam learning rate far too large, usually): what() says where. last_good() is the model
/// after the last epoch whose loss was finite, epoch() - 1 (the start point when it is 0),
/// for a checkpoint to continue from with a smaller step.
class FitDiverged : public Error {
 public:
  FitDiverged(const std::string& what, int epoch, double loss,
              std::shared_ptr<const SoftmaxRegression> last_good)
      : Error(what), epoch_(epoch), loss_(loss), last_good_(std::move(last_good)) {}
  int epoch() const { return epoch_; }  // the epoch whose loss was not finite (1-based)
  double loss() const { return loss_; }
  const SoftmaxRegression& last_good() const { return *last_good_; }

 private:
  int epoch_;
  double loss_;
  std::shared_ptr<const SoftmaxRegression> last_good_;
};

/// Puts data's columns in the model's feature order, matching them by name, so that a CSV
/// whose columns come in another order predicts as the training file did.
/// - Both name their features: data's columns are permuted into the model's order (dense
///   data; a sparse dataset with names is matched the same way). A column the model does not
///   know, or a model feature the data lacks, is an InvalidArgument naming it and the source.
/// - Only one side names them: the columns are taken by position (the width is checked by
///   prediction); the returned warning says so.
/// - Neither: nothing happens.
/// Returns the warnings (empty when matched by name or nothing was to match). O(n d).
template <class T>
std::vector<std::string> align_features(Dataset<T>& data, const SoftmaxRegression& model);

}  // namespace softreg
