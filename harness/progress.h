// Progress of a long run on stderr: done/total, generated tokens per second, ETA. On a terminal
// one line is redrawn in place; otherwise (a log file, CI) a plain line is written every ~10 s or
// each further 10% of the work, so logs stay short. Thread-safe: completions may arrive from the
// engine's threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace yardstick {

struct ProgressSnapshot {
  int64_t done = 0;
  int64_t total = 0;
  int64_t tokens = 0;       // generated so far
  double elapsed_s = 0.0;
};

// "gsm8k 12/100 (12%) | 45.3 tok/s | ETA 3m12s". The ETA is left out until something is done.
std::string format_progress(const std::string& label, const ProgressSnapshot& s);

class Progress {
 public:
  // live: redraw one line (default: whether `out` is a terminal).
  Progress(std::string label, int64_t total, std::FILE* out = stderr);
  Progress(std::string label, int64_t total, std::FILE* out, bool live);

  void advance(int64_t samples, int64_t generated_tokens);
  // Starts the clock again (after loading a model), so rates and the ETA count the work only.
  void restart_clock();
  // Writes the final line (always, so a log records the end).
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  void print_locked(bool final_line);

  std::string label_;
  std::FILE* out_;
  bool live_;
  std::mutex mu_;
  ProgressSnapshot snap_;
  Clock::time_point start_;
  Clock::time_point last_print_;
  int64_t last_decile_ = 0;
};

}  // namespace yardstick
