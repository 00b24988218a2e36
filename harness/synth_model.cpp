#include "harness/synth_model.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "datasets/checkout.h"
#include "datasets/data_dir.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"

namespace yardstick {

namespace {

using nlohmann::json;

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

// ------------------------------------------------------------------ the tensors

struct TensorPlan {
  std::string name;
  std::vector<int64_t> shape;
  enum class Init { Normal, Ones } init = Init::Normal;
  float stddev = 0.02f;
  int64_t zero_rows_from = -1;   // rows >= this are zero (-1: none)
  int64_t zero_row = -1;         // one more zero row (-1: none)

  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

std::vector<TensorPlan> plan_tensors(const SynthShape& s, int64_t text_vocab, int64_t bos) {
  const int64_t head_dim = s.hidden / s.heads;
  const int64_t q_dim = head_dim * s.heads, kv_dim = head_dim * s.kv_heads;
  const int64_t H = s.hidden, I = s.intermediate, V = s.vocab;
  std::vector<TensorPlan> t;
  t.push_back({"model.embed_tokens.weight", {V, H}});
  for (int l = 0; l < s.layers; ++l) {
    std::string p = fmt::format("model.layers.{}.", l);
    t.push_back({p + "input_layernorm.weight", {H}, TensorPlan::Init::Ones});
    t.push_back({p + "self_attn.q_proj.weight", {q_dim, H}});
    t.push_back({p + "self_attn.k_proj.weight", {kv_dim, H}});
    t.push_back({p + "self_attn.v_proj.weight", {kv_dim, H}});
    t.push_back({p + "self_attn.o_proj.weight", {H, q_dim}});
    t.push_back({p + "post_attention_layernorm.weight", {H}, TensorPlan::Init::Ones});
    t.push_back({p + "mlp.gate_proj.weight", {I, H}});
    t.push_back({p + "mlp.up_proj.weight", {I, H}});
    t.push_back({p + "mlp.down_proj.weight", {H, I}});
  }
  t.push_back({"model.norm.weight", {H}, TensorPlan::Init::Ones});
  // The final norm gives unit RMS, so a row of std 2/sqrt(H) gives logits of std ~2.
  TensorPlan head{"lm_head.weight", {V, H}, TensorPlan::Init::Normal, static_cast<float>(2.0 / std::sqrt(double(H)))};
  head.zero_rows_from = text_vocab < V ? text_vocab : -1;
  head.zero_row = bos;
  t.push_back(head);
  return t;
}

std::vector<std::byte> materialize(const TensorPlan& t, uint64_t seed, DType dtype) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  if (t.init == TensorPlan::Init::Ones) {
    std::fill(v.begin(), v.end(), 1.0f);
  } else {
    fill_normal(v, seed, t.name, t.stddev);
  }
  const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 0;
  if (cols > 0 && t.zero_rows_from >= 0)
    std::fill(v.begin() + t.zero_rows_from * cols, v.end(), 0.0f);
  if (cols > 0 && t.zero_row >= 0 && t.zero_row < t.shape[0])
    std::fill_n(v.begin() + t.zero_row * cols, cols, 0.0f);

  std::vector<std::byte> bytes(v.size() * dtype_size(dtype));
  if (dtype == DType::F32) {
    std::memcpy(bytes.data(), v.data(), bytes.size());
  } else {
    auto* out = reinterpret_cast<uint16_t*>(bytes.data());
    for (size_t i = 0; i < v.size(); ++i) out[i] = dtype == DType::BF16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
  }
  return bytes;
}

// ------------------------------------------------------------------ files

void write_json(const std::filesystem::path& file, const json& j) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << j.dump(2) << "\n";
  if (!out) throw Error(fmt::format("{}: cannot be written", file.string()));
}

std::string dtype_torch_name(DType d) {
  switch (d) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
  }
  return "?";
}

void check_shape(const SynthShape& s) {
  auto positive = [](int v, const char* what) {
    if (v <= 0) throw InputError(fmt::format("synth-model: --{} must be positive (got {})", what, v));
  };
  positive(s.hidden, "hidden");
  positive(s.layers, "layers");
  positive(s.heads, "heads");
  positive(s.kv_heads, "kv-heads");
  positive(s.intermediate, "intermediate");
  positive(s.vocab, "vocab");
  positive(s.max_positions, "max-positions");
  if (s.hidden % s.heads != 0)
    throw InputError(fmt::format("synth-model: hidden {} is not a multiple of heads {}", s.hidden, s.heads));
  if ((s.hidden / s.heads) % 2 != 0)
    throw InputError(fmt::format("synth-model: head dim {} must be even for RoPE", s.hidden / s.heads));
  if (s.heads % s.kv_heads != 0)
    throw InputError(fmt::format("synth-model: heads {} is not a multiple of kv-heads {}", s.heads, s.kv_heads));
}

// Copies tokenizer.json and a tokenizer_config.json (the folder's own, else the reference
// folder's DeepSeek base/chat one) into out.
void copy_tokenizer(const std::filesystem::path& source, bool chat, const std::filesystem::path& out) {
  std::filesystem::path dir = std::filesystem::is_directory(source) ? source : source.parent_path();
  std::filesystem::path tok = std::filesystem::is_directory(source) ? source / "tokenizer.json" : source;
  if (!std::filesystem::is_regular_file(tok))
    throw InputError(fmt::format("synth-model: no tokenizer at {}", tok.string()));
  std::filesystem::path config = dir / "tokenizer_config.json";
  std::filesystem::path named = dir / (chat ? "deepseek-llm-7b-chat.tokenizer_config.json"
                                            : "deepseek-llm-7b-base.tokenizer_config.json");
  if (std::filesystem::is_regular_file(named)) config = named;
  // The sources are often read-only (../shared); the copies must stay writable for a re-run.
  auto copy = [](const std::filesystem::path& from, const std::filesystem::path& to) {
    std::filesystem::remove(to);
    std::filesystem::copy_file(from, to);
    std::filesystem::permissions(to, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
  };
  copy(tok, out / "tokenizer.json");
  if (std::filesystem::is_regular_file(config)) {
    copy(config, out / "tokenizer_config.json");
    if (chat) {
      std::ifstream in(config, std::ios::binary);
      if (!json::parse(in, nullptr, false).contains("chat_template"))
        throw InputError(fmt::format("synth-model: --chat, but {} has no chat_template", config.string()));
    }
  } else if (chat) {
    throw InputError(fmt::format("synth-model: --chat, but {} has no tokenizer_config.json", dir.string()));
  } else {
    std::filesystem::remove(out / "tokenizer_config.json");
  }
}

}  // namespace

SynthShape synth_preset(const std::string& name) {
  if (name == "tiny") return SynthShape{};
  if (name == "7b") return SynthShape{4096, 30, 32, 32, 11008, 102400, 4096};
  if (name == "67b") return SynthShape{8192, 95, 64, 8, 22016, 102400, 4096};
  throw InputError(fmt::format("synth-model: unknown preset \"{}\" (tiny, 7b, 67b)", name));
}

std::filesystem::path default_tokenizer_dir() {
  std::vector<std::filesystem::path> tried;
  try {
    tried.push_back(resolve_data_dir(std::nullopt).parent_path() / "reference" / "tokenizer");
  } catch (const Error&) {
    // No data directory: the checkout's ../shared is the other place to look.
  }
  for (const auto& c : checkout_candidates()) tried.push_back(c.parent_path() / "shared" / "reference" / "tokenizer");
  for (const auto& dir : tried)
    if (std::filesystem::is_regular_file(dir / "tokenizer.json")) return dir;
  std::vector<std::string> names;
  for (const auto& d : tried) names.push_back(d.string());
  throw Error(fmt::format("no reference tokenizer found (tried {}); pass --tokenizer PATH or --no-tokenizer",
                          fmt::join(names, ", ")));
}

void write_synth_model(const SynthOptions& o) {
  const SynthShape& s = o.shape;
  check_shape(s);
  std::filesystem::create_directories(o.out);

  // Tokenizer first: its vocabulary bounds the model's and names the special ids.
  int64_t text_vocab = s.vocab;
  int32_t bos = std::min(100000, s.vocab - 2), eos = std::min(100001, s.vocab - 1);
  if (o.tokenizer) {
    copy_tokenizer(*o.tokenizer, o.chat, o.out);
    Tokenizer tok = Tokenizer::from_file(o.out);
    if (tok.vocab_size() > s.vocab)
      throw InputError(fmt::format("synth-model: the tokenizer knows {} ids but --vocab is {}; DeepSeek models "
                                   "use 102400 (or pass --no-tokenizer)",
                                   tok.vocab_size(), s.vocab));
    text_vocab = tok.vocab_size();
    if (auto id = tok.bos_id()) bos = *id;
    if (auto id = tok.eos_id()) eos = *id;
  } else {
    std::filesystem::remove(o.out / "tokenizer.json");
    std::filesystem::remove(o.out / "tokenizer_config.json");
  }

  write_json(o.out / "config.json",
             {{"architectures", {"LlamaForCausalLM"}},
              {"model_type", "llama"},
              {"hidden_size", s.hidden},
              {"intermediate_size", s.intermediate},
              {"num_hidden_layers", s.layers},
              {"num_attention_heads", s.heads},
              {"num_key_value_heads", s.kv_heads},
              {"vocab_size", s.vocab},
              {"max_position_embeddings", s.max_positions},
              {"hidden_act", "silu"},
              {"rms_norm_eps", 1e-6},
              {"rope_theta", 10000.0},
              {"rope_scaling", nullptr},
              {"tie_word_embeddings", false},
              {"torch_dtype", dtype_torch_name(o.dtype)},
              {"bos_token_id", bos},
              {"eos_token_id", eos},
              {"initializer_range", 0.02},
              {"yardstick_synthetic", {{"seed", o.seed}}}});
  write_json(o.out / "generation_config.json", {{"bos_token_id", bos}, {"eos_token_id", eos}});

  // Old weight files would be read alongside the new ones: clear them first.
  for (const auto& e : std::filesystem::directory_iterator(o.out)) {
    auto name = e.path().filename().string();
    if (name.rfind("model", 0) == 0 && name.find(".safetensors") != std::string::npos) std::filesystem::remove(e.path());
  }

  // Group tensors into shards of about shard_bytes, materialising one shard at a time.
  auto tensors = plan_tensors(s, text_vocab, o.tokenizer ? bos : -1);
  std::vector<std::vector<const TensorPlan*>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const auto& t : tensors) {
    uint64_t bytes = static_cast<uint64_t>(t.numel()) * dtype_size(o.dtype);
    if (in_shard > 0 && in_shard + bytes > o.shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&t);
    in_shard += bytes;
    total += bytes;
  }
  json weight_map = json::object();
  const std::map<std::string, std::string> metadata{{"format", "pt"}};
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string file = shards.size() == 1 ? "model.safetensors"
                                          : fmt::format("model-{:05}-of-{:05}.safetensors", i + 1, shards.size());
    std::vector<std::vector<std::byte>> buffers;
    std::vector<TensorToWrite> to_write;
    buffers.reserve(shards[i].size());
    for (const TensorPlan* t : shards[i]) {
      buffers.push_back(materialize(*t, o.seed, o.dtype));
      to_write.push_back({t->name, o.dtype, t->shape, buffers.back()});
      weight_map[t->name] = file;
    }
    write_safetensors(o.out / file, to_write, metadata);
  }
  if (shards.size() > 1)
    write_json(o.out / "model.safetensors.index.json",
               {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
}

}  // namespace yardstick
