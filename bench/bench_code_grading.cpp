// Code-grading throughput: the canonical HumanEval solutions (164 programs, each with its
// tests) executed in the sandbox with all workers busy, in programs per second.
//
//   bench_code_grading [--workers N] [--rounds R] [--data FILE] [--unsandboxed] [--breakdown]
//
// Every round submits all 164 programs at once and waits for them; a round is timed from the
// first submission to the last result. The first round also warms the page cache. Prints one
// line per round and a summary; exits non-zero if any canonical solution did not pass.
// --breakdown then runs, one at a time, 100 sandboxed /bin/true (the sandbox's own cost),
// 100 bare interpreter starts in the sandbox, and 100 runner executions of an empty program,
// each as wall and CPU time (this process and its children) per run.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "datasets/readers.h"
#include "scorers/code_exec.h"
#include "scorers/code_grader.h"

namespace {

struct Args {
  int workers = 0;
  int rounds = 3;
  std::filesystem::path data = std::filesystem::path(YARDSTICK_SOURCE_DIR) / "../shared/datasets/humaneval/HumanEval.jsonl.gz";
  bool unsandboxed = false;
  bool breakdown = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw yardstick::InputError(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--workers") a.workers = std::stoi(value());
    else if (arg == "--rounds") a.rounds = std::max(1, std::stoi(value()));
    else if (arg == "--data") a.data = value();
    else if (arg == "--unsandboxed") a.unsandboxed = true;
    else if (arg == "--breakdown") a.breakdown = true;
    else throw yardstick::InputError(fmt::format("unknown argument {} (see the comment at the top of bench_code_grading.cpp)", arg));
  }
  return a;
}

double cpu_seconds_so_far() {
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    getrusage(who, &u);
    total += double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }
  return total;
}

// Runs `one` n times in a row and prints its wall and CPU time per run.
template <typename F>
void time_each(const char* what, int n, F one) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds_so_far();
  for (int i = 0; i < n; ++i) one();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{:<40} {:6.1f} ms wall, {:6.1f} ms CPU per run\n", what, 1e3 * wall / n, 1e3 * (cpu_seconds_so_far() - cpu_start) / n);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace yardstick;
  using Clock = std::chrono::steady_clock;
  try {
    const Args args = parse(argc, argv);
    std::vector<std::string> programs;
    for (const auto& row : read_jsonl(args.data)) {
      HumanEvalProblem p = humaneval_problem(row);
      programs.push_back(humaneval_program(p, p.canonical_solution));
    }
    PythonExecutorOptions options;
    options.workers = args.workers;
    options.force_unsandboxed = args.unsandboxed;
    PythonExecutor executor(options);
    fmt::print("python {}, {} workers, {}, {} programs per round, {} cores\n", executor.python(), executor.workers(),
               executor.isolated() ? "namespaces" : "UNSANDBOXED", programs.size(), std::thread::hardware_concurrency());

    std::vector<double> rates;
    int not_passed = 0;
    for (int round = 0; round < args.rounds; ++round) {
      const auto start = Clock::now();
      std::vector<std::future<ExecResult>> futures;
      for (const auto& p : programs) futures.push_back(executor.submit(p));
      double cpu = 0;
      int passed = 0;
      for (auto& f : futures) {
        ExecResult r = f.get();
        cpu += r.cpu_seconds;
        passed += r.passed();
      }
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      rates.push_back(double(programs.size()) / seconds);
      not_passed += int(programs.size()) - passed;
      fmt::print("round {}: {:.2f} s, {:.1f} programs/s, {}/{} passed, program CPU {:.3f} s/program\n", round + 1,
                 seconds, rates.back(), passed, programs.size(), cpu / double(programs.size()));
    }
    std::sort(rates.begin(), rates.end());
    fmt::print("median {:.1f} programs/s over {} rounds (best {:.1f})\n", rates[rates.size() / 2], rates.size(), rates.back());
    if (args.breakdown) {
      SandboxJob true_job;
      true_job.argv = {"/bin/true"};
      time_each("sandbox alone (/bin/true)", 100, [&] { executor.sandbox().run(true_job); });
      SandboxJob python_job;
      python_job.argv = {executor.python(), "-S", "-B", "-c", "pass"};
      time_each("+ interpreter start (python -S -c pass)", 100, [&] { executor.sandbox().run(python_job); });
      time_each("+ test runner (empty program)", 100, [&] { executor.run(""); });
    }
    return not_passed == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_code_grading: {}\n", e.what());
    return 2;
  }
}
