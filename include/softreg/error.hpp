// The exception types every softreg function throws on invalid arguments or bad input.
#pragma once

#include <stdexcept>
#include <string>

namespace softreg {

/// Base of every exception softreg throws. The message names the function or file, the
/// position where it applies (index, line, byte offset) and what was expected.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A caller passed an argument that violates the documented contract: a size that does not
/// match the shape, an axis out of range, a negative temperature, a label outside [0, K).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A file or stream could not be read as the expected format. The message starts with
/// "<file>:<line>:" or "<file>: byte <offset>:".
class ParseError : public Error {
 public:
  using Error::Error;
};

/// An operating-system level failure: a file that cannot be opened, written or renamed.
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace softreg
