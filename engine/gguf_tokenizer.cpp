#include "engine/gguf_tokenizer.h"

#include <fmt/format.h>

#include "engine/error.h"

namespace yardstick {

namespace {

using nlohmann::json;

// tokenizer.ggml.token_type (llama.cpp's llama_token_type).
enum TokenType : int64_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// The DeepSeek LLM pre-tokenizer (llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEEPSEEK_LLM; the Split steps
// of its tokenizer.json, in order).
constexpr const char* kDeepseekLlmSplits[] = {
    "[\r\n]",
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF"
    "\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5"
    "\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA"
    "\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45"
    "\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-"
    "\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107"
    "\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F"
    "\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D"
    "\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17"
    "\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB"
    "\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+",
    "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
    "\\s+$",
    "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"
};

// Llama 3's and Qwen2's single Split; they differ only in how many digits a piece may hold.
constexpr const char* kLlama3Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

json split(const char* regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

json sequence(json steps) { return {{"type", "Sequence"}, {"pretokenizers", std::move(steps)}}; }

// The pre_tokenizer (and normalizer) of the tokenizer.json that tokenizer.ggml.pre names.
std::optional<std::pair<json, json>> pre_tokenizer_of(std::string_view pre) {
  if (pre == "default" || pre == "gpt-2") return std::pair{byte_level(true), json()};
  if (pre == "smollm") {
    return std::pair{sequence({{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)}), json()};
  }
  if (pre == "deepseek-llm") {
    json steps = json::array();
    for (const char* r : kDeepseekLlmSplits) steps.push_back(split(r));
    steps.push_back({{"type", "Digits"}, {"individual_digits", true}});
    steps.push_back(byte_level(false));
    return std::pair{sequence(std::move(steps)), json()};
  }
  if (pre == "llama-bpe") return std::pair{sequence({split(kLlama3Split), byte_level(false)}), json()};
  if (pre == "qwen2") return std::pair{sequence({split(kQwen2Split), byte_level(false)}), json{{"type", "NFC"}}};
  return std::nullopt;
}

class Keys {
 public:
  explicit Keys(const GgufFile& file) : file_(file) {}

  [[noreturn]] void fail(std::string_view key, std::string_view what) const {
    throw ModelFileError(fmt::format("{}: metadata '{}': {}", file_.path().string(), key, what));
  }

  const std::string* string(std::string_view key) const {
    const GgufValue* v = file_.find(key);
    if (!v) return nullptr;
    if (!v->as_string()) fail(key, fmt::format("must be a string, got a {}", gguf_value_type_name(v->type)));
    return v->as_string();
  }

  // An array of `element` values; null when absent.
  const std::vector<GgufValue>* array(std::string_view key, GgufValueType element) const {
    const GgufValue* v = file_.find(key);
    if (!v) return nullptr;
    if (!v->as_array() || v->element_type != element) {
      fail(key, fmt::format("must be an array of {}, got a {}", gguf_value_type_name(element),
                            gguf_value_type_name(v->type)));
    }
    return v->as_array();
  }

  std::optional<bool> boolean(std::string_view key) const {
    const GgufValue* v = file_.find(key);
    if (!v) return std::nullopt;
    const bool* b = std::get_if<bool>(&v->value);
    if (!b) fail(key, fmt::format("must be a bool, got a {}", gguf_value_type_name(v->type)));
    return *b;
  }

  std::optional<int64_t> integer(std::string_view key) const {
    const GgufValue* v = file_.find(key);
    if (!v) return std::nullopt;
    if (!v->as_int()) fail(key, fmt::format("must be an integer, got a {}", gguf_value_type_name(v->type)));
    return v->as_int();
  }

 private:
  const GgufFile& file_;
};

}  // namespace

bool gguf_known_pre_tokenizer(std::string_view pre) { return pre_tokenizer_of(pre).has_value(); }

std::optional<GgufTokenizerFiles> gguf_tokenizer_files(const GgufFile& file) {
  const Keys k(file);
  const std::vector<GgufValue>* tokens = k.array("tokenizer.ggml.tokens", GgufValueType::String);
  if (!tokens) return std::nullopt;
  const std::string* model = k.string("tokenizer.ggml.model");
  if (!model) k.fail("tokenizer.ggml.model", "required with tokenizer.ggml.tokens, but missing");
  if (*model != "gpt2") {
    k.fail("tokenizer.ggml.model",
           fmt::format("unsupported tokenizer model \"{}\" (only \"gpt2\", byte-level BPE{})", *model,
                       *model == "llama" ? "; \"llama\" is SentencePiece" : ""));
  }
  const std::string* pre_name = k.string("tokenizer.ggml.pre");
  const std::string pre = pre_name ? *pre_name : "default";
  const auto pre_tokenizer = pre_tokenizer_of(pre);
  if (!pre_tokenizer) {
    k.fail("tokenizer.ggml.pre", fmt::format("unknown pre-tokenizer \"{}\" (known: default, gpt-2, smollm, "
                                             "deepseek-llm, llama-bpe, qwen2)", pre));
  }

  const std::vector<GgufValue>* types = k.array("tokenizer.ggml.token_type", GgufValueType::Int32);
  if (types && types->size() != tokens->size()) {
    k.fail("tokenizer.ggml.token_type", fmt::format("{} types for {} tokens", types->size(), tokens->size()));
  }
  json vocab = json::object();
  json added = json::array();
  for (size_t id = 0; id < tokens->size(); ++id) {
    const std::string& text = *(*tokens)[id].as_string();
    const int64_t type = types ? *(*types)[id].as_int() : kNormal;
    if (type == kControl || type == kUserDefined) {
      // Stored as their text, not in the byte alphabet (as HF's added_tokens hold them); kept out
      // of the BPE vocabulary, where a single-character one would stand for a byte.
      added.push_back({{"id", id}, {"content", text}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", type == kUserDefined}, {"special", type == kControl}});
    } else if (!vocab.contains(text)) {
      vocab[text] = id;
    }
  }
  json merges = json::array();
  if (const std::vector<GgufValue>* m = k.array("tokenizer.ggml.merges", GgufValueType::String)) {
    for (size_t i = 0; i < m->size(); ++i) {
      const std::string& merge = *(*m)[i].as_string();
      const size_t space = merge.find(' ', 1);
      if (space == std::string::npos || space + 1 >= merge.size())
        k.fail("tokenizer.ggml.merges", fmt::format("entry {} \"{}\" is not two tokens separated by a space", i, merge));
      merges.push_back(merge);
    }
  }

  GgufTokenizerFiles out;
  out.tokenizer = {{"version", "1.0"},
                   {"normalizer", pre_tokenizer->second},
                   {"pre_tokenizer", pre_tokenizer->first},
                   {"added_tokens", std::move(added)},
                   {"decoder", byte_level(true)},
                   {"model", {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)}}}};
  out.config = json::object();
  const std::pair<const char*, const char*> specials[] = {{"tokenizer.ggml.bos_token_id", "bos_token"},
                                                          {"tokenizer.ggml.eos_token_id", "eos_token"},
                                                          {"tokenizer.ggml.padding_token_id", "pad_token"},
                                                          {"tokenizer.ggml.unknown_token_id", "unk_token"}};
  for (auto [key, name] : specials) {
    if (const auto id = k.integer(key)) {
      if (*id < 0 || uint64_t(*id) >= tokens->size())
        k.fail(key, fmt::format("token id {} is outside the {} tokens", *id, tokens->size()));
      out.config[name] = *(*tokens)[size_t(*id)].as_string();
    }
  }
  if (const auto b = k.boolean("tokenizer.ggml.add_bos_token")) out.config["add_bos_token"] = *b;
  if (const auto b = k.boolean("tokenizer.ggml.add_eos_token")) out.config["add_eos_token"] = *b;
  if (const auto t = gguf_chat_template(file)) out.config["chat_template"] = *t;
  return out;
}

std::optional<std::string> gguf_chat_template(const GgufFile& file) {
  if (const std::string* t = Keys(file).string("tokenizer.chat_template")) return *t;
  return std::nullopt;
}

}  // namespace yardstick
