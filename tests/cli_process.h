// Runs the real yardstick binary from a test, as a user would: no shell, arguments passed as
// given, stdout and stderr captured separately, and the process killable mid-run.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_paths.h"

namespace yardstick::test {

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A yardstick child process; its stdout and stderr go to files in a temp directory.
class CliProcess {
 public:
  explicit CliProcess(const std::vector<std::string>& args) : dir_(make_temp_dir("cli")) {
    pid_ = fork();
    if (pid_ == 0) {
      int out = open((dir_ / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open((dir_ / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      std::vector<std::string> all{yardstick_binary().string()};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  // The exit code, or -signal when the process was killed.
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  bool running() {
    int status = 0;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }
  void kill9() { ::kill(pid_, SIGKILL); }
  std::string out() const { return read_text(dir_ / "stdout"); }
  std::string err() const { return read_text(dir_ / "stderr"); }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

struct CliResult {
  int code;
  std::string out, err;
};

// Runs `yardstick args...` to completion.
inline CliResult run_cli(const std::vector<std::string>& args) {
  CliProcess p(args);
  int code = p.wait();
  return {code, p.out(), p.err()};
}

}  // namespace yardstick::test
