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
#include "engine/model_config.h"
#include "engine/synthetic_model.h"
#include "engine/tokenizer.h"

namespace yardstick {

namespace {

using nlohmann::json;

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
  if (name != "tiny" && name != "7b" && name != "67b")
    throw InputError(fmt::format("synth-model: unknown preset \"{}\" (tiny, 7b, 67b)", name));
  const json cfg = synthetic_config(name);   // the one table of shapes (engine/synthetic_model.h)
  return SynthShape{cfg.at("hidden_size").get<int>(),         cfg.at("num_hidden_layers").get<int>(),
                    cfg.at("num_attention_heads").get<int>(), cfg.at("num_key_value_heads").get<int>(),
                    cfg.at("intermediate_size").get<int>(),   cfg.at("vocab_size").get<int>(),
                    cfg.at("max_position_embeddings").get<int>()};
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

  const json config = {{"architectures", {"LlamaForCausalLM"}},
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
              {"yardstick_synthetic", {{"seed", o.seed}}}};
  write_json(o.out / "config.json", config);
  const ModelConfig cfg = parse_model_config(config, (o.out / "config.json").string());
  write_json(o.out / "generation_config.json", {{"bos_token_id", bos}, {"eos_token_id", eos}});

  // Old weight files would be read alongside the new ones: clear them first.
  for (const auto& e : std::filesystem::directory_iterator(o.out)) {
    auto name = e.path().filename().string();
    if (name.rfind("model", 0) == 0 && name.find(".safetensors") != std::string::npos) std::filesystem::remove(e.path());
  }

  // Group tensors into shards of about shard_bytes, materialising one shard at a time.
  auto tensors = synthetic_tensors(cfg, text_vocab, o.tokenizer ? bos : -1);
  std::vector<std::vector<const SyntheticTensor*>> shards(1);
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
    for (const SyntheticTensor* t : shards[i]) {
      buffers.push_back(synthetic_tensor_bytes(*t, o.seed, o.dtype));
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
