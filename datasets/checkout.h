// Where the project checkout is, for files that live beside or inside it (the dataset manifest,
// ../shared/datasets) and must be found from any working directory.
#pragma once

#include <filesystem>
#include <vector>

namespace yardstick {

// Candidate checkout directories, most specific first, without duplicates:
//   1. the parent of the running executable's directory (`<checkout>/<build dir>/yardstick`),
//      so a build carried to another machine together with its checkout still finds it;
//   2. the source directory this library was compiled from.
std::vector<std::filesystem::path> checkout_candidates();

}  // namespace yardstick
