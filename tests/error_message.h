// Tests of error paths check the message: it must name the file and the problem.
#pragma once

#include <string>

#include "engine/error.h"

namespace yardstick::test {

// The message of the E that f() throws, or "" when it throws none.
template <class E, class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

// The message of the ModelFileError that f() throws, or "" when it throws none.
template <class F>
std::string model_file_error(F&& f) {
  return error_message<ModelFileError>(f);
}

// The same for an InputError.
template <class F>
std::string input_error(F&& f) {
  return error_message<InputError>(f);
}

}  // namespace yardstick::test
