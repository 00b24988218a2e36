#include "scorers/code_exec.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace yardstick {
namespace {

// The test runner. It reads its input from stdin (see runner_input), points stdin at
// /dev/null so the program finds nothing there, puts the interpreter's site-packages on
// sys.path (it runs with -S: the site module and the .pth files it executes cost several times
// the rest of the startup), compiles and executes the program as module "__program__" (so
// an `if __name__ == "__main__":` block does not run, as in human-eval), and reports on fd 3,
// one line per event: "<nonce> <status> x<hex of exception type> x<hex of message>". It
// imports nothing beyond os and sys (json would pull in re and double its cost). The nonce
// lives only in this process's memory: a program can't produce a report without hunting for
// it there (see docs/sandbox.md). os._exit after the report: nothing the program registered
// (atexit, threads, finalizers) runs after it.
constexpr std::string_view kRunner = R"PY(
import os, sys

def _yardstick_runner():
    data = sys.stdin.buffer.read()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.set_inheritable(3, False)
    nonce, _, data = data.partition(b"\n")
    nonce = nonce.decode()
    count, _, data = data.partition(b"\n")
    for _ in range(int(count)):
        path, _, data = data.partition(b"\n")
        sys.path.append(path.decode("utf-8", "surrogateescape"))

    def report(status, exc=None):
        exc_type, message = "", ""
        if exc is not None:
            exc_type = type(exc).__name__
            try:
                message = str(exc)[:2000]
            except BaseException:
                message = "<unprintable>"
        line = "\n%s %s x%s x%s\n" % (nonce, status, exc_type.encode("utf-8", "replace").hex(),
                                     message.encode("utf-8", "replace").hex())
        try:
            os.write(3, line.encode())
        except OSError:
            pass

    report("started")
    try:
        code = compile(data, "program.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:   # ValueError: a NUL byte in the source
        report("syntax_error", e)
        os._exit(0)
    module = type(sys)("__program__")
    sys.modules["__program__"] = module
    del data
    try:
        exec(code, module.__dict__)
    except AssertionError as e:
        report("failed", e)
    except MemoryError as e:
        report("memory", e)
    except SystemExit as e:
        report("failed", e)
    except BaseException as e:
        report("error", e)
    else:
        report("passed")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(0)

_yardstick_runner()
)PY";

std::string make_nonce() {
  thread_local std::random_device device;   // getrandom(2) on Linux: not guessable from inside
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", device(), device(), device(), device());
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

// Program output as valid UTF-8 (invalid bytes become U+FFFD), so it can go into JSON and
// SQLite as text whatever the program printed.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (b(i + k) & 0xC0) == 0x80;
    if (ok && len > 1) {
      uint32_t cp = c & (0x7F >> len);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (b(i + k) & 0x3F);
      const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= min_for_len[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

// A Python MemoryError, or the interpreter failing to allocate before it could raise one.
bool mentions_memory_error(std::string_view stderr_text) {
  return stderr_text.find("MemoryError") != std::string_view::npos ||
         stderr_text.find("Cannot allocate memory") != std::string_view::npos ||
         stderr_text.find("out of memory") != std::string_view::npos;
}

struct RunnerReport {
  std::string status;
  std::string exc_type;
  std::string message;
};

// "x" followed by hex digits, decoded; nullopt for anything else.
std::optional<std::string> unhex(std::string_view field) {
  if (!field.starts_with('x') || field.size() % 2 != 1) return std::nullopt;
  std::string out;
  for (size_t i = 1; i < field.size(); i += 2) {
    auto digit = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
    int hi = digit(field[i]), lo = digit(field[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// The runner's lines that carry this run's nonce, in order. Lines a program wrote to fd 3
// itself don't carry it and are skipped.
std::vector<RunnerReport> parse_reports(std::string_view report, std::string_view nonce) {
  std::vector<RunnerReport> out;
  if (nonce.empty()) return out;
  size_t pos = 0;
  while (pos < report.size()) {
    size_t end = std::min(report.find('\n', pos), report.size());
    std::string_view line = report.substr(pos, end - pos);
    pos = end + 1;
    std::string_view fields[4];
    size_t n = 0;
    while (n < 4 && !line.empty()) {
      size_t space = line.find(' ');
      fields[n++] = line.substr(0, space);
      line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    }
    if (n != 4 || !line.empty() || fields[0] != nonce) continue;
    std::optional<std::string> exc_type = unhex(fields[2]), message = unhex(fields[3]);
    if (!exc_type || !message) continue;
    out.push_back({std::string(fields[1]), std::move(*exc_type), std::move(*message)});
  }
  return out;
}

std::optional<ExecOutcome> outcome_from_status(std::string_view status) {
  if (status == "passed") return ExecOutcome::passed;
  if (status == "failed") return ExecOutcome::failed;
  if (status == "error") return ExecOutcome::error;
  if (status == "syntax_error") return ExecOutcome::syntax_error;
  if (status == "memory") return ExecOutcome::memory;
  return std::nullopt;
}

// Every executable `name` on PATH, in PATH order; `name` itself when it is a path.
std::vector<std::string> candidates_on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return {name};
  std::vector<std::string> found;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    const std::string candidate = (std::filesystem::path(dir) / name).string();
    if (access(candidate.c_str(), X_OK) == 0 && std::find(found.begin(), found.end(), candidate) == found.end())
      found.push_back(candidate);
  }
  if (found.empty())
    throw Error(fmt::format("python interpreter \"{}\" not found on PATH ({})", name, path != nullptr ? path : ""));
  return found;
}

// What the runner reads from stdin: the nonce, the number of site-packages directories, each
// on its line, then the program's bytes as they are.
std::string runner_input(std::string_view nonce, const std::vector<std::string>& site_packages, std::string_view program) {
  std::string input = fmt::format("{}\n", nonce);
  std::vector<std::string_view> dirs;
  for (const auto& dir : site_packages)
    if (dir.find('\n') == std::string::npos) dirs.push_back(dir);
  input += fmt::format("{}\n", dirs.size());
  for (auto dir : dirs) input += fmt::format("{}\n", dir);
  input += program;
  return input;
}

SandboxJob runner_job(const std::string& python, const std::vector<std::string>& site_packages,
                      const std::string& program, std::string_view nonce, const SandboxLimits& limits) {
  SandboxJob job;
  // -S: no site module (the runner adds site-packages itself); -B: no .pyc files.
  job.argv = {python, "-S", "-B", "-c", std::string(kRunner)};
  const std::string dir = std::filesystem::path(python).parent_path().string();
  job.env = {
      "PATH=" + dir + ":/usr/local/bin:/usr/bin:/bin",
      "PYTHONDONTWRITEBYTECODE=1",
      "PYTHONHASHSEED=0",   // set and dict-of-str iteration order the same in every run
      "PYTHONIOENCODING=utf-8",
  };
  job.stdin_data = runner_input(nonce, site_packages, program);
  job.limits = limits;
  return job;
}

}  // namespace

std::string_view to_string(ExecOutcome outcome) {
  switch (outcome) {
    case ExecOutcome::passed: return "passed";
    case ExecOutcome::failed: return "failed";
    case ExecOutcome::error: return "error";
    case ExecOutcome::syntax_error: return "syntax_error";
    case ExecOutcome::timeout: return "timeout";
    case ExecOutcome::memory: return "memory";
    case ExecOutcome::killed: return "killed";
  }
  return "?";
}

std::string_view python_runner_source() { return kRunner; }

std::string utf8_tail(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t start = text.size() - max_bytes;
  while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
  return std::string(text.substr(start));
}

ExecResult interpret_python_run(const SandboxResult& run, std::string_view nonce) {
  ExecResult e;
  e.stdout_text = valid_utf8(run.stdout_text);
  e.stderr_text = valid_utf8(run.stderr_text);
  e.output_truncated = run.stdout_truncated || run.stderr_truncated;
  e.wall_seconds = run.wall_seconds;
  e.cpu_seconds = run.cpu_seconds;

  const std::vector<RunnerReport> reports = parse_reports(run.report, nonce);
  const bool started = !reports.empty() && reports.front().status == "started";
  const RunnerReport* final_report = nullptr;
  for (const auto& r : reports)
    if (r.status != "started" && outcome_from_status(r.status)) final_report = &r;
  // A pass counts only from a runner that then exited cleanly; a failure counts as reported.
  const bool clean_exit = run.exit == SandboxExit::exited && run.exit_code == 0;
  if (final_report != nullptr && (final_report->status != "passed" || clean_exit)) {
    e.outcome = *outcome_from_status(final_report->status);
    e.exc_type = valid_utf8(final_report->exc_type);
    e.message = valid_utf8(final_report->message);
    return e;
  }
  if (run.exit == SandboxExit::wall_timeout) {
    e.outcome = ExecOutcome::timeout;
    e.message = "ran past the wall-clock limit";
  } else if (run.cpu_limit_hit) {
    e.outcome = ExecOutcome::timeout;
    e.message = "used up its CPU-time limit";
  } else if (mentions_memory_error(run.stderr_text)) {
    e.outcome = ExecOutcome::memory;
    e.exc_type = "MemoryError";
    e.message = "ran out of memory: " + utf8_tail(e.stderr_text, 300);
  } else if (run.exit == SandboxExit::signaled) {
    e.outcome = ExecOutcome::killed;
    e.message = "killed by " + signal_name(run.signal);
  } else if (!started) {
    e.outcome = ExecOutcome::error;
    e.message = fmt::format("the test runner did not start (exit status {}): {}", run.exit_code, utf8_tail(e.stderr_text, 300));
  } else {
    e.outcome = ExecOutcome::failed;
    e.message = fmt::format("exited with status {} before the tests finished", run.exit_code);
  }
  return e;
}

SandboxLimits PythonExecutorOptions::default_limits() {
  SandboxLimits limits;
  // CPU time is the measure of "too slow" (the slowest MBPP reference, task 123, needs ~4 s);
  // the wall limit, twice as long, only catches programs that sleep or block, and leaves room
  // for a loaded machine.
  limits.wall_seconds = 20;
  limits.cpu_seconds = 10;
  limits.memory_bytes = int64_t(2) << 30;   // address space: the interpreter and a library's threads' stacks fit
  limits.max_processes = 32;
  limits.max_output_bytes = 64 << 10;       // enough to see a traceback
  return limits;
}

PythonExecutor::PythonExecutor(PythonExecutorOptions options)
    : options_(std::move(options)),
      sandbox_(SandboxOptions{options_.allow_unsandboxed, options_.force_unsandboxed}) {
  // The first interpreter on PATH that runs in the sandbox. One under a private home
  // directory (pyenv's in /root) does not when the program runs as nobody (see Sandbox); the
  // system's then does. Asking the interpreter itself also resolves a launcher script (pyenv's
  // shim, a venv link) to the binary it starts, and finds its site-packages.
  std::string failures;
  for (const std::string& candidate : candidates_on_path(options_.python)) {
    SandboxJob probe;
    probe.argv = {candidate, "-s", "-c",
                  "import json, site, sys; print(json.dumps({'executable': sys.executable, "
                  "'version': sys.version.split()[0], 'site': site.getsitepackages()}))"};
    probe.limits = options_.limits;
    probe.limits.wall_seconds = std::max(probe.limits.wall_seconds, 60.0);
    SandboxResult r;
    try {
      r = sandbox_.run(probe);
    } catch (const Error& e) {   // not executable by the sandbox's user
      failures += fmt::format("\n  {}: {}", candidate, e.what());
      continue;
    }
    nlohmann::json answer = nlohmann::json::parse(r.stdout_text, nullptr, /*allow_exceptions=*/false);
    if (r.exit != SandboxExit::exited || r.exit_code != 0 || !answer.is_object() || !answer["executable"].is_string() ||
        !answer["version"].is_string() || !answer["site"].is_array()) {
      failures += fmt::format("\n  {}: {}", candidate, utf8_tail(r.stderr_text, 300));
      continue;
    }
    const std::string executable = answer["executable"].get<std::string>();
    python_ = executable.starts_with('/') && access(executable.c_str(), X_OK) == 0 ? executable : candidate;
    python_version_ = answer["version"].get<std::string>();
    for (const auto& dir : answer["site"])
      if (dir.is_string()) site_packages_.push_back(dir.get<std::string>());
    break;
  }
  if (python_.empty())
    throw Error(fmt::format("no python interpreter \"{}\" runs in the sandbox (configure one readable by others):{}",
                            options_.python, failures));

  int n = options_.workers > 0 ? options_.workers : static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 0; i < std::max(n, 1); ++i) workers_.emplace_back([this] { worker_loop(); });
}

PythonExecutor::~PythonExecutor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

std::future<ExecResult> PythonExecutor::submit(std::string program) { return submit(std::move(program), options_.limits); }

std::future<ExecResult> PythonExecutor::submit(std::string program, const SandboxLimits& limits) {
  auto promise = std::make_shared<std::promise<ExecResult>>();
  std::future<ExecResult> future = promise->get_future();
  submit(std::move(program), limits, [promise](std::exception_ptr error, ExecResult result) {
    if (error) promise->set_exception(error);
    else promise->set_value(std::move(result));
  });
  return future;
}

void PythonExecutor::submit(std::string program, const SandboxLimits& limits, Callback done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(Job{std::move(program), limits, std::move(done)});
  }
  cv_.notify_one();
}

ExecResult PythonExecutor::run(const std::string& program) const { return run(program, options_.limits); }

ExecResult PythonExecutor::run(const std::string& program, const SandboxLimits& limits) const {
  const std::string nonce = make_nonce();
  return interpret_python_run(sandbox_.run(runner_job(python_, site_packages_, program, nonce, limits)), nonce);
}

namespace {

struct SharedExecutor {
  std::mutex mu;
  PythonExecutorOptions options;
  std::unique_ptr<PythonExecutor> executor;
};

SharedExecutor& shared() {
  static SharedExecutor* instance = new SharedExecutor();   // never destroyed: workers may outlive main's statics
  return *instance;
}

}  // namespace

void configure_shared_python_executor(PythonExecutorOptions options) {
  SharedExecutor& s = shared();
  std::lock_guard lock(s.mu);
  if (s.executor) {
    if (options.allow_unsandboxed != s.options.allow_unsandboxed || options.force_unsandboxed != s.options.force_unsandboxed)
      throw Error("the shared Python executor already runs with another sandbox setting; configure it before grading code");
    return;
  }
  s.options = std::move(options);
}

PythonExecutor& shared_python_executor() {
  SharedExecutor& s = shared();
  std::lock_guard lock(s.mu);
  if (!s.executor) s.executor = std::make_unique<PythonExecutor>(s.options);
  return *s.executor;
}

nlohmann::json execution_record(const PythonExecutor& executor) {
  const SandboxLimits& l = executor.limits();
  return {{"python", executor.python()},
          {"python_version", executor.python_version()},
          {"isolated", executor.isolated()},
          {"limits",
           {{"wall_seconds", l.wall_seconds},
            {"cpu_seconds", l.cpu_seconds},
            {"memory_bytes", l.memory_bytes},
            {"max_processes", l.max_processes}}}};
}

void PythonExecutor::worker_loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;   // stopping, and everything queued has run
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    ExecResult result;
    std::exception_ptr error;
    try {
      result = run(job.program, job.limits);
    } catch (...) {
      error = std::current_exception();
    }
    job.done(error, std::move(result));
  }
}

}  // namespace yardstick
