#include "harness/progress.h"

#include <unistd.h>

#include <cmath>

#include <fmt/core.h>

namespace yardstick {

namespace {

std::string format_duration(double s) {
  auto t = static_cast<int64_t>(std::llround(s));
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

}  // namespace

std::string format_progress(const std::string& label, const ProgressSnapshot& s) {
  double pct = s.total > 0 ? 100.0 * static_cast<double>(s.done) / static_cast<double>(s.total) : 100.0;
  std::string line = fmt::format("{} {}/{} ({:.0f}%)", label, s.done, s.total, pct);
  if (s.elapsed_s > 0.0 && s.tokens > 0)
    line += fmt::format(" | {:.1f} tok/s", static_cast<double>(s.tokens) / s.elapsed_s);
  if (s.done > 0 && s.done < s.total) {
    double eta = s.elapsed_s / static_cast<double>(s.done) * static_cast<double>(s.total - s.done);
    line += " | ETA " + format_duration(eta);
  } else if (s.done >= s.total) {
    line += " | " + format_duration(s.elapsed_s);
  }
  return line;
}

Progress::Progress(std::string label, int64_t total, std::FILE* out)
    : Progress(std::move(label), total, out, isatty(fileno(out)) != 0) {}

Progress::Progress(std::string label, int64_t total, std::FILE* out, bool live)
    : label_(std::move(label)), out_(out), live_(live), start_(Clock::now()), last_print_(start_) {
  snap_.total = total;
}

void Progress::restart_clock() {
  std::lock_guard lock(mu_);
  start_ = last_print_ = Clock::now();
  snap_.elapsed_s = 0.0;
}

void Progress::advance(int64_t samples, int64_t generated_tokens) {
  std::lock_guard lock(mu_);
  snap_.done += samples;
  snap_.tokens += generated_tokens;
  auto now = Clock::now();
  snap_.elapsed_s = std::chrono::duration<double>(now - start_).count();
  int64_t decile = snap_.total > 0 ? snap_.done * 10 / snap_.total : 10;
  bool due = live_ ? now - last_print_ >= std::chrono::milliseconds(200)
                   : (now - last_print_ >= std::chrono::seconds(10) || decile > last_decile_);
  if (due) {
    last_decile_ = decile;
    last_print_ = now;
    print_locked(false);
  }
}

void Progress::finish() {
  std::lock_guard lock(mu_);
  snap_.elapsed_s = std::chrono::duration<double>(Clock::now() - start_).count();
  // A log that already ends with the 100% line needs no second one.
  if (live_ || snap_.done < snap_.total || last_decile_ < 10) print_locked(true);
}

void Progress::print_locked(bool final_line) {
  std::string line = format_progress(label_, snap_);
  if (live_) {
    // \r and clear-to-end redraw the line in place; the final one ends it.
    fmt::print(out_, "\r{}\033[K{}", line, final_line ? "\n" : "");
  } else {
    fmt::print(out_, "{}\n", line);
  }
  std::fflush(out_);
}

}  // namespace yardstick
