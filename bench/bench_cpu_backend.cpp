// CPU reference backend throughput: prefill and decode tokens per second.
//
//   bench_cpu_backend [--model DIR]... [--synth] [--threads N] [--prefill T] [--decode N]
//                     [--batch B] [--repeats R]
//
// Default models: the test fixtures tests/fixtures/llama_{mha,gqa}/single. --synth adds a
// synthetic model of a bigger shape (hidden 1024, 8 layers, 16 heads / 4 KV heads, FFN 2816,
// vocab 32000; f32 weights, ~0.6 GB in a temp dir). For each model:
//   prefill      one sequence, T tokens in one forward call (the fastest of R sequences)
//   decode xB    B sequences of T tokens, then N forward calls of one token for each
//   decode x1    one sequence of T tokens, then N single-token forward calls
// Each figure comes from the fastest call: the machine may be shared, and the fastest call is
// the least disturbed.
// Decode also shows the weight bytes read per call over the time: the memory-bandwidth view.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "engine/cpu_backend.h"
#include "engine/model_config.h"
#include "engine/weights.h"
#include "harness/synth_model.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace yardstick;

struct Args {
  std::vector<fs::path> models;
  bool synth = false;
  int threads = 0;
  int prefill = 100;
  int decode = 32;
  int batch = 8;
  int repeats = 5;
};

// Seconds of the fastest of the calls: the machine may be shared, and the fastest call is the
// least disturbed one.
double fastest(int calls, const std::function<void(int)>& call) {
  double best = 1e30;
  for (int i = 0; i < calls; ++i) {
    const auto t0 = Clock::now();
    call(i);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

// Token ids spread over the vocabulary, the same every run.
std::vector<int32_t> tokens(int n, int vocab, int salt) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i)
    t.push_back(int32_t((uint64_t(i) * 7919 + uint64_t(salt) * 104729 + 3) % uint64_t(vocab)));
  return t;
}

void bench_model(const fs::path& dir, const Args& a) {
  const ModelConfig cfg = load_model_config(dir);
  Weights weights = Weights::load(dir, cfg);
  size_t weight_bytes = 0;   // as f32, what a decode step streams from memory
  for (const std::string& n : weights.names()) weight_bytes += size_t(weights.get(n).numel()) * 4;
  if (cfg.tie_word_embeddings) weight_bytes += size_t(cfg.vocab_size) * size_t(cfg.hidden_size) * 4;
  CpuBackendOptions o;
  o.threads = a.threads;
  CpuBackend b(cfg, std::move(weights), o);
  const int T = std::min(a.prefill, b.max_sequence_length() - a.decode);
  const int B = a.batch;
  std::vector<float> logits;

  // Opens n sequences and prefills each with T tokens; returns the seconds of the fastest prefill.
  std::vector<SeqId> seqs;
  auto prefill = [&](int n) {
    for (SeqId s : seqs) b.close_sequence(s);
    seqs.clear();
    return fastest(n, [&](int i) {
      seqs.push_back(b.open_sequence());
      const auto prompt = tokens(T, cfg.vocab_size, i);
      const ForwardChunk c{seqs.back(), prompt, T - 1};
      b.forward(std::span(&c, 1), logits);
    });
  };
  // a.decode forward calls of one new token for each open sequence; the fastest call's seconds.
  auto decode = [&] {
    const auto next = tokens(a.decode * int(seqs.size()), cfg.vocab_size, 99);
    std::vector<ForwardChunk> chunks(seqs.size());
    return fastest(a.decode, [&](int step) {
      for (size_t i = 0; i < seqs.size(); ++i)
        chunks[i] = {seqs[i], std::span(next).subspan(size_t(step) * seqs.size() + i, 1), 0};
      b.forward(chunks, logits);
    });
  };

  const double t_prefill = prefill(a.repeats);
  prefill(B);
  const double t_decb = decode();
  prefill(1);
  const double t_dec1 = decode();
  for (SeqId s : seqs) b.close_sequence(s);

  fmt::print("{}\n  C {} L {} NH {} NKV {} FF {} V {}; {:.1f} MB of f32 weights; {} threads\n",
             dir.string(), cfg.hidden_size, cfg.num_layers, cfg.num_heads, cfg.num_kv_heads,
             cfg.intermediate_size, cfg.vocab_size, double(weight_bytes) / 1e6,
             a.threads > 0 ? a.threads : int(std::thread::hardware_concurrency()));
  fmt::print("  prefill     {:5d} tokens        {:10.1f} tokens/s\n", T, T / t_prefill);
  fmt::print("  decode x1   {:5d} steps at {:4d} {:10.1f} tokens/s  ({:.2f} GB/s of weights)\n",
             a.decode, T, 1 / t_dec1, double(weight_bytes) / t_dec1 / 1e9);
  fmt::print("  decode x{:<2d}  {:5d} steps at {:4d} {:10.1f} tokens/s\n", B, a.decode, T,
             B / t_decb);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", arg);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--model")
      a.models.push_back(value());
    else if (arg == "--synth")
      a.synth = true;
    else if (arg == "--threads")
      a.threads = std::stoi(value());
    else if (arg == "--prefill")
      a.prefill = std::stoi(value());
    else if (arg == "--decode")
      a.decode = std::stoi(value());
    else if (arg == "--batch")
      a.batch = std::stoi(value());
    else if (arg == "--repeats")
      a.repeats = std::stoi(value());
    else {
      fmt::print(stderr, "unknown argument {}\n", arg);
      return 2;
    }
  }
  try {
    if (a.models.empty() && !a.synth)
      for (const char* m : {"llama_mha", "llama_gqa"})
        a.models.push_back(fs::path(YARDSTICK_SOURCE_DIR) / "tests" / "fixtures" / m / "single");
    fs::path synth_dir;
    if (a.synth) {
      synth_dir = fs::temp_directory_path() / "yardstick-bench-cpu-synth";
      SynthOptions s;
      s.out = synth_dir;
      s.shape = SynthShape{1024, 8, 16, 4, 2816, 32000, 4096};
      s.dtype = DType::F32;
      write_synth_model(s);
      a.models.push_back(synth_dir);
    }
    for (const fs::path& m : a.models) bench_model(m, a);
    if (!synth_dir.empty()) fs::remove_all(synth_dir);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_cpu_backend: {}\n", e.what());
    return 1;
  }
  return 0;
}
