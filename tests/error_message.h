// Tests of error paths check the message: it must name the file and the problem.
#pragma once

#include <string>

#include "engine/error.h"

namespace yardstick::test {

// The message of the ModelFileError that f() throws, or "" when it throws none.
template <class F>
std::string model_file_error(F&& f) {
  try {
    f();
  } catch (const ModelFileError& e) {
    return e.what();
  }
  return "";
}

}  // namespace yardstick::test
