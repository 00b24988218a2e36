#include "engine/model_config.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/gguf.h"
#include "engine/json_file.h"

namespace yardstick {

namespace {

using json = nlohmann::json;

[[noreturn]] void refuse(const std::string& source, std::string_view what) {
  throw ModelFileError(fmt::format("{}: {}", source, what));
}

// The field's value, or null when absent: HF writes null for "use the default".
const json& field(const json& j, const char* key) {
  static const json null_value;
  auto it = j.find(key);
  return it == j.end() ? null_value : *it;
}

int positive_int(const json& v, const char* key, const std::string& source) {
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > INT32_MAX) {
    refuse(source, fmt::format("'{}' must be a positive integer, got {}", key, v.dump()));
  }
  return v.get<int>();
}

int required_int(const json& cfg, const char* key, const std::string& source) {
  const json& v = field(cfg, key);
  if (v.is_null()) refuse(source, fmt::format("required field '{}' is missing", key));
  return positive_int(v, key, source);
}

double positive_number(const json& v, const char* key, const std::string& source) {
  if (!v.is_number() || !(v.get<double>() > 0)) {
    refuse(source, fmt::format("'{}' must be a positive number, got {}", key, v.dump()));
  }
  return v.get<double>();
}

bool flag(const json& cfg, const char* key, bool fallback, const std::string& source) {
  const json& v = field(cfg, key);
  if (v.is_null()) return fallback;
  if (!v.is_boolean())
    refuse(source, fmt::format("'{}' must be true or false, got {}", key, v.dump()));
  return v.get<bool>();
}

// The one RoPE this engine implements: plain rotary embedding over the whole head, no scaling.
// Older configs spell it rope_theta + rope_scaling; transformers 5 writes rope_parameters.
double parse_rope_theta(const json& cfg, const std::string& source) {
  const json& scaling = field(cfg, "rope_scaling");
  const json& params = field(cfg, "rope_parameters");
  for (const json* spec : {&scaling, &params}) {
    if (spec->is_null()) continue;
    const char* key = spec == &scaling ? "rope_scaling" : "rope_parameters";
    if (!spec->is_object())
      refuse(source, fmt::format("'{}' must be an object, got {}", key, spec->dump()));
    // transformers 4 said "type", later versions "rope_type".
    const json& type = spec->contains("rope_type") ? (*spec)["rope_type"] : field(*spec, "type");
    if (!type.is_null() && type != "default") {
      refuse(source,
             fmt::format("unsupported RoPE scaling: {} is {} (only plain RoPE is implemented)", key,
                         spec->dump()));
    }
    if (type.is_null() && spec == &scaling) {
      refuse(source, fmt::format("unsupported RoPE scaling: rope_scaling is {} (only plain RoPE is "
                                 "implemented)",
                                 spec->dump()));
    }
    if (const json& f = field(*spec, "factor"); !f.is_null() && f != 1 && f != 1.0) {
      refuse(source, fmt::format("unsupported RoPE scaling: {} has factor {}", key, f.dump()));
    }
    if (const json& p = field(*spec, "partial_rotary_factor"); !p.is_null() && p != 1 && p != 1.0) {
      refuse(source,
             fmt::format("unsupported partial rotary embedding: {} has partial_rotary_factor {}",
                         key, p.dump()));
    }
  }
  if (const json& p = field(cfg, "partial_rotary_factor"); !p.is_null() && p != 1 && p != 1.0) {
    refuse(source, fmt::format("unsupported partial rotary embedding: partial_rotary_factor is {}",
                               p.dump()));
  }

  std::optional<double> theta;
  if (const json& t = field(cfg, "rope_theta"); !t.is_null())
    theta = positive_number(t, "rope_theta", source);
  if (params.is_object()) {
    if (const json& t = field(params, "rope_theta"); !t.is_null()) {
      const double p = positive_number(t, "rope_parameters.rope_theta", source);
      if (theta && *theta != p) {
        refuse(source, fmt::format("rope_theta {} disagrees with rope_parameters.rope_theta {}",
                                   *theta, p));
      }
      theta = p;
    }
  }
  return theta.value_or(10000.0);  // LlamaConfig's default
}

void check_architecture(const json& cfg, const std::string& source) {
  const json& archs = field(cfg, "architectures");
  const json& model_type = field(cfg, "model_type");
  if (archs.is_null() && model_type.is_null()) {
    refuse(source, "required field 'architectures' (or 'model_type') is missing");
  }
  if (!archs.is_null()) {
    if (!archs.is_array() || archs.size() != 1 || archs[0] != "LlamaForCausalLM") {
      refuse(source,
             fmt::format("unsupported architecture {} (only LlamaForCausalLM)", archs.dump()));
    }
  }
  if (!model_type.is_null() && model_type != "llama") {
    refuse(source, fmt::format("unsupported model_type {} (only \"llama\")", model_type.dump()));
  }
  if (const json& act = field(cfg, "hidden_act"); !act.is_null() && act != "silu") {
    refuse(source, fmt::format("unsupported hidden_act {} (only \"silu\")", act.dump()));
  }
  if (flag(cfg, "attention_bias", false, source))
    refuse(source, "unsupported attention_bias: true");
  if (flag(cfg, "mlp_bias", false, source)) refuse(source, "unsupported mlp_bias: true");
  if (const json& q = field(cfg, "quantization_config"); !q.is_null()) {
    refuse(source,
           fmt::format("unsupported quantized checkpoint (quantization_config {})", q.dump()));
  }
}

// A token id field: an int, or (eos only) a list of ints; null means "not given here".
std::optional<std::vector<int32_t>> token_ids(const json& v, const char* key, bool allow_list,
                                              const std::string& source) {
  if (v.is_null()) return std::nullopt;
  std::vector<int32_t> ids;
  auto add = [&](const json& x) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX) {
      refuse(source, fmt::format("'{}' must be a token id, got {}", key, v.dump()));
    }
    ids.push_back(x.get<int32_t>());
  };
  if (v.is_array() && allow_list) {
    for (const json& x : v) add(x);
  } else {
    add(v);
  }
  return ids;
}

// Special tokens named by tokenizer_config.json ("<｜begin▁of▁sentence｜>", or an AddedToken
// object holding it), resolved to ids through tokenizer.json beside it.
class TokenizerConfigTokens {
 public:
  explicit TokenizerConfigTokens(const std::filesystem::path& dir) : dir_(dir) {
    const auto file = dir / "tokenizer_config.json";
    if (std::filesystem::exists(file)) config_ = read_json_file(file);
  }

  std::optional<int32_t> id_of(const char* key) {
    const std::string source = (dir_ / "tokenizer_config.json").string();
    const json& v = field(config_, key);
    std::string content;
    if (v.is_string()) {
      content = v.get<std::string>();
    } else if (v.is_object() && field(v, "content").is_string()) {
      content = v["content"].get<std::string>();
    } else if (v.is_null()) {
      return std::nullopt;
    } else {
      refuse(source,
             fmt::format("'{}' must be a string or an AddedToken object, got {}", key, v.dump()));
    }
    const json& vocab = tokenizer();
    if (vocab.is_null()) return std::nullopt;  // nothing to resolve against: not given here
    for (const json& t : field(vocab, "added_tokens")) {
      if (field(t, "content") == content && field(t, "id").is_number_integer())
        return t["id"].get<int32_t>();
    }
    if (const json& id = field(field(field(vocab, "model"), "vocab"), content.c_str());
        id.is_number_integer()) {
      return id.get<int32_t>();
    }
    refuse(source, fmt::format("'{}' is \"{}\", which {} does not define", key, content,
                               (dir_ / "tokenizer.json").string()));
  }

 private:
  // tokenizer.json is megabytes of JSON: read only when a special token must be resolved.
  const json& tokenizer() {
    if (!tokenizer_read_) {
      tokenizer_read_ = true;
      const auto file = dir_ / "tokenizer.json";
      if (std::filesystem::exists(file)) tokenizer_ = read_json_file(file);
    }
    return tokenizer_;
  }

  std::filesystem::path dir_;
  json config_;
  json tokenizer_;
  bool tokenizer_read_ = false;
};

void check_token_ids(const std::vector<int32_t>& ids, const char* what, int vocab_size,
                     const std::string& source) {
  for (int32_t id : ids) {
    if (id >= vocab_size) {
      refuse(source,
             fmt::format("{} token id {} is outside the vocabulary ({})", what, id, vocab_size));
    }
  }
}

}  // namespace

bool ModelConfig::is_eos(int32_t id) const {
  return std::find(eos_token_ids.begin(), eos_token_ids.end(), id) != eos_token_ids.end();
}

ModelConfig parse_model_config(const json& cfg, const std::string& source) {
  if (!cfg.is_object()) refuse(source, "not a JSON object");
  check_architecture(cfg, source);

  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.hidden_size = required_int(cfg, "hidden_size", source);
  c.intermediate_size = required_int(cfg, "intermediate_size", source);
  c.num_layers = required_int(cfg, "num_hidden_layers", source);
  c.num_heads = required_int(cfg, "num_attention_heads", source);
  c.vocab_size = required_int(cfg, "vocab_size", source);
  c.max_position_embeddings = required_int(cfg, "max_position_embeddings", source);

  const json& kv = field(cfg, "num_key_value_heads");
  c.num_kv_heads = kv.is_null() ? c.num_heads : positive_int(kv, "num_key_value_heads", source);
  if (c.num_heads % c.num_kv_heads != 0) {
    refuse(source, fmt::format("num_attention_heads {} is not a multiple of num_key_value_heads {}",
                               c.num_heads, c.num_kv_heads));
  }
  const json& hd = field(cfg, "head_dim");
  if (hd.is_null()) {
    if (c.hidden_size % c.num_heads != 0) {
      refuse(source,
             fmt::format("hidden_size {} is not a multiple of num_attention_heads {} and no "
                         "head_dim is given",
                         c.hidden_size, c.num_heads));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  } else {
    c.head_dim = positive_int(hd, "head_dim", source);
  }
  if (c.head_dim % 2 != 0)
    refuse(source, fmt::format("head_dim {} is odd; RoPE needs pairs", c.head_dim));

  if (const json& eps = field(cfg, "rms_norm_eps"); !eps.is_null()) {
    c.rms_norm_eps = positive_number(eps, "rms_norm_eps", source);
  }
  c.rope_theta = parse_rope_theta(cfg, source);
  c.tie_word_embeddings = flag(cfg, "tie_word_embeddings", false, source);
  for (const char* key : {"dtype", "torch_dtype"}) {  // transformers 5 renamed torch_dtype
    if (const json& d = field(cfg, key); d.is_string()) {
      c.torch_dtype = d.get<std::string>();
      break;
    }
  }

  if (auto bos = token_ids(field(cfg, "bos_token_id"), "bos_token_id", false, source))
    c.bos_token_id = (*bos)[0];
  if (auto eos = token_ids(field(cfg, "eos_token_id"), "eos_token_id", true, source))
    c.eos_token_ids = *eos;
  if (c.bos_token_id >= 0) check_token_ids({c.bos_token_id}, "bos", c.vocab_size, source);
  check_token_ids(c.eos_token_ids, "eos", c.vocab_size, source);
  return c;
}

namespace {

// Metadata lookups of one GGUF file, each failure naming the file and the key.
class GgufKeys {
 public:
  GgufKeys(const GgufFile& file, std::string arch) : file_(file), arch_(std::move(arch)) {}

  [[noreturn]] void fail(std::string_view key, std::string_view what) const {
    refuse(file_.path().string(), fmt::format("metadata '{}': {}", key, what));
  }

  std::string key(std::string_view suffix) const { return fmt::format("{}.{}", arch_, suffix); }

  const GgufValue* find(std::string_view key) const { return file_.find(key); }

  std::optional<int64_t> integer(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_integer() || !v->as_int())
      fail(key, fmt::format("must be an integer, got a {}", gguf_value_type_name(v->type)));
    return v->as_int();
  }

  int positive(const std::string& key) const {
    const std::optional<int64_t> v = integer(key);
    if (!v) fail(key, "required key is missing");
    if (*v <= 0 || *v > INT32_MAX) fail(key, fmt::format("must be a positive integer, got {}", *v));
    return int(*v);
  }

  std::optional<double> number(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (!v->as_number()) fail(key, fmt::format("must be a number, got a {}", gguf_value_type_name(v->type)));
    return v->as_number();
  }

  std::optional<int32_t> token_id(const std::string& key, int vocab_size) const {
    const std::optional<int64_t> v = integer(key);
    if (!v) return std::nullopt;
    if (*v < 0 || *v >= vocab_size)
      fail(key, fmt::format("token id {} is outside the vocabulary ({})", *v, vocab_size));
    return int32_t(*v);
  }

 private:
  const GgufFile& file_;
  std::string arch_;
};

}  // namespace

ModelConfig gguf_model_config(const GgufFile& file) {
  const std::string source = file.path().string();
  const GgufValue* arch_value = file.find("general.architecture");
  if (!arch_value) refuse(source, "metadata 'general.architecture': required key is missing");
  if (!arch_value->as_string())
    refuse(source, "metadata 'general.architecture': must be a string");
  const std::string arch = *arch_value->as_string();
  if (arch != "llama") {
    refuse(source, fmt::format("metadata 'general.architecture': unsupported architecture \"{}\" (only "
                               "\"llama\")", arch));
  }
  const GgufKeys k(file, arch);

  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.hidden_size = k.positive(k.key("embedding_length"));
  c.intermediate_size = k.positive(k.key("feed_forward_length"));
  c.num_layers = k.positive(k.key("block_count"));
  c.num_heads = k.positive(k.key("attention.head_count"));
  c.max_position_embeddings = k.positive(k.key("context_length"));
  c.num_kv_heads = k.find(k.key("attention.head_count_kv")) ? k.positive(k.key("attention.head_count_kv"))
                                                            : c.num_heads;
  if (c.num_heads % c.num_kv_heads != 0) {
    k.fail(k.key("attention.head_count_kv"), fmt::format("{} does not divide the {} query heads",
                                                         c.num_kv_heads, c.num_heads));
  }
  if (k.find(k.key("attention.key_length"))) {
    c.head_dim = k.positive(k.key("attention.key_length"));
  } else {
    if (c.hidden_size % c.num_heads != 0) {
      k.fail(k.key("attention.head_count"), fmt::format("{} heads do not divide embedding_length {} and no "
                                                        "attention.key_length is given", c.num_heads, c.hidden_size));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (k.find(k.key("attention.value_length")) && k.positive(k.key("attention.value_length")) != c.head_dim)
    k.fail(k.key("attention.value_length"), "differs from the key length (unsupported)");
  if (c.head_dim % 2 != 0) k.fail(k.key("attention.key_length"), fmt::format("head size {} is odd; RoPE needs pairs", c.head_dim));
  if (k.find(k.key("rope.dimension_count")) && k.positive(k.key("rope.dimension_count")) != c.head_dim) {
    k.fail(k.key("rope.dimension_count"), fmt::format("{} rotary dimensions of a {}-wide head: partial rotary "
                                                      "embedding is unsupported",
                                                      k.positive(k.key("rope.dimension_count")), c.head_dim));
  }
  if (const GgufValue* t = k.find(k.key("rope.scaling.type"))) {
    if (!t->as_string() || *t->as_string() != "none")
      k.fail(k.key("rope.scaling.type"), "unsupported RoPE scaling (only plain RoPE is implemented)");
  }
  if (auto f = k.number(k.key("rope.scaling.factor")); f && *f != 1.0 && *f != 0.0)
    k.fail(k.key("rope.scaling.factor"), fmt::format("unsupported RoPE scaling factor {}", *f));
  if (file.find_tensor("rope_freqs.weight"))
    refuse(source, "tensor 'rope_freqs.weight': unsupported RoPE frequency scaling (only plain RoPE is implemented)");
  if (auto experts = k.integer(k.key("expert_count")); experts && *experts > 0)
    k.fail(k.key("expert_count"), "mixture-of-experts models are unsupported");

  if (auto eps = k.number(k.key("attention.layer_norm_rms_epsilon"))) {
    if (!(*eps > 0)) k.fail(k.key("attention.layer_norm_rms_epsilon"), "must be positive");
    c.rms_norm_eps = *eps;
  } else {
    k.fail(k.key("attention.layer_norm_rms_epsilon"), "required key is missing");
  }
  if (auto theta = k.number(k.key("rope.freq_base"))) {
    if (!(*theta > 0)) k.fail(k.key("rope.freq_base"), "must be positive");
    c.rope_theta = *theta;
  }

  // The vocabulary: the embedding's rows, which the token list (when present) must match.
  const GgufTensorInfo* embed = file.find_tensor("token_embd.weight");
  if (!embed) refuse(source, "tensor 'token_embd.weight' is missing");
  if (embed->dims.size() != 2) refuse(source, "tensor 'token_embd.weight' is not a matrix");
  if (embed->dims[1] > INT32_MAX) refuse(source, "tensor 'token_embd.weight' has too many rows");
  c.vocab_size = int(embed->dims[1]);
  if (const GgufValue* tokens = k.find("tokenizer.ggml.tokens")) {
    if (!tokens->as_array()) k.fail("tokenizer.ggml.tokens", "must be an array");
    if (tokens->as_array()->size() > size_t(c.vocab_size)) {
      k.fail("tokenizer.ggml.tokens", fmt::format("{} tokens, but token_embd.weight has {} rows",
                                                  tokens->as_array()->size(), c.vocab_size));
    }
  }
  if (auto v = k.integer(k.key("vocab_size")); v && *v != c.vocab_size)
    k.fail(k.key("vocab_size"), fmt::format("{}, but token_embd.weight has {} rows", *v, c.vocab_size));
  c.tie_word_embeddings = file.find_tensor("output.weight") == nullptr;

  if (auto bos = k.token_id("tokenizer.ggml.bos_token_id", c.vocab_size)) c.bos_token_id = *bos;
  if (auto eos = k.token_id("tokenizer.ggml.eos_token_id", c.vocab_size)) c.eos_token_ids = {*eos};
  return c;
}

json model_config_json(const ModelConfig& c) {
  json j = {{"architectures", {c.architecture}},
            {"model_type", "llama"},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"num_hidden_layers", c.num_layers},
            {"num_attention_heads", c.num_heads},
            {"num_key_value_heads", c.num_kv_heads},
            {"head_dim", c.head_dim},
            {"vocab_size", c.vocab_size},
            {"max_position_embeddings", c.max_position_embeddings},
            {"rms_norm_eps", c.rms_norm_eps},
            {"rope_theta", c.rope_theta},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"bos_token_id", c.bos_token_id >= 0 ? json(c.bos_token_id) : json()},
            {"eos_token_id", c.eos_token_ids}};
  if (!c.torch_dtype.empty()) j["torch_dtype"] = c.torch_dtype;
  return j;
}

ModelConfig load_model_config(const std::filesystem::path& model) {
  if (const auto gguf = gguf_model_file(model)) return gguf_model_config(GgufFile(*gguf));
  const std::filesystem::path& model_dir = model;
  const auto config_file = model_dir / "config.json";
  if (!std::filesystem::exists(config_file)) {
    throw ModelFileError(fmt::format("{}: no such file (is {} a model directory?)",
                                     config_file.string(), model_dir.string()));
  }
  ModelConfig c = parse_model_config(read_json_file(config_file), config_file.string());

  // Precedence, highest first: generation_config.json, tokenizer_config.json, config.json.
  const auto gen_file = model_dir / "generation_config.json";
  const auto tok_file = model_dir / "tokenizer_config.json";
  std::optional<int32_t> bos;
  std::optional<std::vector<int32_t>> eos;
  std::filesystem::path bos_source = config_file, eos_source = config_file;
  if (std::filesystem::exists(gen_file)) {
    const json gen = read_json_file(gen_file);
    if (!gen.is_object()) refuse(gen_file.string(), "not a JSON object");
    if (auto ids =
            token_ids(field(gen, "bos_token_id"), "bos_token_id", false, gen_file.string())) {
      bos = (*ids)[0];
      bos_source = gen_file;
    }
    if ((eos = token_ids(field(gen, "eos_token_id"), "eos_token_id", true, gen_file.string()))) {
      eos_source = gen_file;
    }
  }
  if (!bos || !eos) {
    TokenizerConfigTokens tokens(model_dir);
    if (!bos && (bos = tokens.id_of("bos_token"))) bos_source = tok_file;
    if (!eos) {
      if (auto id = tokens.id_of("eos_token")) {
        eos = std::vector<int32_t>{*id};
        eos_source = tok_file;
      }
    }
  }
  if (bos) {
    check_token_ids({*bos}, "bos", c.vocab_size, bos_source.string());
    c.bos_token_id = *bos;
  }
  if (eos) {
    check_token_ids(*eos, "eos", c.vocab_size, eos_source.string());
    c.eos_token_ids = *eos;
  }
  return c;
}

}  // namespace yardstick
