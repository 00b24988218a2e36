#include "engine/tokenizer.h"

#include <fstream>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "engine/added_vocabulary.h"
#include "engine/bpe.h"
#include "engine/error.h"
#include "engine/gguf.h"
#include "engine/gguf_tokenizer.h"
#include "engine/piece_cache.h"
#include "engine/pre_tokenizer.h"
#include "engine/unicode.h"

namespace yardstick {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ModelFileError(fmt::format("{}: cannot open for reading", file.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    throw ModelFileError(fmt::format("{}: invalid JSON: {}", file.string(), e.what()));
  }
}

std::vector<AddedToken> parse_added_tokens(const json& list) {
  std::vector<AddedToken> tokens;
  if (list.is_null()) return tokens;
  for (const json& t : list) {
    AddedToken token{t.at("id").get<int32_t>(), t.at("content").get<std::string>(),
                     t.value("special", false), t.value("normalized", true)};
    for (const char* flag : {"single_word", "lstrip", "rstrip"}) {
      if (t.value(flag, false)) {
        throw ModelFileError(fmt::format("added token '{}' (id {}): unsupported option {}=true",
                                         token.content, token.id, flag));
      }
    }
    if (token.id < 0) {
      throw ModelFileError(fmt::format("added token '{}' has a negative id {}", token.content, token.id));
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// tokenizer_config.json spells a special token as a string or as {"content": ...}.
std::string special_token_text(const json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->value("content", std::string());
}

// The special tokens HF's post-processor puts around a single sequence (encode(text) with
// add_special_tokens=True), as ids before and after it.
struct SpecialTokenTemplate {
  std::vector<int32_t> prefix, suffix;
};

// A [token, id] pair of RobertaProcessing / BertProcessing.
int32_t processor_token_id(const json& pair) { return pair.at(1).get<int32_t>(); }

void append_post_processor(const json& p, SpecialTokenTemplate& t) {
  if (p.is_null()) return;
  const auto type = p.at("type").get<std::string>();
  if (type == "ByteLevel") return;   // offsets only
  if (type == "Sequence") {
    // Each processor wraps what the previous ones made.
    for (const json& item : p.at("processors")) append_post_processor(item, t);
    return;
  }
  SpecialTokenTemplate inner;
  if (type == "TemplateProcessing") {
    bool seen_sequence = false;
    for (const json& piece : p.at("single")) {
      if (piece.contains("Sequence")) {
        if (seen_sequence) throw ModelFileError("unsupported TemplateProcessing: two sequences in 'single'");
        seen_sequence = true;
        continue;
      }
      const auto name = piece.at("SpecialToken").at("id").get<std::string>();
      const auto special = p.at("special_tokens").find(name);
      if (special == p.at("special_tokens").end()) {
        throw ModelFileError(fmt::format("TemplateProcessing: special token '{}' is not in its special_tokens", name));
      }
      auto ids = special->at("ids").get<std::vector<int32_t>>();
      auto& side = seen_sequence ? inner.suffix : inner.prefix;
      side.insert(side.end(), ids.begin(), ids.end());
    }
    if (!seen_sequence) throw ModelFileError("unsupported TemplateProcessing: no sequence $A in 'single'");
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    inner.prefix = {processor_token_id(p.at("cls"))};
    inner.suffix = {processor_token_id(p.at("sep"))};
  } else {
    throw ModelFileError(fmt::format("unsupported post_processor type '{}'", type));
  }
  t.prefix.insert(t.prefix.begin(), inner.prefix.begin(), inner.prefix.end());
  t.suffix.insert(t.suffix.end(), inner.suffix.begin(), inner.suffix.end());
}

// True for an NFC normalizer (Qwen2, GPT-NeoX; also as the one item of a Sequence), false for
// none; any other is refused.
bool parse_normalizer(const json& n) {
  if (n.is_null()) return false;
  const auto type = n.value("type", std::string("?"));
  if (type == "NFC") return true;
  if (type == "Sequence") {
    bool nfc = false;
    for (const json& item : n.at("normalizers")) {
      if (parse_normalizer(item)) {
        if (nfc) continue;   // NFC twice is NFC
        nfc = true;
      }
    }
    return nfc;
  }
  throw ModelFileError(fmt::format("unsupported normalizer '{}' (only NFC)", type));
}

// Used when no tokenizer_config.json names BOS/EOS: the spellings of the common families.
constexpr const char* kKnownBos[] = {"<｜begin▁of▁sentence｜>", "<s>", "<|begin_of_text|>", "<bos>"};
constexpr const char* kKnownEos[] = {"<｜end▁of▁sentence｜>", "</s>", "<|end_of_text|>",
                                     "<|endoftext|>", "<eos>"};

}  // namespace

struct Tokenizer::Impl {
  explicit Impl(PreTokenizer pre)
      : pre_tokenizer(std::move(pre)), cache(pre_tokenizer.step_count() + 1, kCacheCapacity) {}

  // Appends the ids of `piece`, which has still to go through pre-tokenizer steps `step`.. and
  // then BPE. `memo`: look the piece up in (and store it to) the cache at this step; false when
  // the previous step handed it down unchanged, having looked it up already.
  void encode_piece(std::string_view piece, size_t step, bool memo, std::vector<int32_t>& ids) const;

  std::optional<std::string_view> bytes_of(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= id_bytes.size()) return std::nullopt;
    return id_bytes[id];
  }

  static constexpr size_t kCacheCapacity = 1 << 17;   // pieces; some MB at most

  PreTokenizer pre_tokenizer;
  PieceCache cache;
  std::unique_ptr<BpeModel> bpe;
  AddedVocabulary added;
  // [vocab_size] what each id stands for: added tokens (which take precedence, as in HF) their
  // content, BPE tokens their bytes; nullopt for ids nothing defines.
  std::vector<std::optional<std::string_view>> id_bytes;
  std::optional<int32_t> bos, eos;
  std::string bos_token, eos_token;
  SpecialTokenTemplate special;
  bool nfc = false;   // the normalizer is NFC (else there is none)
};

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

bool Tokenizer::present_in(const fs::path& dir) {
  if (const auto gguf = gguf_model_file(dir)) return GgufFile(*gguf).find("tokenizer.ggml.tokens") != nullptr;
  return fs::is_regular_file(dir / "tokenizer.json");
}

Tokenizer Tokenizer::from_file(const fs::path& path) {
  if (const auto gguf = gguf_model_file(path)) {
    const GgufFile g(*gguf);
    const std::optional<GgufTokenizerFiles> files = gguf_tokenizer_files(g);
    if (!files) throw ModelFileError(fmt::format("{}: no tokenizer in this GGUF (no tokenizer.ggml.tokens)", gguf->string()));
    return from_json(files->tokenizer, *gguf, &files->config, *gguf);
  }
  fs::path file = path;
  if (fs::is_directory(path)) {
    file = path / "tokenizer.json";
    if (!fs::exists(file)) {
      throw ModelFileError(fmt::format("{}: no tokenizer.json in this model directory", path.string()));
    }
  } else if (!fs::exists(path)) {
    throw ModelFileError(fmt::format("{}: tokenizer file not found", path.string()));
  }

  const fs::path config_file = file.parent_path() / "tokenizer_config.json";
  const std::optional<json> config = fs::exists(config_file) ? std::optional(read_json_file(config_file)) : std::nullopt;
  return from_json(read_json_file(file), file, config ? &*config : nullptr, config_file);
}

Tokenizer Tokenizer::from_json(const json& root, const fs::path& file, const json* config,
                               const fs::path& config_file) {
  Tokenizer tok;
  try {
    const bool nfc = parse_normalizer(root.value("normalizer", json()));
    if (const auto it = root.find("decoder"); it == root.end() || it->is_null() ||
                                              it->value("type", "") != "ByteLevel") {
      throw ModelFileError(fmt::format(
          "unsupported decoder {} (only ByteLevel)", it == root.end() ? "null" : it->dump()));
    }
    tok.impl_ = std::make_unique<Impl>(PreTokenizer::from_json(root.value("pre_tokenizer", json())));
    Impl& impl = *tok.impl_;
    impl.nfc = nfc;
    impl.bpe = BpeModel::from_json(root.at("model"));
    impl.added = AddedVocabulary(parse_added_tokens(root.value("added_tokens", json())));
    append_post_processor(root.value("post_processor", json()), impl.special);
  } catch (const ModelFileError& e) {
    throw ModelFileError(fmt::format("{}: {}", file.string(), e.what()));
  } catch (const json::exception& e) {
    throw ModelFileError(fmt::format("{}: malformed tokenizer.json: {}", file.string(), e.what()));
  }
  Impl& impl = *tok.impl_;

  int32_t limit = impl.bpe->id_limit();
  for (const auto& t : impl.added.tokens()) limit = std::max(limit, t.id + 1);
  impl.id_bytes.resize(static_cast<size_t>(limit));
  for (int32_t id = 0; id < impl.bpe->id_limit(); ++id) impl.id_bytes[id] = impl.bpe->token_bytes(id);
  for (const auto& t : impl.added.tokens()) impl.id_bytes[t.id] = std::string_view(t.content);

  if (config) {
    impl.bos_token = special_token_text(*config, "bos_token");
    impl.eos_token = special_token_text(*config, "eos_token");
    for (const auto& [name, text] : {std::pair{"bos_token", impl.bos_token}, {"eos_token", impl.eos_token}}) {
      if (!text.empty() && !tok.token_to_id(text)) {
        throw ModelFileError(fmt::format("{}: {} '{}' is not a token of {}", config_file.string(), name, text, file.string()));
      }
    }
  } else {
    for (const char* name : kKnownBos) {
      if (tok.token_to_id(name)) { impl.bos_token = name; break; }
    }
    for (const char* name : kKnownEos) {
      if (tok.token_to_id(name)) { impl.eos_token = name; break; }
    }
  }
  if (!impl.bos_token.empty()) impl.bos = tok.token_to_id(impl.bos_token);
  if (!impl.eos_token.empty()) impl.eos = tok.token_to_id(impl.eos_token);
  // add_bos_token / add_eos_token in tokenizer_config.json change nothing: transformers 5 (5.17
  // and 5.24 checked) keeps the tokenizer.json post-processor of a byte-level tokenizer whatever
  // they say. (transformers 4's LlamaTokenizerFast replaced it by "[BOS] $A [EOS]" from them.)
  for (const auto* side : {&impl.special.prefix, &impl.special.suffix}) {
    for (int32_t id : *side) {
      if (id < 0 || id >= tok.vocab_size()) {
        throw ModelFileError(fmt::format("{}: post_processor adds id {}, which is no token of it", file.string(), id));
      }
    }
  }
  return tok;
}

// Per-thread scratch for the pieces each step produces; the recursion uses one vector per step.
thread_local std::vector<std::vector<std::string_view>> t_parts_by_step;

void Tokenizer::Impl::encode_piece(std::string_view piece, size_t step, bool memo,
                                   std::vector<int32_t>& ids) const {
  const bool cacheable = memo && piece.size() <= PieceCache::kMaxPieceBytes;
  if (cacheable && cache.lookup(step, piece, ids)) return;
  const size_t first = ids.size();
  if (step == pre_tokenizer.step_count()) {
    bpe->encode(piece, ids);
  } else {
    // ByteLevel(add_prefix_space): the step sees " " + piece; `spaced` outlives the recursion
    // into its parts, which view it.
    std::string spaced;
    std::string_view text = piece;
    if (pre_tokenizer.adds_prefix_space(step) && !piece.starts_with(' ')) {
      spaced.reserve(piece.size() + 1);
      spaced += ' ';
      spaced += piece;
      text = spaced;
    }
    std::vector<std::string_view>& parts = t_parts_by_step[step];
    parts.clear();
    pre_tokenizer.split_step(step, text, parts);
    if (parts.size() == 1) {
      encode_piece(parts[0], step + 1, /*memo=*/text.data() != piece.data(), ids);
    } else {
      for (std::string_view part : parts) encode_piece(part, step + 1, /*memo=*/true, ids);
    }
  }
  if (cacheable) cache.store(step, piece, std::span<const int32_t>(ids).subspan(first));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  thread_local std::vector<AddedVocabulary::Segment> segments;
  // Sized before the recursion starts: growing it later would move vectors in use.
  if (t_parts_by_step.size() < impl_->pre_tokenizer.step_count()) {
    t_parts_by_step.resize(impl_->pre_tokenizer.step_count());
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  const auto encode_segments = [&](const std::vector<AddedVocabulary::Segment>& parts) {
    for (const auto& part : parts) {
      if (part.token) {
        ids.push_back(*part.token);
      } else {
        impl_->encode_piece(part.text, 0, /*memo=*/true, ids);
      }
    }
  };
  if (!impl_->nfc) {
    impl_->added.split(text, segments);
    encode_segments(segments);
    return ids;
  }
  // As HF: normalized=false added tokens are found in the raw text, the text between them is
  // normalized, and normalized=true added tokens are found in that.
  std::vector<AddedVocabulary::Segment> raw;
  impl_->added.split_raw(text, raw);
  for (const auto& segment : raw) {
    if (segment.token) {
      ids.push_back(*segment.token);
      continue;
    }
    const std::string normalized = unicode::nfc(segment.text);
    segments.clear();
    impl_->added.split_normalized(normalized, segments);
    encode_segments(segments);
  }
  return ids;
}

std::vector<int32_t> Tokenizer::encode_with_special_tokens(std::string_view text) const {
  std::vector<int32_t> ids = impl_->special.prefix;
  const auto body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.insert(ids.end(), impl_->special.suffix.begin(), impl_->special.suffix.end());
  return ids;
}

std::span<const int32_t> Tokenizer::special_prefix() const { return impl_->special.prefix; }
std::span<const int32_t> Tokenizer::special_suffix() const { return impl_->special.suffix; }

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (auto b = impl_->bytes_of(id)) bytes += *b;   // unknown ids are skipped, as in HF
  }
  std::string text;
  text.reserve(bytes.size());
  unicode::append_utf8_lossy(text, bytes);
  return text;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  const auto b = impl_->bytes_of(id);
  return b ? std::string(*b) : std::string();
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->id_bytes.size()); }
std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }
std::string Tokenizer::bos_token() const { return impl_->bos_token; }
std::string Tokenizer::eos_token() const { return impl_->eos_token; }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* t = impl_->added.find(token)) return t->id;
  return impl_->bpe->token_to_id(token);
}

// ---------------------------------------------------------------- IncrementalDecoder

std::string IncrementalDecoder::push(int32_t id) {
  pending_ += tok_->token_bytes(id);
  std::string text;
  const size_t used = unicode::append_utf8_lossy(text, pending_, /*final=*/false);
  pending_.erase(0, used);
  return text;
}

std::string IncrementalDecoder::flush() {
  std::string text;
  unicode::append_utf8_lossy(text, pending_, /*final=*/true);
  pending_.clear();
  return text;
}

}  // namespace yardstick
