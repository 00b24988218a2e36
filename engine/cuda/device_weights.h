// The model's weights on the device: one bf16 arena holding every tensor, with the projections
// of a layer that read the same input stacked into one matrix (q|k|v, gate|up) so that each is
// one GEMM. Filled from a checkpoint (f32 / f16 converted on the device) or, for benchmarks,
// with random values of the exact shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <cuda_runtime.h>

#include "engine/cuda/bf16.h"
#include "engine/cuda/device_buffer.h"
#include "engine/model_config.h"

namespace yardstick {
class Weights;
}

namespace yardstick::cuda {

struct LayerWeights {
  const bf16* attn_norm = nullptr;   // [C]                   input_layernorm
  const bf16* wqkv = nullptr;        // [(NH + 2 NKV) HD, C]  q_proj; k_proj; v_proj
  const bf16* wo = nullptr;          // [C, NH HD]            o_proj
  const bf16* ffn_norm = nullptr;    // [C]                   post_attention_layernorm
  const bf16* w_gate_up = nullptr;   // [2 FF, C]             gate_proj; up_proj
  const bf16* w_down = nullptr;      // [C, FF]               down_proj
};

class DeviceWeights {
 public:
  // Arena bytes the model needs (the lm_head too unless the embeddings are tied).
  static size_t bytes_needed(const ModelConfig& cfg);

  // Copies every tensor cfg needs from the checkpoint. Throws ModelFileError naming a tensor
  // that is missing or has the wrong number of elements.
  static DeviceWeights upload(const ModelConfig& cfg, const Weights& weights, cudaStream_t stream);
  // Uniform random values with roughly the scales of a trained model (norms near 1, projections
  // with std 0.02, embeddings with std 1), reproducible from the seed.
  static DeviceWeights random(const ModelConfig& cfg, uint64_t seed, cudaStream_t stream);

  const bf16* embed = nullptr;        // [V, C]   model.embed_tokens
  std::vector<LayerWeights> layers;   // [L]
  const bf16* final_norm = nullptr;   // [C]      model.norm
  const bf16* lm_head = nullptr;      // [V, C]   lm_head (== embed when tied)
  size_t bytes() const { return arena_.size(); }

 private:
  // Where each tensor goes in the arena; `fill` is called once per tensor piece.
  struct Piece {
    bf16* dst;
    size_t numel;
    const char* hf_name;   // "model.layers.{}.self_attn.q_proj.weight" style pattern
    int layer;             // for the pattern; -1 for model-level tensors
    enum Kind { Norm, Projection, Embedding } kind;
  };
  static DeviceWeights allocate(const ModelConfig& cfg, std::vector<Piece>& pieces);

  DeviceBuffer arena_;
};

}  // namespace yardstick::cuda
