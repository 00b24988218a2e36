// Executes Python test programs (a model's solution followed by the benchmark's tests) in the
// sandbox, several at once, and says how each went. The verdict comes from a small test runner
// that executes the program inside the sandboxed interpreter and reports through its own pipe,
// tagged with a per-run random nonce the program never sees on any channel it is handed. A
// program that exits (sys.exit(0), os._exit(0)) or crashes before its tests finish has no
// report and has not passed, whatever its exit code.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "scorers/sandbox.h"

namespace yardstick {

enum class ExecOutcome {
  passed,         // every test ran and none failed
  failed,         // a test assertion failed, or the program ended before its tests finished
  error,          // an exception other than AssertionError (exc_type says which)
  syntax_error,   // the program does not compile
  timeout,        // ran past its wall-clock or CPU-time limit
  memory,         // ran out of its memory limit (MemoryError)
  killed,         // ended by a signal (segfault, abort, the OOM killer, ...)
};

std::string_view to_string(ExecOutcome outcome);

struct ExecResult {
  ExecOutcome outcome = ExecOutcome::error;
  std::string exc_type;   // the exception's type name for failed/error/syntax_error/memory; "" when none
  std::string message;    // the exception's message, or how the program ended
  std::string stdout_text;
  std::string stderr_text;
  bool output_truncated = false;   // stdout or stderr went past the sandbox's cap
  double wall_seconds = 0;
  double cpu_seconds = 0;

  bool passed() const { return outcome == ExecOutcome::passed; }
};

struct PythonExecutorOptions {
  // A path, or a name looked up on PATH when the executor starts: the first match that runs in
  // the sandbox is used.
  std::string python = "python3";
  int workers = 0;                  // programs run at once; 0 = one per core
  bool allow_unsandboxed = false;   // see SandboxOptions
  bool force_unsandboxed = false;   // see SandboxOptions
  SandboxLimits limits = default_limits();

  // Limits for benchmark programs: 10 CPU seconds, 20 wall seconds, 2 GiB of address space,
  // 32 tasks, 64 KiB of output per stream kept.
  static SandboxLimits default_limits();
};

// A pool of workers that run Python programs in the sandbox. Thread-safe. Programs queue and
// run in submission order as workers free up, so grading can overlap generation: submit as
// outputs arrive, collect the futures later.
class PythonExecutor {
 public:
  // Finds the interpreter and checks that it runs in the sandbox; throws SandboxUnavailable
  // (see Sandbox) or Error (no such interpreter, or it can't start).
  explicit PythonExecutor(PythonExecutorOptions options = {});
  // Runs what is already queued, then stops the workers.
  ~PythonExecutor();
  PythonExecutor(const PythonExecutor&) = delete;
  PythonExecutor& operator=(const PythonExecutor&) = delete;

  // Queues one program. The future throws Error only when the sandbox itself fails (no file
  // descriptors or processes left); anything the program does is an ExecResult.
  std::future<ExecResult> submit(std::string program);
  std::future<ExecResult> submit(std::string program, const SandboxLimits& limits);
  // Queues one program and calls `done` on a worker thread once it has run: with a null
  // exception and the result, or with the exception the sandbox threw. `done` must not throw.
  using Callback = std::function<void(std::exception_ptr error, ExecResult result)>;
  void submit(std::string program, const SandboxLimits& limits, Callback done);
  // Runs one program on the calling thread (not through the queue).
  ExecResult run(const std::string& program) const;
  ExecResult run(const std::string& program, const SandboxLimits& limits) const;

  const std::string& python() const { return python_; }   // the resolved interpreter
  const std::string& python_version() const { return python_version_; }   // "3.11.2": part of a run's record
  bool isolated() const { return sandbox_.isolated(); }
  const Sandbox& sandbox() const { return sandbox_; }
  int workers() const { return static_cast<int>(workers_.size()); }
  const SandboxLimits& limits() const { return options_.limits; }

 private:
  struct Job {
    std::string program;
    SandboxLimits limits;
    Callback done;
  };
  void worker_loop();

  PythonExecutorOptions options_;
  Sandbox sandbox_;
  std::string python_;
  std::string python_version_;
  std::vector<std::string> site_packages_;   // put on sys.path by the runner
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// The process's executor for graders called without one (the scorer registry, through which a
// run and `yardstick grade` grade code): one pool sized to the machine's cores, created on first
// use. Process-wide on purpose: the cores and the interpreter are the machine's, whichever run
// or command grades. configure_shared_python_executor() sets its options before the first use;
// once the executor runs, a call asking for the same isolation (allow/force_unsandboxed) changes
// nothing and one asking for another throws Error. shared_python_executor() throws as
// PythonExecutor's constructor does, again on every call while the sandbox can't be set up.
void configure_shared_python_executor(PythonExecutorOptions options);
PythonExecutor& shared_python_executor();

// What about an executor changes verdicts, for a run's record: {"python", "python_version",
// "isolated", "limits": {"wall_seconds", "cpu_seconds", "memory_bytes", "max_processes"}}.
nlohmann::json execution_record(const PythonExecutor& executor);

// How a runner run ended, read from the sandbox's result. `nonce` is the one that run's runner
// was given; reports without it are ignored. Exposed for tests.
ExecResult interpret_python_run(const SandboxResult& run, std::string_view nonce);

// The runner's program text (executed with `python -c`). Exposed for tests and docs.
std::string_view python_runner_source();

// The last max_bytes of text or fewer, starting on a UTF-8 character boundary (for keeping the
// end of a traceback).
std::string utf8_tail(std::string_view text, size_t max_bytes);

}  // namespace yardstick
