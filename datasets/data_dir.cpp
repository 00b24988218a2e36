#include "datasets/data_dir.h"

#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "datasets/checkout.h"
#include "engine/error.h"

namespace yardstick {

std::filesystem::path resolve_data_dir(const std::optional<std::filesystem::path>& flag) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (flag) {
    if (!fs::is_directory(*flag, ec))
      throw Error(fmt::format("--data-dir {}: no such directory", flag->string()));
    return *flag;
  }
  if (const char* env = std::getenv("YARDSTICK_DATA"); env && *env) {
    if (!fs::is_directory(env, ec))
      throw Error(fmt::format("YARDSTICK_DATA={}: no such directory", env));
    return env;
  }
  std::vector<std::string> tried = {"--data-dir (not given)", "YARDSTICK_DATA (not set)"};
  for (const auto& checkout : checkout_candidates()) {
    auto dir = (checkout / ".." / "shared" / "datasets").lexically_normal();
    if (fs::is_directory(dir, ec)) return dir;
    tried.push_back(dir.string());
  }
  std::string list;
  for (const auto& t : tried) list += "\n  " + t;
  throw Error(fmt::format(
      "no benchmark data directory found; tried:{}\nGive one with --data-dir DIR or "
      "YARDSTICK_DATA=DIR (a folder holding gsm8k/, math/, ...; see datasets/manifest.json for "
      "the files and where to obtain them)",
      list));
}

}  // namespace yardstick
