// The CPU reference backend: the fp32 forward pass of LlamaForCausalLM, written to be read top to
// bottom and to match Hugging Face transformers. It is the oracle the CUDA backend is tested
// against; speed comes second (a thread pool splits the matmuls over output features).
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/model_config.h"
#include "engine/prefix_cache.h"
#include "engine/weights.h"

namespace yardstick {

class ThreadPool;

struct CpuBackendOptions {
  int threads = 0;               // 0: all cores
  int max_sequence_length = 0;   // 0: the model's context window (max_position_embeddings)
  bool prefix_cache = true;      // keep copies of full blocks' K/V by token chain for reuse
  int prefix_block_size = 16;    // tokens per cached block
  int64_t prefix_cache_bytes = int64_t(256) << 20;   // room for cached blocks (LRU beyond)
};

class CpuBackend final : public Backend {
 public:
  // Takes ownership of the weights: f32 tensors are used in place (they stay mapped), f16/bf16
  // ones are upcast once here into f32 copies the backend owns. Throws ModelFileError if a
  // tensor the config needs is missing or misshapen.
  CpuBackend(const ModelConfig& cfg, Weights weights, CpuBackendOptions options = {});
  ~CpuBackend() override;

  const ModelConfig& config() const override { return cfg_; }
  std::string name() const override { return "cpu"; }
  int max_sequence_length() const override { return max_len_; }

  SeqId open_sequence() override;
  void close_sequence(SeqId seq) override;
  int sequence_length(SeqId seq) const override;
  void truncate(SeqId seq, int n) override;
  bool can_fork() const override { return true; }
  SeqId fork_sequence(SeqId seq) override;

  // Throws InputError for an unknown or repeated sequence, a token id outside the vocabulary,
  // a chunk that would run past max_sequence_length(), or a bad logits_from; nothing has
  // changed then.
  void forward(std::span<const ForwardChunk> chunks, std::vector<float>& logits) override;

  // Prefix caching (Backend's contract): cached blocks are copies, so attaching one copies its
  // K/V rows into the sequence; they are bitwise those the sequence would have computed.
  bool prefix_caching() const override { return prefix_index_ != nullptr; }
  int attach_cached_prefix(SeqId seq, std::span<const int32_t> tokens) override;
  CachedPrefix find_cached_prefix(std::span<const int32_t> tokens) const override;
  PrefixCacheStats prefix_cache_stats() const override;

 private:
  // A weight as f32: `data` points into the mapped checkpoint when the tensor already is aligned
  // f32, else into `owned`, an upcast copy (simple, exact, and costs 2x the bf16 size in memory).
  struct F32Tensor {
    const float* data = nullptr;
    std::vector<float> owned;
  };
  struct LayerWeights {
    F32Tensor attn_norm;   // [C]           input_layernorm
    F32Tensor wq;          // [NH*HD, C]    self_attn.q_proj
    F32Tensor wk;          // [NKV*HD, C]   self_attn.k_proj
    F32Tensor wv;          // [NKV*HD, C]   self_attn.v_proj
    F32Tensor wo;          // [C, NH*HD]    self_attn.o_proj
    F32Tensor ffn_norm;    // [C]           post_attention_layernorm
    F32Tensor w_gate;      // [FF, C]       mlp.gate_proj
    F32Tensor w_up;        // [FF, C]       mlp.up_proj
    F32Tensor w_down;      // [C, FF]       mlp.down_proj
  };
  // One sequence's KV cache; it grows with the sequence, up to max_sequence_length().
  struct Sequence {
    int length = 0;
    std::vector<std::vector<float>> k;   // per layer: [length, NKV*HD], after RoPE
    std::vector<std::vector<float>> v;   // per layer: [length, NKV*HD]
    std::vector<int32_t> tokens;         // [length]
    std::vector<uint64_t> serials;       // [length / PBS] full blocks' chain serials (prefix cache)
  };
  // A cached block: the K/V rows of PBS tokens in every layer.
  struct CachedBlock {
    std::vector<float> k;   // [L, PBS, NKV*HD]
    std::vector<float> v;   // [L, PBS, NKV*HD]
  };
  // Where each token row of a forward call belongs.
  struct RowInfo {
    Sequence* seq;
    int32_t pos;   // index in the sequence
  };

  F32Tensor load_f32(const std::string& name, std::vector<int64_t> shape) const;
  Sequence& sequence(SeqId seq);
  const Sequence& sequence(SeqId seq) const;
  void check_chunks(std::span<const ForwardChunk> chunks) const;
  void attention(float* out, const float* q, int layer, std::span<const RowInfo> rows);
  // Copies the sequence's newly full blocks into the cache.
  void cache_full_blocks(Sequence& s);

  ModelConfig cfg_;
  Weights weights_;
  int max_len_ = 0;
  std::unique_ptr<ThreadPool> pool_;

  F32Tensor embed_;                    // [V, C]  model.embed_tokens
  std::vector<LayerWeights> layers_;   // [L]
  F32Tensor final_norm_;               // [C]     model.norm
  F32Tensor lm_head_;                  // [V, C]  lm_head (or embed_tokens when tied: not copied)
  const float* lm_head_data_ = nullptr;
  std::vector<float> inv_freq_;   // [HD/2]  RoPE frequencies

  std::map<SeqId, Sequence> seqs_;
  SeqId next_id_ = 0;

  std::unique_ptr<PrefixIndex> prefix_index_;   // null: prefix caching off
  std::vector<CachedBlock> cached_;             // [slots] indexed by the index's block ids
  std::vector<int32_t> free_slots_;
  PrefixCacheStats prefix_stats_;
};

}  // namespace yardstick
