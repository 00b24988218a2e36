#include <algorithm>
#include <optional>
#include <string>
#include <thread>

#include <fmt/core.h>

#include "harness/commands.h"

namespace yardstick::cli {

namespace {

// The integer in `text`, or nullopt when it is not one (or out of int64's range).
std::optional<int64_t> integer(const std::string& text) {
  int64_t v = 0;
  if (!CLI::detail::lexical_cast(text, v)) return std::nullopt;
  return v;
}

}  // namespace

CLI::Validator at_least(int64_t min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        const std::optional<int64_t> v = integer(text);
        if (!v) return fmt::format("not an integer: {}", text);
        return *v < min ? fmt::format("must be >= {} (got {})", min, *v) : std::string();
      },
      fmt::format("INT >= {}", min));
}

CLI::Validator thread_count() {
  const int64_t most = 4 * int64_t(std::max(1u, std::thread::hardware_concurrency()));
  return CLI::Validator(
      [most](std::string& text) -> std::string {
        const std::optional<int64_t> v = integer(text);
        if (!v) return fmt::format("not an integer: {}", text);
        if (*v < 0 || *v > most)
          return fmt::format("must be 0 (all cores) to {} (4 x this machine's cores; got {})", most, *v);
        return {};
      },
      fmt::format("0..{}", most));
}

}  // namespace yardstick::cli
