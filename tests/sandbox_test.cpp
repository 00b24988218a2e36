// The sandbox and the Python executor: what a program sees (filesystem, processes, network,
// environment, identity), how each way of ending becomes an outcome, and the hostile corpus
// (docs/sandbox.md): every case gets its verdict, leaves no process behind and changes nothing
// on the host.
#include "scorers/sandbox.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scorers/code_exec.h"
#include "tests/test_paths.h"

namespace yardstick {

void PrintTo(ExecOutcome outcome, std::ostream* os) { *os << to_string(outcome); }

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// ======================================================================= helpers

std::string random_hex(int n) {
  static std::random_device device;
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back("0123456789abcdef"[device() % 16]);
  return s;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Host processes whose command name (/proc/PID/comm) is `name`: how the tests find what a
// sandboxed program left behind, since every process it forks inherits the name it set.
std::vector<int> processes_named(const std::string& name) {
  std::vector<int> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit)) continue;
    std::string comm = read_text(entry.path() / "comm");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm == name) found.push_back(std::stoi(pid));
  }
  return found;
}

// A process name no other process has (comm holds 15 characters).
std::string unique_name() { return "ysbx" + random_hex(10); }

// Python that renames its process to `name`.
std::string set_process_name(const std::string& name) {
  return fmt::format("import ctypes\nctypes.CDLL(None).prctl(15, b'{}', 0, 0, 0)\n", name);
}

// Limits for programs expected to end by themselves: roomy, so that a loaded machine can't
// turn an expected verdict into a timeout.
SandboxLimits roomy_limits() {
  SandboxLimits limits = PythonExecutorOptions::default_limits();
  limits.wall_seconds = 120;
  limits.cpu_seconds = 60;
  limits.memory_bytes = int64_t(512) << 20;
  limits.max_output_bytes = 64 << 10;
  return limits;
}

// Short limits for the programs that run until they are stopped, to keep the suite fast.
SandboxLimits short_limits() {
  SandboxLimits limits = roomy_limits();
  limits.wall_seconds = 2;
  limits.cpu_seconds = 2;
  return limits;
}

PythonExecutor& executor() {
  static PythonExecutor* instance = [] {
    PythonExecutorOptions options;
    options.workers = 2;
    options.limits = roomy_limits();
    return new PythonExecutor(options);
  }();
  return *instance;
}

PythonExecutor& unsandboxed_executor() {
  static PythonExecutor* instance = [] {
    PythonExecutorOptions options;
    options.workers = 1;
    options.force_unsandboxed = true;
    options.limits = roomy_limits();
    return new PythonExecutor(options);
  }();
  return *instance;
}

const Sandbox& sandbox() {
  static const Sandbox instance;
  return instance;
}

SandboxResult run_shell(const std::string& script, const std::string& stdin_data = "") {
  SandboxJob job;
  job.argv = {"/bin/sh", "-c", script};
  job.stdin_data = stdin_data;
  job.limits.wall_seconds = 10;
  return sandbox().run(job);
}

std::set<std::string> lines_of(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.insert(line);
  return out;
}

// A directory outside /tmp (beside the test binary, on the host's real filesystem) holding
// one file, for programs to try to change.
class VictimDir {
 public:
  VictimDir() : path_(fs::read_symlink("/proc/self/exe").parent_path() / ("sandbox-victim-" + random_hex(8))) {
    fs::create_directories(path_);
    std::ofstream(path_ / "keep.txt") << "keep";
  }
  ~VictimDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  fs::path keep() const { return path_ / "keep.txt"; }
  // Exactly as created.
  bool untouched() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename().string());
    return names == std::vector<std::string>{"keep.txt"} && read_text(keep()) == "keep";
  }

 private:
  fs::path path_;
};

// ======================================================================= what a program sees

TEST(Sandbox, NamespacesAreAvailableHere) {
  // The rest of this suite tests isolation; on a host without user namespaces it would test
  // the unsandboxed mode instead, so say so loudly.
  EXPECT_TRUE(sandbox().isolated()) << sandbox().unavailable_reason();
}

TEST(Sandbox, PassesStdinAndCapturesStdoutStderrAndReport) {
  SandboxResult r = run_shell("cat; echo oops >&2; echo report >&3; exit 7", "hello");
  EXPECT_EQ(r.exit, SandboxExit::exited);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.stdout_text, "hello");
  EXPECT_EQ(r.stderr_text, "oops\n");
  EXPECT_EQ(r.report, "report\n");
  EXPECT_TRUE(r.isolated);
}

TEST(Sandbox, ReportsTheSignalThatEndedTheProgram) {
  SandboxResult r = run_shell("kill -SEGV $$");
  EXPECT_EQ(r.exit, SandboxExit::signaled);
  EXPECT_EQ(r.signal, SIGSEGV);
}

TEST(Sandbox, GivesACleanEnvironment) {
  setenv("YARDSTICK_SANDBOX_SECRET", "hunter2", 1);
  SandboxJob job;
  job.argv = {"/usr/bin/env"};
  job.env = {"EXTRA=1", "LANG=C"};
  SandboxResult r = sandbox().run(job);
  EXPECT_EQ(lines_of(r.stdout_text),
            (std::set<std::string>{"EXTRA=1", "LANG=C", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp"}));
}

TEST(Sandbox, RunsAsAnUnprivilegedUserWithoutCapabilities) {
  SandboxResult r = run_shell("id -u; id -g; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status");
  EXPECT_EQ(r.stdout_text, "1000\n1000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n");
}

TEST(Sandbox, SeesOnlyItsOwnProcesses) {
  // pid 1 is the sandbox's helper, 2 the program; the host's processes (this test's among
  // them) don't exist in its pid namespace. (Only shell builtins: no other process runs.)
  SandboxResult r = run_shell(fmt::format("echo $$ $PPID; test -e /proc/{} && echo visible; echo /proc/[0-9]*", getpid()));
  EXPECT_EQ(r.stdout_text, "2 1\n/proc/1 /proc/2\n");
}

TEST(Sandbox, WritesOnlyToItsScratchDirectory) {
  VictimDir victim;
  SandboxResult r = run_shell(fmt::format(
      "touch {0}/new 2>/dev/null && echo wrote-host; rm {0}/keep.txt 2>/dev/null && echo removed-host; "
      "echo hi > /tmp/f && cat /tmp/f; pwd; test \"$HOME\" = /tmp && echo home-is-scratch",
      victim.path().string()));
  EXPECT_EQ(r.stdout_text, "hi\n/tmp\nhome-is-scratch\n");
  EXPECT_TRUE(victim.untouched());
}

TEST(Sandbox, DoesNotSeeTheHostsTmp) {
  fs::path dir = test::make_temp_dir("sandbox-hidden");
  std::ofstream(dir / "f") << "x";
  SandboxResult r = run_shell(fmt::format("test -e {} && echo seen || echo hidden; ls /tmp | wc -l", (dir / "f").string()));
  EXPECT_EQ(r.stdout_text, "hidden\n0\n");
  fs::remove_all(dir);
}

TEST(Sandbox, HasOnlyBasicDeviceNodes) {
  SandboxResult r = run_shell("ls /dev");
  EXPECT_EQ(lines_of(r.stdout_text), (std::set<std::string>{"fd", "full", "null", "random", "shm", "stderr", "stdin",
                                                            "stdout", "urandom", "zero"}));
}

TEST(Sandbox, HasNoNetworkInterfaceButLoopback) {
  SandboxResult r = run_shell("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; hostname");
  EXPECT_EQ(r.stdout_text, "lo\nsandbox\n");
}

TEST(Sandbox, KeepsTheFirstBytesOfAFloodAndDropsTheRest) {
  SandboxJob job;
  job.argv = {"/bin/sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x"};
  job.limits.max_output_bytes = 1000;
  SandboxResult r = sandbox().run(job);
  EXPECT_EQ(r.exit, SandboxExit::exited);
  EXPECT_EQ(r.exit_code, 0);   // the writer never blocked: everything was read
  EXPECT_EQ(r.stdout_text, std::string(1000, 'x'));
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_FALSE(r.stderr_truncated);
}

TEST(Sandbox, KillsTheWholeTreeAtTheWallLimit) {
  SandboxJob job;
  job.argv = {"/bin/sh", "-c", "sleep 100 & sleep 100 & wait"};
  job.limits.wall_seconds = 0.5;
  SandboxResult r = sandbox().run(job);
  EXPECT_EQ(r.exit, SandboxExit::wall_timeout);
}

TEST(Sandbox, RejectsARelativeExecutablePath) {
  SandboxJob job;
  job.argv = {"sh", "-c", "true"};
  EXPECT_THROW(sandbox().run(job), Error);
}

TEST(Sandbox, SaysWhichExecutableCouldNotRun) {
  SandboxJob job;
  job.argv = {"/nonexistent/interpreter"};
  try {
    sandbox().run(job);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/interpreter"));
  }
}

// ======================================================================= refusing without namespaces

// In a child process whose user-namespace creation fails (a seccomp filter, as on a host that
// forbids unprivileged user namespaces): the sandbox refuses, unless told to run unsandboxed.
int check_refusal_without_user_namespaces() {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return 10;
  try {
    Sandbox refused;
    return 11;   // ran without namespaces although not allowed to
  } catch (const SandboxUnavailable& e) {
    if (std::string(e.what()).find("refusing") == std::string::npos) return 12;
  }
  Sandbox fallback(SandboxOptions{.allow_unsandboxed = true});
  if (fallback.isolated() || fallback.unavailable_reason().empty()) return 13;
  SandboxJob job;
  job.argv = {"/bin/sh", "-c", "echo ok"};
  SandboxResult r = fallback.run(job);
  if (r.isolated || r.stdout_text != "ok\n") return 14;
  return 0;
}

TEST(Sandbox, RefusesToRunWithoutNamespacesUnlessAllowed) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(check_refusal_without_user_namespaces());
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: filter, 11: ran unsandboxed, 12: message, 13: fallback, 14: fallback run";
}

// ======================================================================= outcomes of the runner

TEST(PythonExecutor, ResolvesTheInterpreterBehindALauncher) {
  EXPECT_TRUE(fs::path(executor().python()).is_absolute());
  EXPECT_TRUE(executor().isolated());
}

TEST(PythonExecutor, PassesWhenEveryTestRuns) {
  ExecResult r = executor().run("def f(x):\n    return x + 1\n\nassert f(1) == 2\nprint('done')\n");
  EXPECT_EQ(r.outcome, ExecOutcome::passed) << r.message << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "done\n");
}

TEST(PythonExecutor, FailsOnAFailedAssertion) {
  ExecResult r = executor().run("assert 1 + 1 == 3, 'arithmetic'\n");
  EXPECT_EQ(r.outcome, ExecOutcome::failed);
  EXPECT_EQ(r.exc_type, "AssertionError");
  EXPECT_EQ(r.message, "arithmetic");
}

TEST(PythonExecutor, NamesTheExceptionOfAnError) {
  ExecResult r = executor().run("x = 1 / 0\n");
  EXPECT_EQ(r.outcome, ExecOutcome::error);
  EXPECT_EQ(r.exc_type, "ZeroDivisionError");
}

TEST(PythonExecutor, ReportsASyntaxError) {
  ExecResult r = executor().run("def f(:\n    pass\n");
  EXPECT_EQ(r.outcome, ExecOutcome::syntax_error);
  EXPECT_EQ(r.exc_type, "SyntaxError");
  ExecResult indent = executor().run("def f():\nreturn 1\n");
  EXPECT_EQ(indent.outcome, ExecOutcome::syntax_error);
  EXPECT_EQ(indent.exc_type, "IndentationError");
}

TEST(PythonExecutor, ReadsTheProgramAsUtf8) {
  EXPECT_EQ(executor().run("s = 'h\u00e9\u20ac'\nassert len(s) == 3, s\nprint(s)\n").outcome, ExecOutcome::passed);
  ExecResult bad = executor().run("s = '\xff'\n");
  EXPECT_EQ(bad.outcome, ExecOutcome::syntax_error);
}

TEST(PythonExecutor, DoesNotRunAMainBlock) {
  ExecResult r = executor().run("if __name__ == '__main__':\n    raise SystemExit(1)\nassert __name__ == '__program__'\n");
  EXPECT_EQ(r.outcome, ExecOutcome::passed) << r.message;
}

TEST(PythonExecutor, RunsProgramsInParallelAndKeepsTheirResultsApart) {
  std::vector<std::future<ExecResult>> futures;
  for (int i = 0; i < 6; ++i) futures.push_back(executor().submit(fmt::format("print({})\nassert {} % 2 == 0\n", i, i)));
  for (int i = 0; i < 6; ++i) {
    ExecResult r = futures[i].get();
    EXPECT_EQ(r.stdout_text, fmt::format("{}\n", i));
    EXPECT_EQ(r.outcome, i % 2 == 0 ? ExecOutcome::passed : ExecOutcome::failed);
  }
}

TEST(PythonExecutor, SetsTheHashSeedSoSetOrderIsReproducible) {
  ExecResult a = executor().run("print(list({'apple', 'banana', 'cherry', 'date'}))\n");
  ExecResult b = executor().run("print(list({'apple', 'banana', 'cherry', 'date'}))\n");
  EXPECT_EQ(a.stdout_text, b.stdout_text);
  EXPECT_EQ(executor().run("import os\nassert os.environ['PYTHONHASHSEED'] == '0'\n").outcome, ExecOutcome::passed);
}

// interpret_python_run on hand-made results: the report decides, and only with the right nonce.
SandboxResult exited(int code, std::string report) {
  SandboxResult r;
  r.exit = SandboxExit::exited;
  r.exit_code = code;
  r.report = std::move(report);
  return r;
}
const std::string kNonce = "0123456789abcdef0123456789abcdef";
std::string report_line(const std::string& nonce, const std::string& status) {
  return fmt::format("\n{} {} x x\n", nonce, status);
}

TEST(InterpretPythonRun, PassesOnlyWithTheNonceAndACleanExit) {
  const std::string started = report_line(kNonce, "started");
  EXPECT_EQ(interpret_python_run(exited(0, started + report_line(kNonce, "passed")), kNonce).outcome, ExecOutcome::passed);
  EXPECT_EQ(interpret_python_run(exited(0, started + report_line("f00d", "passed")), kNonce).outcome, ExecOutcome::failed);
  EXPECT_EQ(interpret_python_run(exited(3, started + report_line(kNonce, "passed")), kNonce).outcome, ExecOutcome::failed);
  EXPECT_EQ(interpret_python_run(exited(0, started + "passed\n"), kNonce).outcome, ExecOutcome::failed);
  EXPECT_EQ(interpret_python_run(exited(0, started + kNonce + " passed x x extra\n"), kNonce).outcome, ExecOutcome::failed);
  EXPECT_EQ(interpret_python_run(exited(0, started + report_line(kNonce, "passed")), "").outcome, ExecOutcome::error);
}

TEST(InterpretPythonRun, DecodesTheExceptionFromHex) {
  ExecResult r = interpret_python_run(exited(0, report_line(kNonce, "started") + kNonce + " error x4b65794572726f72 x27612720e282ac\n"), kNonce);
  EXPECT_EQ(r.outcome, ExecOutcome::error);
  EXPECT_EQ(r.exc_type, "KeyError");
  EXPECT_EQ(r.message, "'a' \u20ac");
}

TEST(InterpretPythonRun, TellsARunnerThatNeverStartedFromAProgramThatExited) {
  ExecResult never = interpret_python_run(exited(1, ""), kNonce);
  EXPECT_EQ(never.outcome, ExecOutcome::error);
  EXPECT_THAT(never.message, HasSubstr("did not start"));
  ExecResult quit = interpret_python_run(exited(0, report_line(kNonce, "started")), kNonce);
  EXPECT_EQ(quit.outcome, ExecOutcome::failed);
  EXPECT_THAT(quit.message, HasSubstr("before the tests finished"));
}

TEST(InterpretPythonRun, MapsLimitsAndSignals) {
  SandboxResult wall = exited(0, report_line(kNonce, "started"));
  wall.exit = SandboxExit::wall_timeout;
  EXPECT_EQ(interpret_python_run(wall, kNonce).outcome, ExecOutcome::timeout);
  SandboxResult cpu = wall;
  cpu.exit = SandboxExit::signaled;
  cpu.signal = SIGXCPU;
  cpu.cpu_limit_hit = true;
  EXPECT_EQ(interpret_python_run(cpu, kNonce).outcome, ExecOutcome::timeout);
  SandboxResult segv = cpu;
  segv.signal = SIGSEGV;
  segv.cpu_limit_hit = false;
  ExecResult killed = interpret_python_run(segv, kNonce);
  EXPECT_EQ(killed.outcome, ExecOutcome::killed);
  EXPECT_THAT(killed.message, HasSubstr("SIGSEGV"));
  segv.stderr_text = "Traceback...\nMemoryError\n";
  EXPECT_EQ(interpret_python_run(segv, kNonce).outcome, ExecOutcome::memory);
}

TEST(InterpretPythonRun, KeepsInvalidUtf8OutOfTheResult) {
  SandboxResult r = exited(0, "");
  r.stdout_text = "ok \xff\xfe end \xe2\x82";
  ExecResult e = interpret_python_run(r, kNonce);
  EXPECT_EQ(e.stdout_text, "ok \xEF\xBF\xBD\xEF\xBF\xBD end \xEF\xBF\xBD\xEF\xBF\xBD");
}

// ======================================================================= the hostile corpus

TEST(ProcessDetection, SeesASandboxedProcessWhileItRuns) {
  // The control for every "leaves no process behind" check below: while a program that
  // renamed itself runs, the host sees it under that name.
  const std::string name = unique_name();
  auto future = executor().submit(set_process_name(name) + "import time\ntime.sleep(3)\n");
  bool seen = false;
  while (future.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready)
    seen = seen || !processes_named(name).empty();
  EXPECT_TRUE(seen);
  EXPECT_EQ(future.get().outcome, ExecOutcome::passed);
  EXPECT_THAT(processes_named(name), ::testing::IsEmpty());
}

TEST(HostileCorpus, InfiniteLoopTimesOut) {
  ExecResult r = executor().run("while True:\n    pass\n", short_limits());
  EXPECT_EQ(r.outcome, ExecOutcome::timeout);
}

TEST(HostileCorpus, SleepingPastTheLimitTimesOut) {
  ExecResult r = executor().run("import time\ntime.sleep(60)\n", short_limits());
  EXPECT_EQ(r.outcome, ExecOutcome::timeout);
  EXPECT_THAT(r.message, HasSubstr("wall-clock"));
}

TEST(HostileCorpus, SpinningPastTheCpuLimitTimesOut) {
  SandboxLimits limits = roomy_limits();
  limits.cpu_seconds = 1;
  ExecResult r = executor().run("while True:\n    pass\n", limits);
  EXPECT_EQ(r.outcome, ExecOutcome::timeout);
  EXPECT_THAT(r.message, HasSubstr("CPU"));
}

TEST(HostileCorpus, ForkStormTimesOutAndLeavesNothing) {
  const std::string name = unique_name();
  ExecResult r = executor().run(set_process_name(name) +
                                "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                                short_limits());
  EXPECT_EQ(r.outcome, ExecOutcome::timeout);
  EXPECT_THAT(processes_named(name), ::testing::IsEmpty());
}

// Forks up to 100 children that wait, and prints how many forks succeeded.
constexpr const char* kCountForks =
    "import os, time\n"
    "n = 0\n"
    "try:\n"
    "    for i in range(100):\n"
    "        if os.fork() == 0:\n"
    "            time.sleep(30)\n"
    "            os._exit(0)\n"
    "        n += 1\n"
    "except OSError:\n"
    "    pass\n"
    "print(n)\n";

TEST(HostileCorpus, ProcessLimitBoundsAForkStorm) {
  SandboxLimits limits = roomy_limits();
  limits.max_processes = 16;
  ExecResult r = executor().run(kCountForks, limits);
  ASSERT_EQ(r.outcome, ExecOutcome::passed) << r.message;
  EXPECT_LT(std::stoi(r.stdout_text), 16);   // the helper and the program count too
  EXPECT_GT(std::stoi(r.stdout_text), 0);
}

constexpr const char* kOrphan =
    "import os, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        time.sleep(600)\n"   // keeps stdout open: the run must not wait for end of file
    "    os._exit(0)\n"
    "assert True\n";

TEST(HostileCorpus, SetsidOrphanIsKilledWithTheRun) {
  const std::string name = unique_name();
  ExecResult r = executor().run(set_process_name(name) + kOrphan);
  EXPECT_EQ(r.outcome, ExecOutcome::passed) << r.message;   // its tests ran and passed; the orphan is gone
  EXPECT_THAT(processes_named(name), ::testing::IsEmpty());
}

TEST(HostileCorpus, MemoryBombRunsOutOfMemory) {
  ExecResult big = executor().run("x = bytearray(10**10)\n");
  EXPECT_EQ(big.outcome, ExecOutcome::memory);
  ExecResult growing = executor().run("chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 2**20))\n");
  EXPECT_EQ(growing.outcome, ExecOutcome::memory);
}

TEST(HostileCorpus, WritingOutsideTheScratchDirectoryFailsAndChangesNothing) {
  VictimDir victim;
  ExecResult write = executor().run(fmt::format("open({:?}, 'w').write('x')\n", (victim.path() / "new.txt").string()));
  EXPECT_EQ(write.outcome, ExecOutcome::error);
  if (victim.path().string().rfind("/tmp/", 0) == 0) {
    // A checkout under the host's /tmp (CI may clone there) is hidden by the sandbox's own /tmp.
    EXPECT_EQ(write.exc_type, "FileNotFoundError") << write.message;
  } else {
    EXPECT_EQ(write.exc_type, "OSError");
    EXPECT_THAT(write.message, HasSubstr("Read-only file system"));
  }
  ExecResult remove = executor().run(fmt::format("import os\nos.remove({:?})\n", victim.keep().string()));
  EXPECT_EQ(remove.outcome, ExecOutcome::error);
  ExecResult rmtree = executor().run(fmt::format("import shutil\nshutil.rmtree({:?})\n", victim.path().string()));
  EXPECT_EQ(rmtree.outcome, ExecOutcome::error);
  ExecResult chmod = executor().run(fmt::format("import os\nos.chmod({:?}, 0)\n", victim.keep().string()));
  EXPECT_EQ(chmod.outcome, ExecOutcome::error);
  EXPECT_TRUE(victim.untouched());
  EXPECT_EQ(fs::status(victim.keep()).permissions() & fs::perms::owner_read, fs::perms::owner_read);
}

TEST(HostileCorpus, TheHostsTmpIsOutOfReach) {
  fs::path dir = test::make_temp_dir("sandbox-victim");
  std::ofstream(dir / "keep.txt") << "keep";
  ExecResult r = executor().run(fmt::format("import os\nos.remove({:?})\n", (dir / "keep.txt").string()));
  EXPECT_EQ(r.outcome, ExecOutcome::error);
  EXPECT_EQ(r.exc_type, "FileNotFoundError");
  EXPECT_EQ(read_text(dir / "keep.txt"), "keep");
  fs::remove_all(dir);
}

TEST(HostileCorpus, ScratchDirectoryIsWritable) {
  ExecResult r = executor().run(
      "import os, tempfile\nopen('/tmp/x', 'w').write('hi')\nassert open('/tmp/x').read() == 'hi'\n"
      "assert os.getcwd() == '/tmp'\nwith tempfile.NamedTemporaryFile() as f:\n    f.write(b'y')\n");
  EXPECT_EQ(r.outcome, ExecOutcome::passed) << r.message;
}

TEST(HostileCorpus, ConnectingToALocalTcpListenerFails) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  ExecResult r = executor().run(
      fmt::format("import socket\nsocket.create_connection(('127.0.0.1', {}), timeout=1)\n", ntohs(addr.sin_port)));
  EXPECT_EQ(r.outcome, ExecOutcome::error);
  EXPECT_EQ(r.exc_type, "OSError");   // ENETUNREACH: the sandbox's loopback is down
  EXPECT_LT(accept(listener, nullptr, nullptr), 0);   // nothing ever connected
  close(listener);
}

TEST(HostileCorpus, ConnectingToALocalUnixSocketFails) {
  VictimDir victim;
  const std::string path = (victim.path() / "sock").string();
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  std::copy(path.begin(), path.end(), addr.sun_path);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  chmod(path.c_str(), 0777);
  ExecResult r = executor().run(fmt::format("import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({:?})\n", path));
  EXPECT_EQ(r.outcome, ExecOutcome::error);
  EXPECT_EQ(r.exc_type, "PermissionError");   // no AF_UNIX sockets (seccomp)
  EXPECT_LT(accept(listener, nullptr, nullptr), 0);
  close(listener);
}

TEST(HostileCorpus, KillingItsParentChangesNothing) {
  // Its parent is the sandbox's pid 1, which ignores signals from inside the namespace; the
  // kill(-1) is guarded so that a broken sandbox couldn't hit the host's processes with it.
  ExecResult r = executor().run(
      "import os, signal\n"
      "os.kill(os.getppid(), signal.SIGKILL)\n"
      "if os.getpid() < 10 and os.getppid() == 1:\n"
      "    try:\n"
      "        os.kill(-1, signal.SIGKILL)\n"
      "    except ProcessLookupError:\n"   // nothing else to kill: pid 1 doesn't count
      "        pass\n"
      "assert os.getppid() == 1\n");
  EXPECT_EQ(r.outcome, ExecOutcome::passed) << r.message;
  EXPECT_EQ(executor().run("assert True\n").outcome, ExecOutcome::passed);   // the executor goes on
}

TEST(HostileCorpus, IgnoringSigtermDoesNotOutliveTheLimit) {
  const std::string name = unique_name();
  ExecResult r = executor().run(set_process_name(name) +
                                "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                "while True:\n    time.sleep(0.05)\n",
                                short_limits());
  EXPECT_EQ(r.outcome, ExecOutcome::timeout);
  EXPECT_THAT(processes_named(name), ::testing::IsEmpty());
}

TEST(HostileCorpus, EndlessOutputIsCappedAndTimesOut) {
  ExecResult r = executor().run("import os\nwhile True:\n    os.write(1, b'x' * 65536)\n    os.write(2, b'y' * 65536)\n",
                                short_limits());
  EXPECT_EQ(r.outcome, ExecOutcome::timeout);
  EXPECT_TRUE(r.output_truncated);
  EXPECT_EQ(r.stdout_text.size(), short_limits().max_output_bytes);
  EXPECT_EQ(r.stderr_text.size(), short_limits().max_output_bytes);
}

TEST(HostileCorpus, CannotReadTheHarnessEnvironment) {
  const std::string secret = "s3cret-" + random_hex(12);
  setenv("YARDSTICK_SANDBOX_SECRET", secret.c_str(), 1);
  ExecResult r = executor().run(
      "import glob, os\n"
      "seen = [repr(dict(os.environ))]\n"
      "for p in glob.glob('/proc/*/environ') + glob.glob('/proc/*/task/*/environ'):\n"
      "    try:\n"
      "        seen.append(open(p, 'rb').read().decode('utf-8', 'replace'))\n"
      "    except OSError:\n"
      "        pass\n"
      "print('\\n'.join(seen))\n"
      "assert 'YARDSTICK_SANDBOX_SECRET' not in '\\n'.join(seen)\n"
      "assert sorted(os.environ) == ['HOME', 'LANG', 'PATH', 'PYTHONDONTWRITEBYTECODE', 'PYTHONHASHSEED', "
      "'PYTHONIOENCODING', 'TMPDIR'], sorted(os.environ)\n");
  EXPECT_EQ(r.outcome, ExecOutcome::passed) << r.message;
  EXPECT_THAT(r.stdout_text, Not(HasSubstr(secret)));
  EXPECT_THAT(r.stdout_text, HasSubstr("PYTHONHASHSEED"));   // it did print what it saw
}

TEST(HostileCorpus, SysExitZeroBeforeTheTestsIsNotAPass) {
  ExecResult r = executor().run("import sys\nsys.exit(0)\nassert False\n");
  EXPECT_EQ(r.outcome, ExecOutcome::failed);
  EXPECT_EQ(r.exc_type, "SystemExit");
}

TEST(HostileCorpus, OsExitZeroBeforeTheTestsIsNotAPass) {
  ExecResult r = executor().run("import os\nos._exit(0)\nassert False\n");
  EXPECT_EQ(r.outcome, ExecOutcome::failed);
  EXPECT_THAT(r.message, HasSubstr("status 0 before the tests finished"));
}

TEST(HostileCorpus, AForgedReportIsNotAPass) {
  ExecResult r = executor().run(
      "import os\n"
      "os.write(3, b'\\n' + b'0' * 32 + b' passed x x\\n')\n"   // a guessed nonce
      "os.write(3, b'\\npassed\\n')\n"
      "print('passed')\n"
      "os._exit(0)\n");
  EXPECT_EQ(r.outcome, ExecOutcome::failed);
}

TEST(HostileCorpus, ACrashIsKilled) {
  ExecResult segv = executor().run("import ctypes\nctypes.string_at(0)\n");
  EXPECT_EQ(segv.outcome, ExecOutcome::killed);
  EXPECT_THAT(segv.message, HasSubstr("SIGSEGV"));
  ExecResult abort = executor().run("import os\nos.abort()\n");
  EXPECT_EQ(abort.outcome, ExecOutcome::killed);
  EXPECT_THAT(abort.message, HasSubstr("SIGABRT"));
}

// ======================================================================= unsandboxed mode

TEST(Unsandboxed, StillAppliesLimitsAndACleanEnvironment) {
  PythonExecutor& unsafe = unsandboxed_executor();
  EXPECT_FALSE(unsafe.isolated());
  setenv("YARDSTICK_SANDBOX_SECRET", "hunter2", 1);
  ExecResult env = unsafe.run("import os\nassert 'YARDSTICK_SANDBOX_SECRET' not in os.environ\nprint(os.getcwd())\n");
  EXPECT_EQ(env.outcome, ExecOutcome::passed) << env.message;
  // The scratch directory was fresh and is gone.
  std::string scratch = env.stdout_text.substr(0, env.stdout_text.find('\n'));
  EXPECT_THAT(scratch, HasSubstr("yardstick-sandbox-"));
  EXPECT_FALSE(fs::exists(scratch));
  EXPECT_EQ(unsafe.run("x = bytearray(10**10)\n").outcome, ExecOutcome::memory);
  EXPECT_EQ(unsafe.run("while True:\n    pass\n", short_limits()).outcome, ExecOutcome::timeout);
}

TEST(Unsandboxed, ProcessLimitStillBoundsAForkStorm) {
  SandboxLimits limits = roomy_limits();
  limits.max_processes = 16;
  ExecResult r = unsandboxed_executor().run(kCountForks, limits);
  ASSERT_EQ(r.outcome, ExecOutcome::passed) << r.message;
  // Without a pid namespace the kernel counts every process of the uid, which other tests running
  // beside this one change; seen once in CI: 17 forks under a limit of 16. What matters is that
  // the storm is bounded far below the 100 forks it tries.
  EXPECT_LT(std::stoi(r.stdout_text), 50);
}

TEST(Unsandboxed, KillsOrphansWithTheRun) {
  const std::string name = unique_name();
  ExecResult r = unsandboxed_executor().run(set_process_name(name) + kOrphan);
  EXPECT_EQ(r.outcome, ExecOutcome::passed) << r.message;
  EXPECT_THAT(processes_named(name), ::testing::IsEmpty());
  const std::string sleeper = unique_name();
  ExecResult t = unsandboxed_executor().run(set_process_name(sleeper) + "import os, time\nos.fork()\ntime.sleep(60)\n",
                                            short_limits());
  EXPECT_EQ(t.outcome, ExecOutcome::timeout);
  EXPECT_THAT(processes_named(sleeper), ::testing::IsEmpty());
}

}  // namespace
}  // namespace yardstick
