#include "engine/synthetic_model.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/sampler.h"

namespace yardstick {

namespace {

using nlohmann::json;

// ------------------------------------------------------------------ shapes

json preset_config(const std::string& name) {
  // The DeepSeek LLM 7B shape; the others differ from it only where they set a field.
  json cfg = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_act", "silu"},
              {"hidden_size", 4096}, {"intermediate_size", 11008}, {"num_hidden_layers", 30},
              {"num_attention_heads", 32}, {"num_key_value_heads", 32}, {"max_position_embeddings", 4096},
              {"vocab_size", 102400}, {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0},
              {"rope_scaling", nullptr}, {"tie_word_embeddings", false}, {"initializer_range", 0.02},
              {"bos_token_id", 100000}, {"eos_token_id", 100001}};
  if (name == "7b") return cfg;
  if (name == "67b") {
    cfg.update({{"hidden_size", 8192}, {"intermediate_size", 22016}, {"num_hidden_layers", 95},
                {"num_attention_heads", 64}, {"num_key_value_heads", 8}});
    return cfg;
  }
  if (name == "tiny") {
    cfg.update({{"hidden_size", 64}, {"intermediate_size", 172}, {"num_hidden_layers", 2},
                {"num_attention_heads", 4}, {"num_key_value_heads", 2}});
    return cfg;
  }
  return nullptr;
}

// ------------------------------------------------------------------ deterministic N(0, std)

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Elements per independently seeded chunk: the values depend on (seed, name, chunk), never on
// how many threads filled them.
constexpr int64_t kChunk = int64_t{1} << 20;

void fill_chunk(float* out, int64_t count, uint64_t seed, uint64_t name_hash, int64_t chunk, float stddev) {
  // The engine's counter-based generator is fully specified, so weights are identical on every
  // platform (std::normal_distribution is not).
  const uint64_t stream = seed ^ name_hash ^ (static_cast<uint64_t>(chunk) * 0xD1B54A32D192ED03ull);
  for (int64_t i = 0; i < count; i += 2) {
    // Box-Muller: two independent normals from two uniforms (the first moved to (0, 1] for log).
    double r = std::sqrt(-2.0 * std::log(1.0 - counter_uniform(stream, static_cast<uint64_t>(i))));
    double theta = 2.0 * M_PI * counter_uniform(stream, static_cast<uint64_t>(i) + 1);
    out[i] = static_cast<float>(r * std::cos(theta)) * stddev;
    if (i + 1 < count) out[i + 1] = static_cast<float>(r * std::sin(theta)) * stddev;
  }
}

void fill_normal(std::vector<float>& out, uint64_t seed, const std::string& name, float stddev) {
  const int64_t n = static_cast<int64_t>(out.size());
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const uint64_t h = fnv1a(name);
  std::atomic<int64_t> next{0};
  auto worker = [&] {
    for (int64_t c; (c = next.fetch_add(1)) < chunks;)
      fill_chunk(out.data() + c * kChunk, std::min(kChunk, n - c * kChunk), seed, h, c, stddev);
  };
  unsigned n_threads = std::clamp<unsigned>(std::thread::hardware_concurrency(), 1, 64);
  n_threads = static_cast<unsigned>(std::min<int64_t>(n_threads, chunks));
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < n_threads; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
}

}  // namespace

json synthetic_config(const std::string& spec) {
  if (json preset = preset_config(spec); !preset.is_null()) return preset;
  static const std::pair<const char*, const char*> keys[] = {
      {"layers", "num_hidden_layers"}, {"hidden", "hidden_size"}, {"ffn", "intermediate_size"},
      {"heads", "num_attention_heads"}, {"kv_heads", "num_key_value_heads"}, {"head_dim", "head_dim"},
      {"vocab", "vocab_size"}, {"ctx", "max_position_embeddings"}};
  std::stringstream in(spec);
  std::string item;
  json cfg = preset_config("7b");
  bool first = true;
  while (std::getline(in, item, ',')) {
    const size_t eq = item.find('=');
    if (first && eq == std::string::npos && !preset_config(item).is_null()) {
      cfg = preset_config(item);
      first = false;
      continue;
    }
    first = false;
    const std::string key = item.substr(0, eq);
    const auto* k = std::find_if(std::begin(keys), std::end(keys), [&](auto& p) { return key == p.first; });
    if (eq == std::string::npos || k == std::end(keys)) {
      throw InputError(fmt::format("synthetic model '{}': expected tiny, 7b, 67b or key=value pairs of layers, "
                                   "hidden, ffn, heads, kv_heads, head_dim, vocab, ctx (after an optional preset); "
                                   "got '{}'", spec, item));
    }
    try {
      size_t used = 0;
      const std::string value = item.substr(eq + 1);
      cfg[k->second] = std::stoi(value, &used);
      if (used != value.size()) throw std::invalid_argument(value);
    } catch (const std::exception&) {
      throw InputError(fmt::format("synthetic model '{}': '{}' is not a number", spec, item.substr(eq + 1)));
    }
  }
  return cfg;
}

int64_t SyntheticTensor::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<SyntheticTensor> synthetic_tensors(const ModelConfig& cfg, int64_t text_vocab, int64_t bos) {
  const int64_t q_dim = int64_t(cfg.head_dim) * cfg.num_heads, kv_dim = int64_t(cfg.head_dim) * cfg.num_kv_heads;
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size, V = cfg.vocab_size;
  using Init = SyntheticTensor::Init;
  std::vector<SyntheticTensor> t;
  t.push_back({"model.embed_tokens.weight", {V, H}});
  for (int l = 0; l < cfg.num_layers; ++l) {
    std::string p = fmt::format("model.layers.{}.", l);
    t.push_back({p + "input_layernorm.weight", {H}, Init::Ones});
    t.push_back({p + "self_attn.q_proj.weight", {q_dim, H}});
    t.push_back({p + "self_attn.k_proj.weight", {kv_dim, H}});
    t.push_back({p + "self_attn.v_proj.weight", {kv_dim, H}});
    t.push_back({p + "self_attn.o_proj.weight", {H, q_dim}});
    t.push_back({p + "post_attention_layernorm.weight", {H}, Init::Ones});
    t.push_back({p + "mlp.gate_proj.weight", {I, H}});
    t.push_back({p + "mlp.up_proj.weight", {I, H}});
    t.push_back({p + "mlp.down_proj.weight", {H, I}});
  }
  t.push_back({"model.norm.weight", {H}, Init::Ones});
  if (!cfg.tie_word_embeddings) {
    // The final norm gives unit RMS, so a row of std 2/sqrt(H) gives logits of std ~2.
    SyntheticTensor head{"lm_head.weight", {V, H}, Init::Normal, static_cast<float>(2.0 / std::sqrt(double(H)))};
    head.zero_rows_from = text_vocab < V ? text_vocab : -1;
    head.zero_row = bos;
    t.push_back(head);
  }
  return t;
}

std::vector<std::byte> synthetic_tensor_bytes(const SyntheticTensor& t, uint64_t seed, DType dtype) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  if (t.init == SyntheticTensor::Init::Ones) {
    std::fill(v.begin(), v.end(), 1.0f);
  } else {
    fill_normal(v, seed, t.name, t.stddev);
  }
  const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 0;
  if (cols > 0 && t.zero_rows_from >= 0) std::fill(v.begin() + t.zero_rows_from * cols, v.end(), 0.0f);
  if (cols > 0 && t.zero_row >= 0 && t.zero_row < t.shape[0]) std::fill_n(v.begin() + t.zero_row * cols, cols, 0.0f);

  std::vector<std::byte> bytes(v.size() * dtype_size(dtype));
  if (dtype == DType::F32) {
    std::memcpy(bytes.data(), v.data(), bytes.size());
  } else {
    auto* out = reinterpret_cast<uint16_t*>(bytes.data());
    for (size_t i = 0; i < v.size(); ++i) out[i] = dtype == DType::BF16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
  }
  return bytes;
}

Weights synthetic_weights(const ModelConfig& cfg, uint64_t seed, int64_t text_vocab, int64_t bos, DType dtype,
                          const std::string& label) {
  std::vector<OwnedTensor> tensors;
  for (const SyntheticTensor& t : synthetic_tensors(cfg, text_vocab, bos))
    tensors.push_back({t.name, dtype, t.shape, synthetic_tensor_bytes(t, seed, dtype)});
  return Weights::from_memory(std::move(tensors), label, cfg);
}

}  // namespace yardstick
