// Where the benchmark data lives. The project never commits dataset files (DESIGN.md, "Data"):
// it reads them from a data directory that holds one folder per dataset (gsm8k/, math/, ...).
#pragma once

#include <filesystem>
#include <optional>

namespace yardstick {

// The data directory, by precedence:
//   1. `flag` (the --data-dir option) when given;
//   2. the YARDSTICK_DATA environment variable when set and non-empty;
//   3. `../shared/datasets` beside the project checkout, the checkout found first from the
//      running executable (`<checkout>/<build dir>/yardstick`, via /proc/self/exe) and then from
//      the source directory this library was compiled from.
// A flag or variable that names a missing directory is an error, not a reason to fall through:
// the user asked for that directory. Throws Error naming every place tried when none exists.
std::filesystem::path resolve_data_dir(const std::optional<std::filesystem::path>& flag = std::nullopt);

}  // namespace yardstick
