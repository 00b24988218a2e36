// The CUDA backend: the bf16 forward pass of LlamaForCausalLM on one GPU, with the weights in
// one device arena, a paged KV cache sized from free memory, cuBLASLt projections, and CUDA
// graphs for decode steps. engine/model.cpp reaches it through make_cuda_backend (only when
// built with YARDSTICK_HAVE_CUDA); benchmarks and tests use CudaBackend directly.
#pragma once

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
  bool small_batch_gemv = true;    // projections of <= kGemvMaxRows rows through gemv.h, not cuBLASLt
  bool fused_epilogues = true;     // with gemv: RoPE + KV store and SwiGLU in the projections' epilogues
  bool fused_norms = true;         // with gemv: residual add in o_proj / down_proj, RMSNorm in the next gemv's input
  int gemv_features_per_block = 4; // bf16 projections through gemv: 1, 2 or 4 outputs a block (gemv.h)
  int fused_gemv_groups = 1;       // RoPE pairs / SwiGLU features a fused gemv block computes: 1 or 2
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

  std::string device_name() const { return device_name_; }
  size_t weight_bytes() const;
  size_t kv_bytes() const;

 private:
  struct Sequence {
    int length = 0;
    std::vector<int32_t> blocks;   // the block table: physical KV block of each BS tokens
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
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<cuda::DeviceWeights> weights_;
  std::unique_ptr<cuda::Gemm> gemm_;
  std::unique_ptr<cuda::StepBuffers> buf_;
  std::unique_ptr<cuda::KvCache> kv_;
  int max_len_ = 0;
  int max_blocks_ = 0;   // block-table width: blocks of a max_len_ sequence

  std::map<SeqId, Sequence> seqs_;
  SeqId next_id_ = 0;

  // Decode steps (one new token per sequence, all with logits) by batch size: how often each
  // size ran eagerly, and the graph captured on its second run.
  std::map<int, int> decode_runs_;
  std::map<int, cudaGraphExec_t> graphs_;
};

// Uploads the weights to the device; `weights` may be dropped once this returns.
std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& cfg, const Weights& weights,
                                           const ModelOptions& options);
// Random weights generated on the device (CudaBackend::synthetic), the same options otherwise.
std::unique_ptr<Backend> make_synthetic_cuda_backend(const ModelConfig& cfg, uint64_t seed,
                                                     const ModelOptions& options);

}  // namespace yardstick
