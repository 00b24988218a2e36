#include "tests/test_paths.h"

#include <cstdlib>
#include <random>
#include <string>

namespace yardstick::test {

std::filesystem::path source_dir() { return YARDSTICK_TEST_SOURCE_DIR; }
std::filesystem::path fixtures_dir() { return source_dir() / "tests" / "fixtures"; }

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("YARDSTICK_TEST_SHARED_DIR"); env && *env) return env;
  return YARDSTICK_TEST_SHARED_DIR;
}

std::filesystem::path yardstick_binary() { return YARDSTICK_TEST_BINARY; }

std::filesystem::path make_temp_dir(const char* tag) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             (std::string("yardstick-") + tag + "-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace yardstick::test
