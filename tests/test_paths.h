// Where tests find the source tree, the shared/ data and the yardstick binary.
#pragma once

#include <filesystem>

namespace yardstick::test {

std::filesystem::path source_dir();     // the checkout
std::filesystem::path fixtures_dir();   // tests/fixtures
// ../shared beside the checkout, or $YARDSTICK_TEST_SHARED_DIR.
std::filesystem::path shared_dir();
std::filesystem::path yardstick_binary();
// A fresh empty directory under the system temp dir, removed by the OS eventually.
std::filesystem::path make_temp_dir(const char* tag);

}  // namespace yardstick::test
