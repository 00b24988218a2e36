// yardstick: benchmark and evaluation harness with an embedded inference engine.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "engine/error.h"
#include "harness/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"yardstick: reproduce and regression-test LLM benchmark results", "yardstick"};
  app.set_version_flag("--version", std::string("yardstick ") + YARDSTICK_VERSION);
  app.require_subcommand(1);

  yardstick::cli::register_tokenize(app);
  yardstick::cli::register_score(app);
  yardstick::cli::register_generate(app);
  yardstick::cli::register_grade(app);
  yardstick::cli::register_run(app);
  yardstick::cli::register_suites(app);
  yardstick::cli::register_report(app);
  yardstick::cli::register_compare(app);
  yardstick::cli::register_synth_model(app);
  yardstick::cli::register_bench(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const yardstick::Error& e) {
    fmt::print(stderr, "yardstick: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "yardstick: internal error: {}\n", e.what());
    return 2;
  }
  return 0;
}
