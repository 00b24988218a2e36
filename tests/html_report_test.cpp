// The HTML report opens in a real browser: headless Chromium loads the file, and the DOM it builds
// must hold the report's charts (overview with published markers, per-subject bars, the trend
// across runs) and nothing that reaches outside the file. Chromium is installed by
// scripts/setup.sh, so its absence fails; YARDSTICK_NO_BROWSER=1 skips (machines without it).
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "reports/html.h"
#include "reports/results.h"
#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// A run with a published number to compare with and a per-subject breakdown, built from outcomes
// the way `yardstick report` builds it.
RunReport sample_run(const std::string& name, int right_of_ten) {
  ScorerOutcomes primary{"equivalence", 0, {}};
  const char* subjects[] = {"Algebra", "Geometry", "Number Theory"};
  for (int i = 0; i < 30; ++i)
    primary.docs.push_back({std::to_string(i), 1, i % 10 < right_of_ten ? 1 : 0, {{"subject", subjects[i % 3]}}});
  RunReport r;
  r.run_name = name;
  r.status = "finished";
  r.model_name = "deepseek-llm-7b-base";
  r.engine_build = "yardstick test <build> & co";
  r.against = "deepseek-llm-7b-base";
  TaskReport t;
  t.task = "math";
  t.version = 1;
  t.shots = 4;
  t.prompt_style = "base";
  t.metrics = summarize_metrics({primary});
  t.breakdowns = summarize_breakdowns(primary);
  t.protocol = {{"name", "math"}, {"shots", 4}, {"stop", {"\nProblem:"}}, {"max_new_tokens", 1024},
                {"spec", {{"scorer", "math"}, {"output_type", "generate_until"},
                          {"styles", {{"base", {{"query_template", "Problem:\n{problem}\n\nSolution:"}}}}}}}};
  PublishedRecord p;
  p.model = "deepseek-llm-7b-base";
  p.benchmark = "MATH";
  p.value = 15.8;
  p.metric = "acc";
  p.unit = "percent";
  p.percent = true;
  p.shots = 4;
  p.source = "PAPER";
  t.published = p;
  r.tasks.push_back(t);
  return r;
}

struct Browser {
  int code = -1;
  std::string dom;
};

// chromium --headless on `page`: the serialised DOM, and a screenshot when `png` is given.
Browser open_in_chromium(const fs::path& page, const fs::path& work, const fs::path& png) {
  fs::path dom = work / "dom.html", log = work / "chromium.log";
  std::string common = "timeout 120 chromium --headless --disable-gpu --no-sandbox --no-first-run "
                       "--user-data-dir=" + (work / "profile").string() + " --window-size=1100,2200 ";
  std::string cmd = common + "--dump-dom 'file://" + page.string() + "' > '" + dom.string() + "' 2> '" + log.string() + "'";
  Browser b;
  int status = std::system(cmd.c_str());
  b.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  b.dom = test::read_text(dom);
  if (!png.empty()) {
    std::string shot = common + "--screenshot='" + png.string() + "' 'file://" + page.string() + "' >> '" +
                       log.string() + "' 2>&1";
    std::system(shot.c_str());
  }
  return b;
}

class HtmlInBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* no = std::getenv("YARDSTICK_NO_BROWSER"); no && std::string(no) == "1")
      GTEST_SKIP() << "YARDSTICK_NO_BROWSER=1: not opening the report in Chromium";
    ASSERT_EQ(std::system("command -v chromium > /dev/null 2>&1"), 0)
        << "chromium is not installed (scripts/setup.sh installs it; set YARDSTICK_NO_BROWSER=1 to skip)";
    work = test::make_temp_dir("html-report");
  }
  fs::path work;
};

TEST_F(HtmlInBrowser, TheReportLoadsWithItsChartsAndReachesNothingOutside) {
  std::string html = render_html({sample_run("ckpt-1000", 2), sample_run("ckpt-2000", 3), sample_run("ckpt-3000", 5)});
  // Self-contained: no scripts, no links, no remote resources (the SVG namespace is a name, not a fetch).
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  EXPECT_THAT(html, Not(HasSubstr("https:")));
  fs::path page = work / "report.html";
  std::ofstream(page) << html;
  fs::path png = std::getenv("YARDSTICK_SCREENSHOT") ? fs::path(std::getenv("YARDSTICK_SCREENSHOT")) : work / "shot.png";

  Browser b = open_in_chromium(page, work, png);
  ASSERT_EQ(b.code, 0) << test::read_text(work / "chromium.log");
  // The browser parsed the charts into SVG elements (a broken document would leave them out or as text).
  EXPECT_THAT(b.dom, HasSubstr("<svg class=\"chart\" id=\"trend-chart\""));
  EXPECT_THAT(b.dom, HasSubstr("<svg class=\"chart\" id=\"run0-overview\""));
  EXPECT_THAT(b.dom, HasSubstr("<svg class=\"chart\" id=\"run2-math-by-subject\""));
  EXPECT_THAT(b.dom, HasSubstr("class=\"reference\""));   // the published marker
  EXPECT_THAT(b.dom, HasSubstr("<polyline class=\"series\""));
  EXPECT_THAT(b.dom, HasSubstr("Number Theory"));
  EXPECT_THAT(b.dom, HasSubstr("yardstick test &lt;build&gt; &amp; co"));   // text escaped, not markup
  EXPECT_THAT(b.dom, HasSubstr("<table class=\"protocol\">"));
  EXPECT_GT(fs::file_size(png), 10000u) << "no screenshot";
}

TEST_F(HtmlInBrowser, TheCommandWritesAReportTheBrowserOpens) {
  fs::path db = work / "runs.db", page = work / "cli.html";
  ASSERT_EQ(test::run_cli({"run", "--model", "gold", "--tasks", "math", "--limit", "12", "--db", db.string(),
                           "--run-name", "g", "--data-dir", (test::shared_dir() / "datasets").string()})
                .code,
            0);
  test::CliResult r = test::run_cli({"report", "--db", db.string(), "--format", "html", "--out", page.string(),
                                     "--data-dir", (test::shared_dir() / "datasets").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  Browser b = open_in_chromium(page, work, {});
  ASSERT_EQ(b.code, 0) << test::read_text(work / "chromium.log");
  EXPECT_THAT(b.dom, HasSubstr("<svg class=\"chart\" id=\"run0-overview\""));
  EXPECT_THAT(b.dom, HasSubstr("<svg class=\"chart\" id=\"run0-math-by-level\""));
  EXPECT_THAT(b.dom, HasSubstr("<svg class=\"chart\" id=\"run0-math-by-subject\""));
}

}  // namespace
}  // namespace yardstick
