// `yardstick compare RUN_A RUN_B`: per task and scorer, B against A on the docs both graded, with a
// paired test; the docs whose verdict flipped; a regression gate for CI (--fail-on-regression exits
// kRegressionExitCode when any task's primary metric is significantly worse in B). Runs made under
// different protocols are refused, naming what differs.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "engine/error.h"
#include "harness/commands.h"
#include "harness/report_data.h"
#include "harness/store.h"
#include "reports/compare.h"

namespace yardstick::cli {

namespace {

using json = nlohmann::json;

// Distinct from 1 (errors, protocol mismatch) and 2 (internal errors), so a CI script can tell
// "the checkpoint regressed" from "the comparison could not be made".
constexpr int kRegressionExitCode = 3;

std::string pct(double fraction) { return fmt::format("{:.1f}", 100.0 * fraction); }

std::string verdict(const TaskComparison& c) {
  return c.regression ? "**worse in B**" : c.improvement ? "better in B" : "within noise";
}

std::string id_list(const std::vector<std::string>& ids, size_t max_shown) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < max_shown; ++i) out += (i ? ", " : "") + ids[i];
  if (ids.size() > max_shown) out += fmt::format(", … and {} more", ids.size() - max_shown);
  return out;
}

// SQL text literal.
std::string sql_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string render_markdown(const std::string& db, const RunRecord& a, const RunRecord& b,
                            const std::vector<TaskComparison>& comparisons, double alpha, size_t max_shown) {
  std::string out = fmt::format("# yardstick compare: {} (A) → {} (B)\n\n", a.name, b.name);
  out += fmt::format("Paired on the docs both runs graded; significant at α = {} (two-sided). "
                     "Differences are B − A in points, with a bootstrap 95% interval.\n\n", alpha);
  out += "| task | scorer | metric | A % | B % | B − A (95% CI) | n | test | p | verdict |\n";
  out += "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& c : comparisons)
    out += fmt::format("| {} | {}{} | {} | {} | {} | {:+.1f} [{:+.1f}, {:+.1f}] | {} | {} | {:.3g} | {} |\n", c.task,
                       c.scorer, c.rank == 0 ? " (primary)" : "", c.metric, pct(c.value_a), pct(c.value_b),
                       -100.0 * c.paired.difference, -100.0 * c.paired.ci_high, -100.0 * c.paired.ci_low, c.paired.n,
                       c.test, c.paired.mcnemar_p, verdict(c));
  out += "\n";
  for (const auto& c : comparisons) {
    if (c.rank != 0) continue;
    out += fmt::format("## {} ({}): docs whose verdict changed\n\n", c.task, c.scorer);
    out += fmt::format("- right in A, wrong in B ({}): {}\n", c.regressed.size(), id_list(c.regressed, max_shown));
    out += fmt::format("- wrong in A, right in B ({}): {}\n", c.fixed.size(), id_list(c.fixed, max_shown));
    if (c.only_in_a || c.only_in_b)
      out += fmt::format("- not compared: {} docs graded only in A, {} only in B\n", c.only_in_a, c.only_in_b);
    const auto& any = !c.regressed.empty() ? c.regressed : c.fixed;
    if (!any.empty())
      out += fmt::format("\nA doc's prompt and both outputs:\n\n    sqlite3 {} \"SELECT r.name, s.prompt, s.output FROM "
                         "samples s JOIN runs r ON r.id = s.run_id WHERE r.name IN ({}, {}) AND s.task = {} AND "
                         "s.doc_id = {}\"\n",
                         db, sql_quote(a.name), sql_quote(b.name), sql_quote(c.task), sql_quote(any.front()));
    out += "\n";
  }
  std::vector<std::string> worse;
  for (const auto& c : comparisons)
    if (c.rank == 0 && c.regression) worse.push_back(c.task);
  out += worse.empty() ? "Result: no task is significantly worse in B.\n"
                       : fmt::format("Result: REGRESSION: significantly worse in B: {}.\n", fmt::join(worse, ", "));
  return out;
}

json to_json(const RunRecord& a, const RunRecord& b, const std::vector<TaskComparison>& comparisons, double alpha) {
  json tasks = json::array();
  for (const auto& c : comparisons)
    tasks.push_back({{"task", c.task},
                     {"scorer", c.scorer},
                     {"primary", c.rank == 0},
                     {"metric", c.metric},
                     {"test", c.test},
                     {"n", c.paired.n},
                     {"a", c.value_a},
                     {"b", c.value_b},
                     {"b_minus_a", -c.paired.difference},
                     {"ci_low", -c.paired.ci_high},
                     {"ci_high", -c.paired.ci_low},
                     {"p_value", c.paired.mcnemar_p},
                     {"regression", c.regression},
                     {"improvement", c.improvement},
                     {"within_noise", !c.paired.significant},
                     {"right_in_a_wrong_in_b", c.regressed},
                     {"wrong_in_a_right_in_b", c.fixed},
                     {"only_in_a", c.only_in_a},
                     {"only_in_b", c.only_in_b}});
  bool regression = false;
  for (const auto& c : comparisons) regression |= c.rank == 0 && c.regression;
  return {{"run_a", a.name}, {"run_b", b.name}, {"alpha", alpha}, {"regression", regression}, {"tasks", tasks}};
}

}  // namespace

void register_compare(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "Compare two runs task by task with paired tests; gate on regressions");
  struct Args {
    std::string db;
    std::string run_a;
    std::string run_b;
    bool fail_on_regression = false;
    double alpha = 0.05;
    std::string format = "md";
    size_t max_shown = 20;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--db", args->db, "SQLite database holding both runs")->required();
  cmd->add_option("RUN_A", args->run_a, "The baseline run")->required();
  cmd->add_option("RUN_B", args->run_b, "The run checked against it")->required();
  cmd->add_flag("--fail-on-regression", args->fail_on_regression,
                fmt::format("Exit with status {} when any task's primary metric is significantly worse in RUN_B",
                            kRegressionExitCode));
  cmd->add_option("--alpha", args->alpha, "Significance level of the paired tests")->check(CLI::Range(1e-9, 0.5));
  cmd->add_option("--format", args->format, "md or json")->check(CLI::IsMember({"md", "json"}));
  cmd->add_option("--max-docs", args->max_shown, "Flipped doc ids listed per task and direction");

  cmd->callback([args] {
    if (!std::filesystem::is_regular_file(args->db))
      throw InputError(fmt::format("database {} does not exist", args->db));
    Store store(args->db);
    RunRecord a = find_run_or_throw(store, args->run_a);
    RunRecord b = find_run_or_throw(store, args->run_b);
    auto differences = protocol_differences(a.config, b.config);
    if (!differences.empty()) {
      std::string what;
      for (const auto& d : differences) what += fmt::format("\n  {}: {} (A) vs {} (B)", d.path, d.a, d.b);
      throw InputError(fmt::format("runs \"{}\" and \"{}\" were not made under the same protocol; they differ in:{}",
                                   a.name, b.name, what));
    }
    // Groups are not needed here: outcomes only.
    RunOutcomes oa = load_run_outcomes(store, a, std::nullopt, false);
    RunOutcomes ob = load_run_outcomes(store, b, std::nullopt, false);
    std::vector<TaskComparison> comparisons;
    for (const auto& [task, scorers_a] : oa.tasks)
      for (const auto& [task_b, scorers_b] : ob.tasks) {
        if (task != task_b) continue;
        for (const auto& sa : scorers_a)
          for (const auto& sb : scorers_b)
            if (sa.scorer == sb.scorer) comparisons.push_back(compare_outcomes(task, sa, sb, args->alpha));
      }
    if (comparisons.empty())
      throw InputError(fmt::format("runs \"{}\" and \"{}\" have no graded task and scorer in common", a.name, b.name));

    if (args->format == "json") fmt::print("{}\n", to_json(a, b, comparisons, args->alpha).dump(2));
    else fmt::print("{}", render_markdown(args->db, a, b, comparisons, args->alpha, args->max_shown));
    bool regression = false;
    for (const auto& c : comparisons) regression |= c.rank == 0 && c.regression;
    if (args->fail_on_regression && regression) {
      std::fflush(stdout);
      throw CLI::RuntimeError(kRegressionExitCode);
    }
  });
}

}  // namespace yardstick::cli
