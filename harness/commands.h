// Each `yardstick` subcommand lives in its own harness/cmd_*.cpp and registers itself here.
// A command's callback throws yardstick::Error on failure; main() prints it and exits 1.
#pragma once

#include <cstdint>

#include <CLI/CLI.hpp>

namespace yardstick::cli {

// Checks of the numeric options several commands share: a value out of range is refused with
// the option named and the range ("--limit: must be >= 0 (got -1)"), never taken as "unset".
CLI::Validator at_least(int64_t min);   // an integer >= min
CLI::Validator thread_count();          // 0 (all cores) up to 4 x the machine's cores

void register_tokenize(CLI::App& app);     // harness/cmd_tokenize.cpp
void register_score(CLI::App& app);        // harness/cmd_score.cpp
void register_generate(CLI::App& app);     // harness/cmd_generate.cpp
void register_run(CLI::App& app);          // harness/cmd_run.cpp
void register_report(CLI::App& app);       // harness/cmd_report.cpp
void register_compare(CLI::App& app);      // harness/cmd_compare.cpp
void register_grade(CLI::App& app);        // harness/cmd_grade.cpp
void register_synth_model(CLI::App& app);  // harness/cmd_synth_model.cpp
void register_bench(CLI::App& app);        // harness/cmd_bench.cpp
void register_suites(CLI::App& app);       // harness/cmd_suites.cpp

}  // namespace yardstick::cli
