// What code prints to a log stream (a std::FILE*), read back as a string.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>

namespace yardstick::test {

// Everything written to `f` so far (a std::tmpfile(): rewound, read to the end).
inline std::string stream_contents(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  return s;
}

// What f(log) prints to `log`.
template <class F>
std::string captured_log(F&& f) {
  std::FILE* log = std::tmpfile();
  if (!log) throw std::runtime_error("captured_log: no temporary file");
  try {
    f(log);
  } catch (...) {
    std::fclose(log);
    throw;
  }
  std::string text = stream_contents(log);
  std::fclose(log);
  return text;
}

}  // namespace yardstick::test
