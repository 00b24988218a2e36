#include "datasets/checkout.h"

#include <algorithm>
#include <system_error>

namespace yardstick {

std::vector<std::filesystem::path> checkout_candidates() {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back(exe.parent_path().parent_path());
  // CMake compiles sources by absolute path, so __FILE__ is <checkout>/datasets/checkout.cpp.
  std::filesystem::path self(__FILE__);
  if (self.is_absolute()) {
    auto source_dir = self.parent_path().parent_path();
    if (std::find(out.begin(), out.end(), source_dir) == out.end()) out.push_back(source_dir);
  }
  return out;
}

}  // namespace yardstick
