// The library's worker-thread count.
//
// Kernels (softmax, cross-entropy, ...) split their rows over this many threads; training and
// prediction calls whose `threads` option is 0 use it too. Results never depend on it: every
// reduction runs in a fixed order that does not depend on how the rows are split, so any
// thread count gives bitwise-identical output.
#pragma once

namespace softreg {

/// Sets the worker count used from now on by every thread of the process. n >= 1 sets it;
/// n == 0 restores the default: the SOFTREG_NUM_THREADS environment variable if it holds a
/// positive integer, else every core std::thread::hardware_concurrency() reports.
/// n < 0 throws InvalidArgument.
void set_num_threads(int n);

/// The current worker count (always >= 1).
int get_num_threads();

}  // namespace softreg
