// Placeholder registration until this command is built; it refuses to run.
#include "engine/error.h"
#include "harness/commands.h"

namespace yardstick::cli {

void register_synth_model(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth-model", "(not built yet)");
  cmd->allow_extras();
  cmd->callback([] { throw Error("'synth-model' is not implemented yet"); });
}

}  // namespace yardstick::cli
