// The tensors of a checkpoint: safetensors (single or sharded) read through mmap, PyTorch
// pytorch_model*.bin (zip + pickle, single or sharded), or a GGUF file (engine/gguf_weights.h:
// dequantized at load, under HF names). One owner for all mapped files.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model_config.h"
#include "engine/tensor.h"

namespace yardstick {

// A tensor whose bytes the Weights own (made in memory, e.g. synthetic weights).
struct OwnedTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<std::byte> data;   // numel * dtype_size(dtype) bytes, row-major
};

class Weights {
 public:
  Weights();
  ~Weights();
  Weights(Weights&&) noexcept;
  Weights& operator=(Weights&&) noexcept;

  // Loads every tensor of the checkpoint in model_dir and checks each one the model needs
  // against cfg (names as in HF LlamaForCausalLM: model.embed_tokens.weight,
  // model.layers.{i}.self_attn.q_proj.weight, ..., model.norm.weight, lm_head.weight).
  // Throws ModelFileError naming the file and tensor on a missing, misshapen, truncated or
  // corrupt tensor. model_dir may also name a GGUF model (engine/gguf.h: gguf_model_file);
  // its quantized tensors are dequantized into `dequantize_to` (F32, BF16 or F16).
  static Weights load(const std::filesystem::path& model_dir, const ModelConfig& cfg,
                      DType dequantize_to = DType::F32);

  // Loads without checking against a config (inspection, tests).
  static Weights load_unchecked(const std::filesystem::path& model_dir, DType dequantize_to = DType::F32);

  // Tensors held in memory; `label` stands in for the file in files() and in error messages
  // ("synthetic:7b"). Checked against cfg as load() does.
  static Weights from_memory(std::vector<OwnedTensor> tensors, const std::string& label, const ModelConfig& cfg);

  bool has(std::string_view name) const;
  // Throws ModelFileError if absent.
  const TensorView& get(std::string_view name) const;
  std::vector<std::string> names() const;
  // The checkpoint files, in load order (for digests).
  const std::vector<std::filesystem::path>& files() const;
  // The checkpoint file holding the tensor. Throws ModelFileError if absent.
  const std::filesystem::path& file_of(std::string_view name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A tensor the model needs, by its HF LlamaForCausalLM name, and the shape cfg gives it.
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};
// Every tensor cfg requires, in the order HF lists them (lm_head.weight only when untied).
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& cfg);

// Checks that w holds every tensor cfg requires, with the right shape.
void check_weights_against_config(const Weights& w, const ModelConfig& cfg);

}  // namespace yardstick
