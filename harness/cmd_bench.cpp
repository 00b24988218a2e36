// yardstick bench (--synthetic 7b|67b|SPEC | --model DIR) [--compare-hf] [--json FILE] ...
// Throughput of the CUDA backend, each number beside its physical limit measured in the same
// run (device copy bandwidth for decode, cuBLASLt bf16 matrix rate for prefill), and with
// --compare-hf beside Hugging Face transformers on the same shape and workloads, plus the
// log-prob / greedy agreement of the two on the same weights. Synthetic weights are random
// values of the exact shape generated on the device, so a 7B or 67B needs no download.
// SPEC is key=value pairs over the 7B shape: layers=2,hidden=1024,ffn=2816,heads=8,kv_heads=8,
// head_dim=128,vocab=32000,ctx=2048.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model_config.h"
#include "engine/synthetic_model.h"
#include "harness/commands.h"
#ifdef YARDSTICK_HAVE_CUDA
#include <unistd.h>

#include "engine/cuda/attention.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/probes.h"
#include "engine/sampler.h"
#include "engine/weights.h"
#endif

namespace yardstick::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct BenchArgs {
  std::string synthetic;
  std::string model_dir;
  bool compare_hf = false;
  std::string hf_script = std::string(YARDSTICK_SOURCE_DIR) + "/bench/hf_compare.py";
  std::string json_out;
  int prefill_seqs = 8;
  int prefill_len = 512;
  int prompt_len = 128;
  int decode_steps = 64;
  int hf_decode_steps = 32;
  std::string batches = "1,8,32,128,256";
  int shared_prefix = 0;   // > 0: also decode the largest batch behind a prefix of this many tokens, A/B

  int mixed_batch = 64;     // decode sequences beside the new prompt of a mixed step (0: no mixed rows)
  bool prefill_ab = true;   // the prefill A/B rows (attention kernel, cuBLASLt options)
  uint64_t seed = 1;
};

std::vector<int> parse_batches(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      out.push_back(std::stoi(item));
    } catch (const std::exception&) {
      throw InputError(fmt::format("bench: --batches '{}': '{}' is not a number", s, item));
    }
    if (out.back() < 1) throw InputError(fmt::format("bench: --batches '{}': sizes must be positive", s));
  }
  return out;
}

#ifdef YARDSTICK_HAVE_CUDA

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs bench/hf_compare.py (torch + transformers) before this process touches the GPU, so the
// two never hold device memory at once.
json run_hf(const BenchArgs& a, const json& cfg_json, const fs::path& work) {
  const fs::path out = work / "hf.json";
  std::string cmd = "python3 " + quoted(a.hf_script) + " --out " + quoted(out.string());
  if (!a.model_dir.empty()) {
    cmd += " --model " + quoted(a.model_dir);
  } else {
    const fs::path cfg = work / "config.json";
    std::ofstream(cfg) << cfg_json.dump(2);
    cmd += " --config " + quoted(cfg.string()) + " --save-model " + quoted((work / "model").string());
  }
  cmd += fmt::format(" --seed {} --prefill-seqs {} --prefill-len {} --prompt-len {} --decode-steps {} --batches {}",
                     a.seed, a.prefill_seqs, a.prefill_len, a.prompt_len, a.hf_decode_steps, quoted(a.batches));
  fmt::print(stderr, "bench: running Hugging Face transformers: {}\n", cmd);
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    throw Error(fmt::format("bench: --compare-hf: {} failed (status {}); it needs python3 with torch and transformers",
                            a.hf_script, rc));
  }
  std::ifstream in(out);
  return json::parse(in);
}

struct Shape {
  double streamed_bytes;   // weight bytes a decode step reads (all but the embedding table)
  double matmul_params;    // parameters in the per-token matrix products, lm_head included
  double kv_bytes_per_token;
  double attn_width;       // NH * HD
  int layers;
  double lm_head_params;
};

Shape shape_of(const ModelConfig& cfg, size_t weight_bytes) {
  const double C = cfg.hidden_size, V = cfg.vocab_size, HD = cfg.head_dim, FF = cfg.intermediate_size;
  const double per_layer = C * (cfg.num_heads + 2.0 * cfg.num_kv_heads) * HD + C * cfg.num_heads * HD + 3 * C * FF;
  Shape s;
  s.lm_head_params = V * C;
  s.matmul_params = per_layer * cfg.num_layers + s.lm_head_params;
  s.streamed_bytes = double(weight_bytes) - (cfg.tie_word_embeddings ? 0.0 : V * C * 2);
  s.kv_bytes_per_token = double(cfg.num_layers) * 2 * cfg.num_kv_heads * HD * 2;
  s.attn_width = cfg.num_heads * HD;
  s.layers = cfg.num_layers;
  return s;
}

// KV bytes a decode step of `batch` sequences reads at `context` tokens each (and writes, one
// token each), when `shared` tokens of every context are one prefix read once.
double decode_kv_bytes(const Shape& s, int batch, double context, double shared = 0) {
  return (shared + batch * (context - shared + 1)) * s.kv_bytes_per_token;
}

// Tokens/s no implementation can beat: the slower of moving the bytes at the measured copy
// bandwidth and doing the FLOPs at the measured matrix rate.
double decode_limit(const Shape& s, int batch, double context, double bw, double rate, double shared = 0) {
  const double bytes = s.streamed_bytes + decode_kv_bytes(s, batch, context, shared);
  const double flops = batch * (2 * s.matmul_params + 4.0 * context * s.attn_width * s.layers);
  return batch / std::max(bytes / bw, flops / rate);
}

double prefill_limit(const Shape& s, int seqs, int len, double bw, double rate) {
  const double tokens = double(seqs) * len;
  const double flops = tokens * 2 * (s.matmul_params - s.lm_head_params) + seqs * 2 * s.lm_head_params +
                       seqs * 2.0 * double(len) * len * s.attn_width * s.layers;
  return tokens / std::max(s.streamed_bytes / bw, flops / rate);
}

std::vector<int32_t> random_ids(std::mt19937_64& rng, int n, int vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = int32_t(3 + rng() % uint64_t(vocab - 3));
  return ids;
}

// Prefills `prompts` in one call (logits at the last position only); returns the greedy picks.
std::vector<int32_t> prefill(CudaBackend& b, const std::vector<SeqId>& seqs,
                             const std::vector<std::vector<int32_t>>& prompts) {
  std::vector<ForwardChunk> chunks;
  for (size_t i = 0; i < seqs.size(); ++i)
    chunks.push_back(ForwardChunk{seqs[i], prompts[i], int(prompts[i].size()) - 1});
  std::vector<TokenPick> picks(seqs.size());
  std::vector<PickedToken> out;
  b.forward_pick(chunks, picks, out);
  std::vector<int32_t> next;
  for (const PickedToken& p : out) next.push_back(p.token);
  return next;
}

// Opens n sequences (appended to seqs) with prompts of len random tokens; returns their greedy
// next tokens.
std::vector<int32_t> open_and_prefill(CudaBackend& b, int n, int len, std::mt19937_64& rng, std::vector<SeqId>& seqs) {
  std::vector<std::vector<int32_t>> prompts;
  const size_t first = seqs.size();
  for (int i = 0; i < n; ++i) {
    seqs.push_back(b.open_sequence());
    prompts.push_back(random_ids(rng, len, b.config().vocab_size));
  }
  return prefill(b, std::vector<SeqId>(seqs.begin() + std::ptrdiff_t(first), seqs.end()), prompts);
}

double bench_prefill(CudaBackend& b, const BenchArgs& a, std::mt19937_64& rng) {
  std::vector<double> times;
  for (int rep = 0; rep < 4; ++rep) {   // the first is a warm-up
    std::vector<SeqId> seqs;
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < a.prefill_seqs; ++i) {
      seqs.push_back(b.open_sequence());
      prompts.push_back(random_ids(rng, a.prefill_len, b.config().vocab_size));
    }
    const auto t0 = Clock::now();
    prefill(b, seqs, prompts);
    if (rep > 0) times.push_back(seconds_since(t0));
    for (SeqId s : seqs) b.close_sequence(s);
  }
  std::sort(times.begin(), times.end());
  return double(a.prefill_seqs) * a.prefill_len / times[times.size() / 2];
}

constexpr int kDecodeWarmUp = 3;   // steps before the timed ones: eager, graph capture, first replay

// Decode tokens/s of `seqs`, fed `next` first: decode_steps timed steps after the warm-up ones.
// Closes the sequences.
double timed_decode(CudaBackend& b, const BenchArgs& a, const std::vector<SeqId>& seqs, std::vector<int32_t> next) {
  const int batch = int(seqs.size());
  std::vector<ForwardChunk> chunks(static_cast<size_t>(batch));
  std::vector<TokenPick> picks(static_cast<size_t>(batch));
  std::vector<PickedToken> out;
  Clock::time_point t0;
  for (int step = 0; step < kDecodeWarmUp + a.decode_steps; ++step) {
    if (step == kDecodeWarmUp) t0 = Clock::now();
    for (int i = 0; i < batch; ++i) chunks[size_t(i)] = ForwardChunk{seqs[size_t(i)], std::span(&next[size_t(i)], 1), 0};
    b.forward_pick(chunks, picks, out);
    for (int i = 0; i < batch; ++i) next[size_t(i)] = out[size_t(i)].token;
  }
  const double t = seconds_since(t0);
  for (SeqId s : seqs) b.close_sequence(s);
  return double(batch) * a.decode_steps / t;
}

// Decode tokens/s of `batch` sequences after a prompt_len prefill. NaN when the KV cache can't
// hold the batch.
double bench_decode(CudaBackend& b, const BenchArgs& a, int batch, std::mt19937_64& rng) {
  const int64_t per_seq = (a.prompt_len + kDecodeWarmUp + a.decode_steps + b.kv_block_size() - 1) / b.kv_block_size();
  if (per_seq * batch > b.kv_free_blocks()) return NAN;
  std::vector<SeqId> seqs;
  std::vector<int32_t> next = open_and_prefill(b, batch, a.prompt_len, rng, seqs);
  return timed_decode(b, a, seqs, std::move(next));
}

// The same behind a common prefix of `shared` tokens (few-shot examples): prefilled once and
// forked, so the sequences' tables share its full blocks as prefix caching makes them, then
// prompt_len own tokens each. NaN when the KV cache can't hold it.
double bench_shared_decode(CudaBackend& b, const BenchArgs& a, int batch, int shared, std::mt19937_64& rng) {
  const int BS = b.kv_block_size();
  const int64_t own = (shared % BS + a.prompt_len + kDecodeWarmUp + a.decode_steps + BS - 1) / BS;
  if (shared / BS + own * batch > b.kv_free_blocks()) return NAN;
  const SeqId root = b.open_sequence();
  const std::vector<int32_t> prefix = random_ids(rng, shared, b.config().vocab_size);
  std::vector<float> no_logits;
  const ForwardChunk c{root, prefix, shared};
  b.forward(std::span(&c, 1), no_logits);
  std::vector<SeqId> seqs;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < batch; ++i) {
    seqs.push_back(b.fork_sequence(root));
    prompts.push_back(random_ids(rng, a.prompt_len, b.config().vocab_size));
  }
  b.close_sequence(root);   // the forks keep its blocks
  return timed_decode(b, a, seqs, prefill(b, seqs, prompts));
}

// Tokens/s of steps that mix `batch` decode sequences (prompt_len tokens of context) with one new
// prompt of prefill_len tokens each, as the scheduler builds them when work arrives during
// decoding: median of 3 timed steps after a warm-up. NaN when the KV cache can't hold it.
double bench_mixed(CudaBackend& b, const BenchArgs& a, int batch, std::mt19937_64& rng) {
  constexpr int kSteps = 4;   // the first is a warm-up
  const int bs = b.kv_block_size();
  const int64_t blocks = int64_t(batch) * ((a.prompt_len + kSteps + bs - 1) / bs) + (a.prefill_len + bs - 1) / bs;
  if (blocks > b.kv_free_blocks()) return NAN;
  std::vector<SeqId> seqs;
  std::vector<int32_t> next = open_and_prefill(b, batch, a.prompt_len, rng, seqs);
  std::vector<double> times;
  for (int step = 0; step < kSteps; ++step) {
    const SeqId fresh = b.open_sequence();
    const std::vector<int32_t> prompt = random_ids(rng, a.prefill_len, b.config().vocab_size);
    std::vector<ForwardChunk> chunks;
    for (int i = 0; i < batch; ++i) chunks.push_back(ForwardChunk{seqs[size_t(i)], std::span(&next[size_t(i)], 1), 0});
    chunks.push_back(ForwardChunk{fresh, prompt, a.prefill_len - 1});
    std::vector<TokenPick> picks(chunks.size());
    std::vector<PickedToken> out;
    const auto t0 = Clock::now();
    b.forward_pick(chunks, picks, out);
    if (step > 0) times.push_back(seconds_since(t0));
    for (int i = 0; i < batch; ++i) next[size_t(i)] = out[size_t(i)].token;
    b.close_sequence(fresh);
  }
  for (SeqId s : seqs) b.close_sequence(s);
  std::sort(times.begin(), times.end());
  return double(batch + a.prefill_len) / times[times.size() / 2];
}

// Teacher-forced log-probs of the next token and argmax agreement between two implementations.
struct Agreement {
  double max_error = 0, sum_error = 0;
  int same = 0, n = 0;
  void add(double lp_a, double lp_b, int32_t argmax_a, int32_t argmax_b) {
    max_error = std::max(max_error, std::fabs(lp_a - lp_b));
    sum_error += std::fabs(lp_a - lp_b);
    same += argmax_a == argmax_b;
    ++n;
  }
  json to_json() const {
    return {{"positions", n}, {"max_logprob_error", max_error}, {"mean_logprob_error", n ? sum_error / n : 0.0},
            {"argmax_same", same}};
  }
  std::string line(const std::string& what) const {
    return fmt::format("{}: max |dlogprob| {:.4f}, mean {:.4f}; greedy token agrees at {}/{} ({:.1f}%)", what,
                       max_error, n ? sum_error / n : 0.0, same, n, n ? 100.0 * same / n : 0.0);
  }
};

struct Agreements {
  Agreement vs_hf, vs_hf_clear, vs_fp32, hf_vs_fp32;   // clear: where HF's top-2 margin > 0.1
};

// yardstick on the same weights as HF, over HF's prompts.
Agreements agreement(CudaBackend& b, const json& hf) {
  Agreements r;
  const size_t V = size_t(b.config().vocab_size);
  for (const json& p : hf["agreement"]) {
    const auto ids = p["ids"].get<std::vector<int32_t>>();
    const auto lp = p["logprobs"].get<std::vector<double>>();
    const auto am = p["argmax"].get<std::vector<int32_t>>();
    const auto margin = p["margin"].get<std::vector<double>>();
    const auto lp32 = p.value("logprobs_fp32", std::vector<double>());
    const auto am32 = p.value("argmax_fp32", std::vector<int32_t>());
    const SeqId s = b.open_sequence();
    std::vector<float> logits;
    const ForwardChunk c{s, ids, 0};
    b.forward(std::span(&c, 1), logits);
    b.close_sequence(s);
    for (size_t t = 0; t + 1 < ids.size(); ++t) {
      const std::span<const float> row(&logits[t * V], V);
      const double mine = double(row[size_t(ids[t + 1])]) - logsumexp(row);
      const int32_t my_argmax = argmax(row);
      r.vs_hf.add(mine, lp[t], my_argmax, am[t]);
      if (margin[t] > 0.1) r.vs_hf_clear.add(mine, lp[t], my_argmax, am[t]);
      if (t < lp32.size()) {
        r.vs_fp32.add(mine, lp32[t], my_argmax, am32[t]);
        r.hf_vs_fp32.add(lp[t], lp32[t], am[t], am32[t]);
      }
    }
  }
  return r;
}

struct Row {
  std::string workload;
  double tok_s, limit, hf;
};

void run_bench(const BenchArgs& a) {
  if (a.synthetic.empty() == a.model_dir.empty()) throw InputError("bench: give exactly one of --synthetic and --model");
  json cfg_json;
  ModelConfig cfg;
  std::string label;
  if (!a.model_dir.empty()) {
    cfg = load_model_config(a.model_dir);
    label = a.model_dir;
  } else {
    cfg_json = synthetic_config(a.synthetic);
    cfg = parse_model_config(cfg_json, "--synthetic " + a.synthetic);
    label = "synthetic " + a.synthetic;
  }
  const std::vector<int> batches = parse_batches(a.batches);
  const fs::path work = fs::temp_directory_path() / fmt::format("yardstick-bench-{}", getpid());
  fs::create_directories(work);
  json hf;
  if (a.compare_hf) hf = run_hf(a, cfg_json, work);

  fmt::print(stderr, "bench: measuring the device's copy bandwidth and bf16 GEMM rate\n");
  const double bw = cuda::measure_copy_bandwidth();
  const double rate = cuda::measure_gemm_rate();

  CudaBackendOptions opts;
  opts.max_step_seqs = std::max({opts.max_step_seqs, *std::max_element(batches.begin(), batches.end()), a.mixed_batch + 1});
  opts.max_step_tokens = std::max({opts.max_step_tokens, a.prefill_seqs * a.prefill_len, a.mixed_batch + a.prefill_len});
  opts.max_step_logits = std::max(opts.max_step_logits, a.mixed_batch + 1);
  const auto t_load = Clock::now();
  std::unique_ptr<CudaBackend> backend =
      a.model_dir.empty() ? CudaBackend::synthetic(cfg, a.seed, opts)
                          : std::make_unique<CudaBackend>(cfg, Weights::load(a.model_dir, cfg), opts);
  fmt::print(stderr, "bench: {} on {} ready in {:.1f} s ({:.2f} GB of bf16 weights, KV cache of {} tokens)\n", label,
             backend->device_name(), seconds_since(t_load), backend->weight_bytes() / 1e9,
             backend->kv_total_blocks() * backend->kv_block_size());
  const Shape shape = shape_of(cfg, backend->weight_bytes());
  std::mt19937_64 rng(a.seed);
  auto hf_rate = [&](const std::string& key, const std::string& sub) -> double {
    if (!hf.contains(key)) return NAN;
    if (sub.empty()) return hf[key].get<double>();
    return hf[key].contains(sub) ? hf[key][sub].get<double>() : NAN;
  };

  std::vector<Row> rows;
  fmt::print(stderr, "bench: prefill {} x {}\n", a.prefill_seqs, a.prefill_len);
  rows.push_back({fmt::format("prefill {} x {} tokens", a.prefill_seqs, a.prefill_len), bench_prefill(*backend, a, rng),
                  prefill_limit(shape, a.prefill_seqs, a.prefill_len, bw, rate), hf_rate("prefill_tok_s", "")});
  if (a.prefill_ab && cuda::attention_prefill_mma_supports(backend->config().head_dim)) {
    // A/B of the prefill attention: the SIMT kernel instead of the tensor-core one.
    backend->set_mma_prefill_attention(false);
    fmt::print(stderr, "bench: prefill {} x {}, SIMT attention\n", a.prefill_seqs, a.prefill_len);
    rows.push_back({fmt::format("prefill {} x {} tokens, SIMT attention", a.prefill_seqs, a.prefill_len),
                    bench_prefill(*backend, a, rng), prefill_limit(shape, a.prefill_seqs, a.prefill_len, bw, rate),
                    hf_rate("prefill_tok_s", "")});
    backend->set_mma_prefill_attention(CudaBackendOptions{}.mma_prefill_attention);
  }
  if (a.prefill_ab) {
    // A/B of the prefill projections: cuBLASLt algorithms timed per shape, the residual add in
    // the matmul epilogue, both (each the opposite of the default).
    const CudaBackendOptions d;
    auto variant = [&](bool timed, bool epilogue, const std::string& what) {
      backend->set_gemm_timed_algorithms(timed);
      backend->set_gemm_residual_epilogue(epilogue);
      fmt::print(stderr, "bench: prefill {} x {}, {}\n", a.prefill_seqs, a.prefill_len, what);
      rows.push_back({fmt::format("prefill {} x {} tokens, {}", a.prefill_seqs, a.prefill_len, what),
                      bench_prefill(*backend, a, rng), prefill_limit(shape, a.prefill_seqs, a.prefill_len, bw, rate),
                      hf_rate("prefill_tok_s", "")});
    };
    const std::string timed = d.gemm_timed_algorithms ? "heuristic cuBLASLt algorithms" : "timed cuBLASLt algorithms";
    const std::string epilogue = d.gemm_residual_epilogue ? "residual add apart" : "residual add in the matmul epilogue";
    variant(!d.gemm_timed_algorithms, d.gemm_residual_epilogue, timed);
    variant(d.gemm_timed_algorithms, !d.gemm_residual_epilogue, epilogue);
    variant(!d.gemm_timed_algorithms, !d.gemm_residual_epilogue, timed + ", " + epilogue);
    backend->set_gemm_timed_algorithms(d.gemm_timed_algorithms);
    backend->set_gemm_residual_epilogue(d.gemm_residual_epilogue);
  }
  if (a.mixed_batch > 0) {
    // Mixed steps (decode sequences beside a new prompt): the default, the 1-token sequences
    // through the prefill kernel as well, and the SIMT prefill kernel.
    const int batch = a.mixed_batch;
    auto mixed = [&](const std::string& what) {
      fmt::print(stderr, "bench: mixed step, {}\n", what);
      rows.push_back({fmt::format("mixed step: {} decode (ctx {}) + 1 x {} prompt{}", batch, a.prompt_len,
                                  a.prefill_len, what.empty() ? "" : ", " + what),
                      bench_mixed(*backend, a, batch, rng), NAN, NAN});
    };
    mixed("");
    backend->set_decode_attention_in_mixed_steps(false);
    mixed("all in the prefill kernel");
    backend->set_decode_attention_in_mixed_steps(CudaBackendOptions{}.decode_attention_in_mixed_steps);
    backend->set_mma_prefill_attention(false);
    mixed("SIMT prefill attention");
    backend->set_mma_prefill_attention(CudaBackendOptions{}.mma_prefill_attention);
  }
  const double context = a.prompt_len + 3 + a.decode_steps / 2.0;
  for (int batch : batches) {
    fmt::print(stderr, "bench: decode at {} sequences\n", batch);
    rows.push_back({fmt::format("decode {} seq (ctx {}+{})", batch, a.prompt_len, a.decode_steps),
                    bench_decode(*backend, a, batch, rng), decode_limit(shape, batch, context, bw, rate),
                    hf_rate("decode_tok_s", std::to_string(batch))});
  }
  if (a.shared_prefix > 0) {
    // GSM8K's shape: every sequence behind the same few-shot prefix. The limits count the KV
    // bytes each path must read: the prefix once per step, or once per sequence.
    const int batch = *std::max_element(batches.begin(), batches.end());
    const double ctx = a.shared_prefix + context;
    auto shared_row = [&](bool on) {
      backend->set_shared_prefix_attention(on);
      const double kv_gb = decode_kv_bytes(shape, batch, ctx, on ? a.shared_prefix : 0) / 1e9;
      fmt::print(stderr, "bench: decode at {} sequences behind a {}-token prefix, shared-prefix attention {}\n", batch,
                 a.shared_prefix, on ? "on" : "off");
      rows.push_back({fmt::format("decode {} seq, {} shared + {} own tokens, shared-prefix attention {} (KV {:.1f} GB/step)",
                                  batch, a.shared_prefix, a.prompt_len, on ? "on" : "off", kv_gb),
                      bench_shared_decode(*backend, a, batch, a.shared_prefix, rng),
                      decode_limit(shape, batch, ctx, bw, rate, on ? a.shared_prefix : 0), NAN});
    };
    shared_row(true);
    shared_row(false);
    backend->set_shared_prefix_attention(CudaBackendOptions{}.shared_prefix_attention);
  }
  if (std::find(batches.begin(), batches.end(), 1) != batches.end()) {
    // A/B of the batch-1 decode path, one change at a time: the residual add + RMSNorm, then RoPE
    // and SwiGLU as kernels of their own, other gemv block shapes, and cuBLASLt alone.
    auto variant = [&](const std::string& what) {
      rows.push_back({"decode 1 seq, " + what, bench_decode(*backend, a, 1, rng), decode_limit(shape, 1, context, bw, rate),
                      hf_rate("decode_tok_s", "1")});
    };
    backend->set_fused_norms(false);
    variant("norms unfused");
    backend->set_fused_epilogues(false);
    variant("norms, RoPE, SwiGLU unfused");
    backend->set_fused_epilogues(true);
    backend->set_fused_norms(true);
    const int features = CudaBackendOptions{}.gemv_features_per_block;
    for (int f : {1, 2, 4}) {
      if (f == features) continue;
      backend->set_gemv_features_per_block(f);
      variant(fmt::format("{} features per gemv block", f));
    }
    backend->set_gemv_features_per_block(features);
    const int groups = CudaBackendOptions{}.fused_gemv_groups;
    backend->set_fused_gemv_groups(3 - groups);
    variant(fmt::format("{} RoPE pairs / SwiGLU features per fused gemv block", 3 - groups));
    backend->set_fused_gemv_groups(groups);
    backend->set_small_batch_gemv(false);
    variant("cuBLASLt only");
    backend->set_small_batch_gemv(true);
  }
  const std::string device = backend->device_name();
  const size_t weight_bytes = backend->weight_bytes();
  backend.reset();

  std::optional<Agreements> agree;
  if (a.compare_hf) {
    const fs::path dir = a.model_dir.empty() ? work / "model" : fs::path(a.model_dir);
    fmt::print(stderr, "bench: agreement with HF on {}\n", dir.string());
    const ModelConfig saved = load_model_config(dir);
    CudaBackendOptions small;
    small.kv_max_bytes = int64_t(4) << 30;
    CudaBackend same(saved, Weights::load(dir, saved), small);
    agree = agreement(same, hf);
  }
  fs::remove_all(work);

  fmt::print("yardstick bench: {} ({} layers, hidden {}, {}/{} heads, ffn {}, vocab {}), {:.2f} GB bf16 weights, {}\n",
             label, cfg.num_layers, cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.intermediate_size,
             cfg.vocab_size, weight_bytes / 1e9, device);
  fmt::print("measured limits: device copy {:.2f} TB/s (read + write), cuBLASLt bf16 GEMM 8192^3 {:.0f} TFLOP/s\n",
             bw / 1e12, rate / 1e12);
  if (a.compare_hf) {
    fmt::print("Hugging Face: transformers {}, torch {}\n", hf.value("transformers", "?"), hf.value("torch", "?"));
  }
  fmt::print("\n| workload | yardstick tok/s | limit tok/s | of limit | HF tok/s | vs HF |\n|---|---:|---:|---:|---:|---:|\n");
  json rows_json = json::array();
  for (const Row& r : rows) {
    auto num = [](double v, const char* f) { return std::isnan(v) ? std::string("-") : fmt::format(fmt::runtime(f), v); };
    fmt::print("| {} | {} | {} | {} | {} | {} |\n", r.workload, num(r.tok_s, "{:.0f}"), num(r.limit, "{:.0f}"),
               num(r.tok_s / r.limit, "{:.2f}"), num(r.hf, "{:.0f}"), num(r.tok_s / r.hf, "{:.1f}x"));
    rows_json.push_back({{"workload", r.workload}, {"tok_s", r.tok_s}, {"limit_tok_s", r.limit}, {"hf_tok_s", r.hf}});
  }
  json result = {{"model", label}, {"device", device}, {"copy_bytes_per_s", bw}, {"gemm_flops_per_s", rate},
                 {"rows", rows_json}};
  if (agree) {
    fmt::print("\nagreement on the same weights, teacher-forced over {} positions of random prompts:\n", agree->vs_hf.n);
    fmt::print("- {}\n", agree->vs_hf.line("yardstick bf16 vs HF bf16"));
    fmt::print("- {}\n", agree->vs_hf_clear.line("  where HF's top-2 margin > 0.1"));
    if (agree->vs_fp32.n) {
      fmt::print("- {}\n", agree->vs_fp32.line("yardstick bf16 vs HF fp32"));
      fmt::print("- {}\n", agree->hf_vs_fp32.line("HF bf16 vs HF fp32"));
    }
    result["agreement"] = {{"vs_hf_bf16", agree->vs_hf.to_json()}, {"vs_hf_bf16_clear_margin", agree->vs_hf_clear.to_json()},
                           {"vs_hf_fp32", agree->vs_fp32.to_json()}, {"hf_bf16_vs_fp32", agree->hf_vs_fp32.to_json()}};
  }
  if (!a.json_out.empty()) std::ofstream(a.json_out) << result.dump(2) << "\n";
}

#endif  // YARDSTICK_HAVE_CUDA

}  // namespace

void register_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "CUDA backend throughput against the hardware limit (and Hugging Face)");
  cmd->add_option("--synthetic", args->synthetic, "7b, 67b, or key=value pairs over the 7B shape");
  cmd->add_option("--model", args->model_dir, "a model directory");
  cmd->add_flag("--compare-hf", args->compare_hf, "also run Hugging Face transformers (python3 + torch)");
  cmd->add_option("--hf-script", args->hf_script, "bench/hf_compare.py")->capture_default_str();
  cmd->add_option("--json", args->json_out, "also write the results here");
  cmd->add_option("--prefill-seqs", args->prefill_seqs, "sequences in the prefill workload")->capture_default_str();
  cmd->add_option("--prefill-len", args->prefill_len, "tokens of each prefill sequence")->capture_default_str();
  cmd->add_option("--prompt-len", args->prompt_len, "prompt tokens before decoding")->capture_default_str();
  cmd->add_option("--decode-steps", args->decode_steps, "timed decode steps")->capture_default_str();
  cmd->add_option("--hf-decode-steps", args->hf_decode_steps, "tokens HF generates per batch")->capture_default_str();
  cmd->add_option("--batches", args->batches, "concurrent sequences for decode")->capture_default_str();
  cmd->add_option("--shared-prefix", args->shared_prefix,
                  "also decode the largest batch behind a common prefix of N tokens, shared-prefix attention on and off")
      ->capture_default_str();
  cmd->add_option("--mixed-batch", args->mixed_batch,
                  "decode sequences beside a prefill-len prompt in the mixed-step rows (0: none)")
      ->capture_default_str();
  cmd->add_flag("!--no-prefill-ab", args->prefill_ab, "skip the prefill A/B rows");
  cmd->add_option("--seed", args->seed, "seed of the synthetic weights and prompts")->capture_default_str();
  cmd->callback([args] {
#ifdef YARDSTICK_HAVE_CUDA
    run_bench(*args);
#else
    synthetic_config(args->synthetic.empty() ? "7b" : args->synthetic);   // still report a bad spec first
    parse_batches(args->batches);
    throw Error("bench: this yardstick was built without the CUDA backend (configure with -DYARDSTICK_CUDA=ON)");
#endif
  });
}

}  // namespace yardstick::cli
