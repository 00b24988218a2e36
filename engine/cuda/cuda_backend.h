// The CUDA backend: the bf16 forward pass of LlamaForCausalLM on one GPU, with the weights in
// one device arena, a paged KV cache sized from free memory, cuBLASLt projections, and CUDA
// graphs for decode steps. engine/model.cpp reaches it through make_cuda_backend (only when
// built with YARDSTICK_HAVE_CUDA); benchmarks and tests use CudaBackend directly.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "engine/backend.h"
#include "engine/model.h"
#include "engine/model_config.h"
#include "engine/token_pick.h"
#include "engine/weights.h"

namespace yardstick {

namespace cuda {
class DeviceWeights;
class Gemm;
class KvCache;
class StepBuffers;
}  // namespace cuda

struct CudaBackendOptions {
  int device = 0;
  int max_step_tokens = 8192;      // tokens per forward step; activations are sized for this
  int max_step_seqs = 512;         // sequences per forward step
  int max_step_logits = 512;       // logits rows per forward step ([rows, V] fp32 on the device)
  int kv_block_size = 16;          // tokens per KV block
  double kv_memory_fraction = 0.9; // of the memory still free once weights and activations are in
  int64_t kv_max_bytes = 0;        // cap on the KV cache (0: none)
  int max_sequence_length = 0;     // 0: the model's context window (less if the KV cache is smaller)
  bool cuda_graphs = true;         // replay decode steps from CUDA graphs
  bool prefix_cache = true;        // keep full KV blocks by token chain for reuse (engine/prefix_cache.h)
  bool small_batch_gemv = true;    // projections of <= kGemvMaxRows rows through gemv.h, not cuBLASLt
  bool fused_epilogues = true;     // with gemv: RoPE + KV store and SwiGLU in the projections' epilogues
  bool fused_norms = true;         // with gemv: residual add in o_proj / down_proj, RMSNorm in the next gemv's input
  int gemv_features_per_block = 4; // bf16 projections through gemv: 1, 2 or 4 outputs a block (gemv.h)
  int fused_gemv_groups = 1;       // RoPE pairs / SwiGLU features a fused gemv block computes: 1 or 2
  bool shared_prefix_attention = true;  // decode: sequences sharing leading KV blocks read them once (attention.h)
  bool mma_prefill_attention = true;     // prefill attention on the tensor cores where the head dim allows
  bool decode_attention_in_mixed_steps = true;   // a mixed step's 1-token sequences through attention_decode
  // cuBLASLt shapes of >= 256 rows run the fastest of the heuristic's first 8 algorithms, timed on
  // their first call, not its first choice (gemm.h: the choice, and the bits, may vary by process).
  bool gemm_timed_algorithms = false;
  // Projections through cuBLASLt add themselves into the fp32 residual stream in the matmul's
  // epilogue (beta = 1, no bf16 rounding of the sum), and the norm after them only normalises.
  bool gemm_residual_epilogue = false;
};

// What shared-prefix decode attention did since the backend was made (tests, benchmarks).
struct SharedPrefixStats {
  int64_t steps = 0;          // decode steps that ran the shared pass
  int64_t grouped_seqs = 0;   // sequences in a group, summed over those steps
  int64_t blocks_saved = 0;   // KV block reads saved per kv head and layer, summed over those steps
};

class CudaBackend final : public Backend {
 public:
  // Uploads the checkpoint's tensors (converted to bf16); `weights` may be dropped afterwards.
  CudaBackend(const ModelConfig& cfg, const Weights& weights, const CudaBackendOptions& options = {});
  // Random weights of the config's exact shape, generated on the device (benchmarks).
  static std::unique_ptr<CudaBackend> synthetic(const ModelConfig& cfg, uint64_t seed,
                                                const CudaBackendOptions& options = {});
  ~CudaBackend() override;

  const ModelConfig& config() const override { return cfg_; }
  std::string name() const override { return "cuda"; }
  int max_sequence_length() const override { return max_len_; }

  SeqId open_sequence() override;
  void close_sequence(SeqId seq) override;
  int sequence_length(SeqId seq) const override;
  void truncate(SeqId seq, int n) override;
  bool can_fork() const override { return true; }
  SeqId fork_sequence(SeqId seq) override;

  // Throws InputError for an unknown or repeated sequence, a token outside the vocabulary, a
  // chunk past max_sequence_length() or a bad logits_from, and Error when the KV cache has too
  // few free blocks for the whole call; nothing has changed then.
  void forward(std::span<const ForwardChunk> chunks, std::vector<float>& logits) override;
  // The same forward pass, with each logits row reduced on the device (engine/token_pick.h):
  // one TokenPick per requested position in forward()'s row order.
  void forward_pick(std::span<const ForwardChunk> chunks, std::span<const TokenPick> picks,
                    std::vector<PickedToken>& out) override;

  // Prefix caching (Backend's contract).
  bool prefix_caching() const override { return opts_.prefix_cache; }
  int attach_cached_prefix(SeqId seq, std::span<const int32_t> tokens) override;
  CachedPrefix find_cached_prefix(std::span<const int32_t> tokens) const override;
  PrefixCacheStats prefix_cache_stats() const override;

  // Paged KV memory, for admission control.
  int kv_block_size() const override;
  int64_t kv_free_blocks() const override;
  int64_t kv_total_blocks() const;

  // Switches the small-batch projection path (benchmark A/B); forgets captured graphs.
  void set_small_batch_gemv(bool on);
  // Switch the fused gemv epilogues and the gemv block shape (benchmark A/B); forget captured
  // graphs.
  void set_fused_epilogues(bool on);
  void set_gemv_features_per_block(int n);
  void set_fused_gemv_groups(int n);
  void set_fused_norms(bool on);
  // Switches shared-prefix decode attention (benchmark A/B); forgets captured graphs.
  void set_shared_prefix_attention(bool on);
  const SharedPrefixStats& shared_prefix_stats() const { return shared_prefix_stats_; }
  // Switch the tensor-core prefill attention (off: the SIMT kernel for every head dim), and the
  // routing of a mixed step's 1-token sequences to the decode attention (benchmark A/B).
  void set_mma_prefill_attention(bool on);
  void set_decode_attention_in_mixed_steps(bool on);
  // Switch the cuBLASLt algorithm timing and the residual add in the matmul epilogue (benchmark
  // A/B); forget captured graphs.
  void set_gemm_timed_algorithms(bool on);
  void set_gemm_residual_epilogue(bool on);

  std::string device_name() const { return device_name_; }
  std::string startup_report() const override;
  size_t weight_bytes() const;
  size_t kv_bytes() const;

 private:
  struct Sequence {
    int length = 0;
    std::vector<int32_t> blocks;    // the block table: physical KV block of each BS tokens
    std::vector<int32_t> tokens;    // [length] what the sequence holds (prefix caching)
    std::vector<uint64_t> serials;  // [length / BS] each full block's chain serial in the prefix index
  };
  // A piece of one chunk that runs in one step (long chunks are cut across steps).
  struct Piece {
    SeqId seq;
    std::span<const int32_t> tokens;
    int logits_from;   // within the piece
  };
  struct Step;

  CudaBackend(const ModelConfig& cfg, const CudaBackendOptions& options);
  void finish_setup();
  void check_chunks(std::span<const ForwardChunk> chunks) const;
  std::vector<std::vector<Piece>> plan_steps(std::span<const ForwardChunk> chunks) const;
  // Runs the pieces' tokens through the model; leaves the logits of their requested rows in
  // the device logits buffer and returns how many rows that is.
  int run_step(const std::vector<Piece>& pieces);
  void enqueue_model(const Step& step);
  void forget_graphs();
  Sequence& sequence(SeqId seq);
  const Sequence& sequence(SeqId seq) const;
  // Runs fn(step's logits rows, rows) after every step of the call.
  template <class Fn>
  void for_each_step(std::span<const ForwardChunk> chunks, Fn&& fn);

  ModelConfig cfg_;
  CudaBackendOptions opts_;
  std::string device_name_;
  double context_seconds_ = 0, weights_seconds_ = 0, kv_seconds_ = 0;   // for startup_report()
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<cuda::DeviceWeights> weights_;
  std::unique_ptr<cuda::Gemm> gemm_;
  std::unique_ptr<cuda::StepBuffers> buf_;
  std::unique_ptr<cuda::KvCache> kv_;
  int max_len_ = 0;
  int max_blocks_ = 0;   // block-table width: blocks of a max_len_ sequence

  std::map<SeqId, Sequence> seqs_;
  SeqId next_id_ = 0;
  PrefixCacheStats prefix_stats_;

  // Decode steps (one new token per sequence, all with logits) by batch size and whether the
  // step runs the shared-prefix pass: how often each key ran eagerly, and the graph captured on
  // its second run. The grouping itself (which sequences, how many blocks) is not in the key: it
  // is step metadata at offsets fixed by the batch size, and both attention grids depend on the
  // batch size only, so one graph replays any grouping. Keying by the grouping would recapture
  // whenever continuous batching swaps a sequence; the flag alone keeps steps without sharing
  // free of the shared pass's launches.
  struct DecodeGraphKey {
    int batch = 0;
    bool shared_prefix = false;
    auto operator<=>(const DecodeGraphKey&) const = default;
  };
  std::map<DecodeGraphKey, int> decode_runs_;
  std::map<DecodeGraphKey, cudaGraphExec_t> graphs_;
  SharedPrefixStats shared_prefix_stats_;
};

// Uploads the weights to the device; `weights` may be dropped once this returns.
std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& cfg, const Weights& weights,
                                           const ModelOptions& options);
// Random weights generated on the device (CudaBackend::synthetic), the same options otherwise.
std::unique_ptr<Backend> make_synthetic_cuda_backend(const ModelConfig& cfg, uint64_t seed,
                                                     const ModelOptions& options);

}  // namespace yardstick
