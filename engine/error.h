// Errors thrown by the engine and the layers above it. Library code never prints or exits:
// it throws one of these with a message that names the file and the problem, and the CLI
// (harness/main.cpp) prints it.
#pragma once

#include <stdexcept>
#include <string>

namespace yardstick {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A model directory, checkpoint or tokenizer file that can't be used as it is.
class ModelFileError : public Error {
 public:
  using Error::Error;
};

// Bad user input (a malformed JSONL line, a request that can't be served).
class InputError : public Error {
 public:
  using Error::Error;
};

}  // namespace yardstick
