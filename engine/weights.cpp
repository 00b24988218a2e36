#include "engine/weights.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/gguf.h"
#include "engine/gguf_weights.h"
#include "engine/json_file.h"
#include "engine/safetensors.h"
#include "engine/torch_checkpoint.h"

namespace yardstick {

namespace fs = std::filesystem;

namespace {

enum class Format { Safetensors, Torch };

// A sharded checkpoint's index: which shard file holds each tensor.
struct ShardIndex {
  std::vector<fs::path> shards;  // distinct files, in order of first mention
  std::map<std::string, fs::path, std::less<>> weight_map;
};

ShardIndex read_shard_index(const fs::path& index_file) {
  const nlohmann::json j = read_json_file(index_file);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    throw ModelFileError(fmt::format("{}: no \"weight_map\" object", index_file.string()));
  }
  ShardIndex index;
  for (const auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string()) {
      throw ModelFileError(fmt::format("{}: tensor '{}' maps to {}, not a file name",
                                       index_file.string(), name, file.dump()));
    }
    const fs::path shard(file.get<std::string>());
    // Shards live beside the index; a path elsewhere is a corrupt (or hostile) index.
    if (shard.empty() || shard.has_parent_path() || shard == "." || shard == "..") {
      throw ModelFileError(fmt::format("{}: tensor '{}' maps to '{}', not a file beside the index",
                                       index_file.string(), name, shard.string()));
    }
    const fs::path path = index_file.parent_path() / shard;
    if (std::find(index.shards.begin(), index.shards.end(), path) == index.shards.end()) {
      index.shards.push_back(path);
    }
    index.weight_map.emplace(name, path);
  }
  std::sort(index.shards.begin(), index.shards.end());  // 00001-of-N before 00002-of-N
  return index;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

struct Weights::Impl {
  struct Entry {
    TensorView view;
    size_t file = 0;  // index into files
  };

  fs::path checkpoint;  // the single file, or the shard index: named when a tensor is missing
  std::vector<fs::path> files;
  std::vector<SafetensorsFile> safetensors;
  std::vector<TorchCheckpoint> torch;
  std::vector<GgufFile> gguf;
  std::vector<OwnedTensor> owned;   // from_memory: the bytes the views point into
  std::map<std::string, Entry, std::less<>> tensors;

  void open(const fs::path& file, Format format) {
    const std::vector<TensorView>* views = nullptr;
    if (format == Format::Safetensors) {
      views = &safetensors.emplace_back(file).tensors();
    } else {
      views = &torch.emplace_back(file).tensors();
    }
    const size_t index = files.size();
    files.push_back(file);
    for (const TensorView& v : *views) {
      auto [it, inserted] = tensors.emplace(v.name, Entry{v, index});
      if (!inserted) {
        throw ModelFileError(fmt::format("{}: tensor '{}' is also in {}", file.string(), v.name,
                                         files[it->second.file].string()));
      }
    }
  }

  void open_gguf(const fs::path& file, DType dequantize_to) {
    const GgufFile& g = gguf.emplace_back(file);
    files.push_back(file);
    for (TensorView& v : gguf_llama_tensors(g, owned, dequantize_to)) {
      const std::string name = v.name;
      if (!tensors.emplace(name, Entry{std::move(v), 0}).second)
        throw ModelFileError(fmt::format("{}: tensor '{}' appears twice", file.string(), name));
    }
  }

  void open_sharded(const fs::path& index_file, Format format) {
    const ShardIndex index = read_shard_index(index_file);
    for (const fs::path& shard : index.shards) {
      if (!fs::exists(shard)) {
        const auto holds = std::find_if(index.weight_map.begin(), index.weight_map.end(),
                                        [&](const auto& kv) { return kv.second == shard; });
        throw ModelFileError(fmt::format("{}: shard {} (holding tensor '{}') is missing",
                                         index_file.string(), shard.string(), holds->first));
      }
      open(shard, format);
    }
    for (const auto& [name, shard] : index.weight_map) {
      auto it = tensors.find(name);
      if (it == tensors.end() || files[it->second.file] != shard) {
        throw ModelFileError(fmt::format("{}: tensor '{}' is missing (the index {} puts it there)",
                                         shard.string(), name, index_file.string()));
      }
    }
  }
};

Weights::Weights() : impl_(std::make_unique<Impl>()) {}
Weights::~Weights() = default;
Weights::Weights(Weights&&) noexcept = default;
Weights& Weights::operator=(Weights&&) noexcept = default;

Weights Weights::load_unchecked(const fs::path& model_dir, DType dequantize_to) {
  Weights w;
  Impl& impl = *w.impl_;
  if (const std::optional<fs::path> gguf = gguf_model_file(model_dir)) {
    impl.checkpoint = *gguf;
    impl.open_gguf(*gguf, dequantize_to);
    return w;
  }
  // safetensors first: the same weights in both formats are read without unpickling anything.
  const std::pair<const char*, Format> single[] = {{"model.safetensors", Format::Safetensors},
                                                   {"pytorch_model.bin", Format::Torch}};
  for (const auto& [name, format] : single) {
    const fs::path index = model_dir / (std::string(name) + ".index.json");
    const fs::path file = model_dir / name;
    if (fs::exists(index)) {
      impl.checkpoint = index;
      impl.open_sharded(index, format);
      return w;
    }
    if (fs::exists(file)) {
      impl.checkpoint = file;
      impl.open(file, format);
      return w;
    }
  }
  throw ModelFileError(
      fmt::format("{}: no weights found (looked for model.safetensors, "
                  "model.safetensors.index.json, pytorch_model.bin, "
                  "pytorch_model.bin.index.json)",
                  model_dir.string()));
}

Weights Weights::load(const fs::path& model_dir, const ModelConfig& cfg, DType dequantize_to) {
  Weights w = load_unchecked(model_dir, dequantize_to);
  check_weights_against_config(w, cfg);
  return w;
}

Weights Weights::from_memory(std::vector<OwnedTensor> tensors, const std::string& label, const ModelConfig& cfg) {
  Weights w;
  Impl& impl = *w.impl_;
  impl.checkpoint = label;
  impl.files.push_back(label);
  impl.owned = std::move(tensors);
  for (const OwnedTensor& t : impl.owned) {
    TensorView v{t.name, t.dtype, t.shape, t.data.data(), t.data.size()};
    if (static_cast<size_t>(v.numel()) * dtype_size(t.dtype) != t.data.size())
      throw ModelFileError(fmt::format("{}: tensor '{}' has {} bytes for shape {}", label, t.name, t.data.size(),
                                       shape_str(t.shape)));
    if (!impl.tensors.emplace(t.name, Impl::Entry{v, 0}).second)
      throw ModelFileError(fmt::format("{}: tensor '{}' is given twice", label, t.name));
  }
  check_weights_against_config(w, cfg);
  return w;
}

bool Weights::has(std::string_view name) const { return impl_->tensors.contains(name); }

const TensorView& Weights::get(std::string_view name) const {
  auto it = impl_->tensors.find(name);
  if (it == impl_->tensors.end()) {
    throw ModelFileError(
        fmt::format("{}: tensor '{}' is missing", impl_->checkpoint.string(), name));
  }
  return it->second.view;
}

const fs::path& Weights::file_of(std::string_view name) const {
  auto it = impl_->tensors.find(name);
  if (it == impl_->tensors.end()) {
    throw ModelFileError(
        fmt::format("{}: tensor '{}' is missing", impl_->checkpoint.string(), name));
  }
  return impl_->files[it->second.file];
}

std::vector<std::string> Weights::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->tensors.size());
  for (const auto& [name, entry] : impl_->tensors) out.push_back(name);
  return out;
}

const std::vector<fs::path>& Weights::files() const { return impl_->files; }

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& cfg) {
  const int64_t C = cfg.hidden_size, F = cfg.intermediate_size, V = cfg.vocab_size;
  const int64_t q_rows = int64_t(cfg.num_heads) * cfg.head_dim;
  const int64_t kv_rows = int64_t(cfg.num_kv_heads) * cfg.head_dim;
  std::vector<ExpectedTensor> out;
  out.push_back({"model.embed_tokens.weight", {V, C}});
  for (int l = 0; l < cfg.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    out.push_back({p + "input_layernorm.weight", {C}});
    out.push_back({p + "self_attn.q_proj.weight", {q_rows, C}});
    out.push_back({p + "self_attn.k_proj.weight", {kv_rows, C}});
    out.push_back({p + "self_attn.v_proj.weight", {kv_rows, C}});
    out.push_back({p + "self_attn.o_proj.weight", {C, q_rows}});
    out.push_back({p + "post_attention_layernorm.weight", {C}});
    out.push_back({p + "mlp.gate_proj.weight", {F, C}});
    out.push_back({p + "mlp.up_proj.weight", {F, C}});
    out.push_back({p + "mlp.down_proj.weight", {C, F}});
  }
  out.push_back({"model.norm.weight", {C}});
  if (!cfg.tie_word_embeddings) out.push_back({"lm_head.weight", {V, C}});
  return out;
}

void check_weights_against_config(const Weights& w, const ModelConfig& cfg) {
  for (const ExpectedTensor& e : expected_tensors(cfg)) {
    const TensorView& t = w.get(e.name);  // throws, naming the checkpoint and the tensor, if absent
    if (t.shape != e.shape) {
      throw ModelFileError(fmt::format("{}: tensor '{}' has shape {} but config.json implies {}",
                                       w.file_of(e.name).string(), e.name, shape_str(t.shape),
                                       shape_str(e.shape)));
    }
  }
}

}  // namespace yardstick
