// Placeholder registration until this command is built; it refuses to run.
#include "engine/error.h"
#include "harness/commands.h"

namespace yardstick::cli {

void register_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "(not built yet)");
  cmd->allow_extras();
  cmd->callback([] { throw Error("'generate' is not implemented yet"); });
}

}  // namespace yardstick::cli
