// Runs one untrusted program as its own process tree, isolated by the OS: fresh Linux user, pid,
// mount, network, ipc and uts namespaces; the host's filesystem visible read-only with a private
// tmpfs scratch directory on /tmp; no network (only a loopback that is down); a clean
// environment; rlimits; a wall-clock limit that kills the whole tree; captured output capped in
// size. docs/sandbox.md gives the threat model: what this covers and what it does not.
//
// The sandbox knows nothing of Python or tests: it runs argv and reports how the process ended
// and what it wrote. scorers/code_exec.h builds the Python test runner on top of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/error.h"

namespace yardstick {

// The sandbox can't be set up (no user namespaces, a mount the kernel refuses, ...) and the
// caller did not opt in to running programs without isolation.
class SandboxUnavailable : public Error {
 public:
  using Error::Error;
};

struct SandboxLimits {
  double wall_seconds = 10;               // the whole process tree is killed past this
  double cpu_seconds = 10;                // RLIMIT_CPU per process (whole seconds, rounded up)
  int64_t memory_bytes = int64_t(1) << 30;   // RLIMIT_AS per process: address space, not RSS
  int max_processes = 16;                 // RLIMIT_NPROC: tasks (processes and threads) of the sandbox
  int64_t max_file_bytes = 16 << 20;      // RLIMIT_FSIZE: the largest file a program may write
  int max_open_files = 256;               // RLIMIT_NOFILE
  int64_t scratch_bytes = 64 << 20;       // size of the tmpfs scratch directory (namespaces only)
  size_t max_output_bytes = 1 << 20;      // kept per stream; the rest is read and dropped
};

struct SandboxJob {
  std::vector<std::string> argv;   // argv[0]: absolute path of the executable
  std::vector<std::string> env;    // "NAME=value" added to the sandbox's own clean environment
  std::string stdin_data;          // the program's stdin; end of file after it
  SandboxLimits limits;
};

// How the program (the process started from argv) ended.
enum class SandboxExit {
  exited,         // it returned from main or called exit(); exit_code says with what
  signaled,       // a signal ended it (SIGKILL, SIGSEGV, SIGXCPU, ...); signal says which
  wall_timeout,   // it was still running at wall_seconds and the tree was killed
};

struct SandboxResult {
  SandboxExit exit = SandboxExit::exited;
  int exit_code = 0;           // when exited
  int signal = 0;              // when signaled
  bool cpu_limit_hit = false;  // it used up cpu_seconds (ended by SIGXCPU, or SIGKILL at the hard limit)
  std::string stdout_text;
  std::string stderr_text;
  // What the program wrote to file descriptor 3, a pipe apart from stdout/stderr through which a
  // trusted harness running inside the program (a test runner) reports.
  std::string report;
  bool stdout_truncated = false;   // more than max_output_bytes were written; the rest was dropped
  bool stderr_truncated = false;
  bool report_truncated = false;
  double wall_seconds = 0;     // from start to the end of the whole tree
  double cpu_seconds = 0;      // user + system time of the program process itself
  int64_t max_rss_bytes = 0;   // its peak resident memory
  bool isolated = false;       // it ran in namespaces (false only with allow_unsandboxed)
};

struct SandboxOptions {
  // When namespaces can't be set up, run programs anyway, as plain child processes that still
  // get the rlimits, the wall-clock limit, a clean environment and a fresh scratch directory,
  // but can read and write whatever the harness's user can and can reach the network.
  bool allow_unsandboxed = false;
  // Skip the namespaces even where they work: the unsandboxed mode on purpose (its tests, a
  // host where they are known to be broken). Implies allow_unsandboxed.
  bool force_unsandboxed = false;
};

// Runs programs. Thread-safe: run() may be called from many threads at once, each running its
// own program. The calling process must not reap children it did not start with waitpid(-1).
class Sandbox {
 public:
  // Probes once that namespaces and the mounts can be set up. Throws SandboxUnavailable when
  // they can't, unless options.allow_unsandboxed, in which case programs run without them.
  explicit Sandbox(SandboxOptions options = {});

  // Runs job.argv to completion (or to its wall limit) and returns how it ended. Throws Error
  // for a job that can't be started (argv[0] not executable, no file descriptors left);
  // anything the program itself does is a result, never an exception.
  SandboxResult run(const SandboxJob& job) const;

  bool isolated() const { return isolated_; }
  // Why the namespaces could not be set up; empty when isolated().
  const std::string& unavailable_reason() const { return unavailable_reason_; }

 private:
  bool isolated_ = true;
  std::string unavailable_reason_;
};

}  // namespace yardstick
