#include "engine/cuda/cuda_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <span>
#include <vector>
#include <utility>

#include <fmt/format.h>

#include "engine/cuda/attention.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_buffer.h"
#include "engine/cuda/device_weights.h"
#include "engine/cuda/embedding.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/gemv.h"
#include "engine/cuda/kv_cache.h"
#include "engine/cuda/logits.h"
#include "engine/cuda/rmsnorm.h"
#include "engine/cuda/rope.h"
#include "engine/cuda/shared_prefix.h"
#include "engine/cuda/swiglu.h"
#include "engine/error.h"

namespace yardstick {

namespace cuda {

// The activations of one forward step and its metadata, sized once for the largest step the
// options allow (S tokens, B sequences, R logits rows).
class StepBuffers {
 public:
  struct Capacity {
    size_t S, B, R, tiles, max_blocks;
  };

  static Capacity capacity(const CudaBackendOptions& o, int max_blocks) {
    const size_t S = size_t(o.max_step_tokens), B = size_t(o.max_step_seqs);
    return {S, B, size_t(o.max_step_logits), S / kPrefillQueryTile + B, size_t(max_blocks)};
  }
  // int32 metadata: tokens, positions, token -> sequence, logits rows, per-sequence q_start,
  // q_len, kv_len, prefill tiles (sequence, first query), block tables; for decode steps the
  // shared-prefix plan (skip blocks, partial counts, members, item count, items).
  static constexpr size_t kItemInts = sizeof(SharedPrefixItem) / sizeof(int32_t);
  static size_t meta_ints(const Capacity& c) {
    return 3 * c.S + c.R + 3 * c.B + 2 * c.tiles + c.B * c.max_blocks + 3 * c.B + 1 +
           size_t(attention_shared_prefix_items(int(c.B))) * kItemInts;
  }

  // attention_shared_prefix's partials: [B, NH, kMaxSharedPrefixChunks, HD + 2] f32.
  static size_t shared_prefix_bytes(const ModelConfig& cfg, const Capacity& c) {
    if (!attention_shared_prefix_supports(cfg.head_dim, cfg.num_heads / cfg.num_kv_heads)) return 0;
    return c.B * size_t(cfg.num_heads) * kMaxSharedPrefixChunks * (size_t(cfg.head_dim) + 2) * 4;
  }

  // attention_decode's split partials and tickets.
  static size_t split_bytes(const ModelConfig& cfg, int sm_count) {
    return size_t(attention_decode_capacity(sm_count)) * (size_t(cfg.head_dim) + 2 + 1) * 4;
  }

  static size_t bytes_needed(const ModelConfig& cfg, const CudaBackendOptions& o, int max_blocks, int max_len,
                             int sm_count) {
    const Capacity c = capacity(o, max_blocks);
    const size_t C = size_t(cfg.hidden_size), HD = size_t(cfg.head_dim);
    const size_t qkv = size_t(cfg.num_heads + 2 * cfg.num_kv_heads) * HD;
    const size_t FF = size_t(cfg.intermediate_size), V = size_t(cfg.vocab_size);
    return c.S * C * 4 + c.S * C * 2 * 2 + c.S * qkv * 2 + c.S * size_t(cfg.num_heads) * HD * 2 +
           c.S * 3 * FF * 2 + c.R * C * 2 + c.R * V * 4 + size_t(max_len) * HD * 4 +
           meta_ints(c) * 4 + c.R * (sizeof(PickRequest) + sizeof(PickResult)) + size_t(kGemvMaxRows) * C * 4 +
           split_bytes(cfg, sm_count) + shared_prefix_bytes(cfg, c);
  }

  StepBuffers(const ModelConfig& cfg, const CudaBackendOptions& o, int max_blocks, int max_len, int sm_count)
      : cap(capacity(o, max_blocks)), sm_count(sm_count) {
    const size_t C = size_t(cfg.hidden_size), HD = size_t(cfg.head_dim);
    const size_t qkv_width = size_t(cfg.num_heads + 2 * cfg.num_kv_heads) * HD;
    const size_t FF = size_t(cfg.intermediate_size), V = size_t(cfg.vocab_size);
    x = DeviceBuffer(cap.S * C * 4, "the residual stream");
    h = DeviceBuffer(cap.S * C * 2, "normed activations");
    qkv = DeviceBuffer(cap.S * qkv_width * 2, "q, k, v");
    attn = DeviceBuffer(cap.S * size_t(cfg.num_heads) * HD * 2, "attention outputs");
    proj = DeviceBuffer(cap.S * C * 2, "projection outputs");
    gate_up = DeviceBuffer(cap.S * 2 * FF * 2, "gate and up projections");
    act = DeviceBuffer(cap.S * FF * 2, "SwiGLU activations");
    hsel = DeviceBuffer(cap.R * C * 2, "hidden rows with logits");
    logits = DeviceBuffer(cap.R * V * 4, "logits");
    const std::vector<float> table = rope_table(max_len, cfg.head_dim, cfg.rope_theta);
    rope = DeviceBuffer(table.size() * 4, "the RoPE table");
    check(cudaMemcpy(rope.get(), table.data(), table.size() * 4, cudaMemcpyHostToDevice), "uploading the RoPE table");
    meta_host = PinnedBuffer(meta_ints(cap) * 4, "step metadata");
    meta_dev = DeviceBuffer(meta_ints(cap) * 4, "step metadata");
    pick_req_host = PinnedBuffer(cap.R * sizeof(PickRequest), "sampling requests");
    pick_req_dev = DeviceBuffer(cap.R * sizeof(PickRequest), "sampling requests");
    pick_res_host = PinnedBuffer(cap.R * sizeof(PickResult), "sampled tokens");
    pick_res_dev = DeviceBuffer(cap.R * sizeof(PickResult), "sampled tokens");
    partials = DeviceBuffer(size_t(kGemvMaxRows) * C * 4, "sums of squares of the residual stream");
    const size_t slots = size_t(attention_decode_capacity(sm_count));
    split_partials = DeviceBuffer(slots * (HD + 2) * 4, "split decode attention partials");
    split_tickets = DeviceBuffer(slots * 4, "split decode attention tickets");
    check(cudaMemset(split_tickets.get(), 0, slots * 4), "zeroing the split decode attention tickets");
    if (const size_t bytes = shared_prefix_bytes(cfg, cap)) {
      shared_partials = DeviceBuffer(bytes, "shared-prefix attention partials");
    }
  }

  // attention_decode's split for a decode step of num_seqs sequences.
  DecodeSplit decode_split(int num_heads, int num_seqs) const {
    return {attention_decode_splits(num_heads, num_seqs, sm_count), DecodeSplit{}.min_keys,
            split_partials.as<float>(), split_tickets.as<int32_t>(), attention_decode_capacity(sm_count)};
  }

  Capacity cap;
  DeviceBuffer x;         // [S, C] f32: the residual stream
  DeviceBuffer h;         // [S, C] bf16: a sublayer's normed input
  DeviceBuffer qkv;       // [S, (NH + 2 NKV) HD] bf16
  DeviceBuffer attn;      // [S, NH HD] bf16
  DeviceBuffer proj;      // [S, C] bf16: o_proj / down_proj output
  DeviceBuffer gate_up;   // [S, 2 FF] bf16
  DeviceBuffer act;       // [S, FF] bf16
  DeviceBuffer hsel;      // [R, C] bf16: final-normed rows that get logits
  DeviceBuffer logits;    // [R, V] f32
  DeviceBuffer rope;      // [max_len, HD/2] (cos, sin)
  PinnedBuffer meta_host;
  DeviceBuffer meta_dev;
  PinnedBuffer pick_req_host;   // [R] PickRequest
  DeviceBuffer pick_req_dev;
  PinnedBuffer pick_res_host;   // [R] PickResult
  DeviceBuffer pick_res_dev;
  DeviceBuffer partials;   // [kGemvMaxRows, C] f32: gemv_residual_add's sums of squares
  int sm_count;                  // the device's SMs: how many blocks fill it
  DeviceBuffer split_partials;   // [attention_decode_capacity, HD + 2] f32 (DecodeSplit)
  DeviceBuffer split_tickets;    // [attention_decode_capacity] int32, zero between launches
  DeviceBuffer shared_partials;  // [B, NH, kMaxSharedPrefixChunks, HD + 2] f32; empty where unsupported
  SharedPrefixPlan prefix_plan;  // the decode step's grouping, reused step to step
  std::vector<std::span<const int32_t>> prefix_tables;   // [B] its input: each sequence's block table
};

}  // namespace cuda

using cuda::check;

// One step's shape and where its metadata lies on the device.
struct CudaBackend::Step {
  int T = 0, B = 0, R = 0, num_tiles = 0;
  bool decode = false;   // every sequence brings exactly one token
  bool mma_prefill = false;   // prefill attention through attention_prefill_mma (its query tiles)
  // Runs of consecutive 1-token sequences of a mixed step, [first, first + count), whose
  // attention goes to attention_decode; the query tiles cover the other sequences.
  std::vector<std::pair<int, int>> decode_runs;
  const int32_t* tokens = nullptr;     // [T]
  const int32_t* pos = nullptr;        // [T]
  const int32_t* tok_seq = nullptr;    // [T]
  const int32_t* rows = nullptr;       // [R] rows of the step's activations that get logits
  const int32_t* tile_seq = nullptr;   // [num_tiles]
  const int32_t* tile_q0 = nullptr;    // [num_tiles]
  const int32_t* tables = nullptr;     // [B, max_blocks]
  cuda::BatchView batch;
  bool shared_prefix = false;          // decode: some sequences share blocks, run the shared pass
  cuda::SharedPrefixView prefix;       // its plan (all null without one)
};

namespace {

constexpr size_t kReserveBytes = size_t(1) << 30;   // CUDA context growth, cuBLASLt, graphs

double gib(size_t bytes) { return double(bytes) / double(1ull << 30); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void check_config(const ModelConfig& cfg) {
  if (!cuda::attention_supports_head_dim(cfg.head_dim)) {
    throw ModelFileError(fmt::format("cuda backend: head_dim {} is not supported (8, 16, 32, 64 or 128)", cfg.head_dim));
  }
  if (cfg.num_kv_heads <= 0 || cfg.num_heads % cfg.num_kv_heads != 0) {
    throw ModelFileError(fmt::format("cuda backend: {} attention heads can't be grouped over {} kv heads",
                                     cfg.num_heads, cfg.num_kv_heads));
  }
}

// Sorts a step's query tiles by the keys their last query sees, most first: with causal
// attention the last tiles of a long prompt take the longest, and started last they would run
// alone at the end of the kernel.
void order_tiles_longest_first(int32_t* tile_seq,      // [num_tiles]
                               int32_t* tile_q0,       // [num_tiles]
                               int num_tiles,
                               const int32_t* q_len,   // [B]
                               const int32_t* kv_len,  // [B]
                               int query_tile) {
  std::vector<std::pair<int, int>> order(static_cast<size_t>(num_tiles));   // (keys, tile)
  for (int i = 0; i < num_tiles; ++i) {
    const int b = tile_seq[i], n = q_len[b];
    order[size_t(i)] = {kv_len[b] - n + std::min(n, tile_q0[i] + query_tile), i};
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  std::vector<int32_t> seq(order.size()), q0(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    seq[i] = tile_seq[order[i].second];
    q0[i] = tile_q0[order[i].second];
  }
  std::copy(seq.begin(), seq.end(), tile_seq);
  std::copy(q0.begin(), q0.end(), tile_q0);
}

}  // namespace

CudaBackend::CudaBackend(const ModelConfig& cfg, const CudaBackendOptions& options)
    : cfg_(cfg), opts_(options) {
  const auto started = std::chrono::steady_clock::now();
  check_config(cfg_);
  if (opts_.max_step_tokens < 1 || opts_.max_step_seqs < 1 || opts_.max_step_logits < 1 || opts_.kv_block_size < 1) {
    throw InputError("cuda backend: step sizes and the KV block size must be positive");
  }
  check(cudaSetDevice(opts_.device), fmt::format("selecting device {}", opts_.device));
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, opts_.device), "reading the device's properties");
  device_name_ = prop.name;
  max_len_ = cfg_.max_position_embeddings;
  if (opts_.max_sequence_length > 0) max_len_ = std::min(max_len_, opts_.max_sequence_length);
  max_blocks_ = (max_len_ + opts_.kv_block_size - 1) / opts_.kv_block_size;

  // Refuse up front, with the numbers, a model that can't fit: weights, activations, and the
  // KV cache of one full-length sequence.
  size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "reading free device memory");
  const cuda::KvCacheShape kv_shape{cfg_.num_layers, cfg_.num_kv_heads, cfg_.head_dim, opts_.kv_block_size};
  const size_t w = cuda::DeviceWeights::bytes_needed(cfg_);
  const size_t act = cuda::StepBuffers::bytes_needed(cfg_, opts_, max_blocks_, max_len_, prop.multiProcessorCount);
  const size_t kv_min = cuda::KvCache::bytes_per_block(kv_shape) * size_t(max_blocks_);
  if (w + act + kv_min + kReserveBytes > free_bytes) {
    throw Error(fmt::format(
        "cuda: the model ({} layers, hidden {}) does not fit on {}: it needs {:.2f} GiB ({:.2f} GiB of bf16 "
        "weights, {:.2f} GiB of activations for {}-token steps, {:.2f} GiB of KV cache for one {}-token "
        "sequence, {:.2f} GiB reserve) and the device has {:.2f} GiB free of {:.2f} GiB",
        cfg_.num_layers, cfg_.hidden_size, device_name_, gib(w + act + kv_min + kReserveBytes), gib(w), gib(act),
        opts_.max_step_tokens, gib(kv_min), max_len_, gib(kReserveBytes), gib(free_bytes), gib(total_bytes)));
  }
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream");
  gemm_ = std::make_unique<cuda::Gemm>();
  gemm_->set_small_batch_gemv(opts_.small_batch_gemv);
  gemm_->set_gemv_features_per_block(opts_.gemv_features_per_block);
  gemm_->set_timed_algorithms(opts_.gemm_timed_algorithms);
  buf_ = std::make_unique<cuda::StepBuffers>(cfg_, opts_, max_blocks_, max_len_, prop.multiProcessorCount);
  context_seconds_ = seconds_since(started);
}

CudaBackend::CudaBackend(const ModelConfig& cfg, const Weights& weights, const CudaBackendOptions& options)
    : CudaBackend(cfg, options) {
  const auto started = std::chrono::steady_clock::now();
  weights_ = std::make_unique<cuda::DeviceWeights>(cuda::DeviceWeights::upload(cfg_, weights, stream_));
  weights_seconds_ = seconds_since(started);
  finish_setup();
}

std::unique_ptr<CudaBackend> CudaBackend::synthetic(const ModelConfig& cfg, uint64_t seed,
                                                    const CudaBackendOptions& options) {
  std::unique_ptr<CudaBackend> b(new CudaBackend(cfg, options));
  const auto started = std::chrono::steady_clock::now();
  b->weights_ = std::make_unique<cuda::DeviceWeights>(cuda::DeviceWeights::random(b->cfg_, seed, b->stream_));
  check(cudaStreamSynchronize(b->stream_), "making random weights");
  b->weights_seconds_ = seconds_since(started);
  b->finish_setup();
  return b;
}

// The KV cache takes what is left once everything else is in.
void CudaBackend::finish_setup() {
  const auto started = std::chrono::steady_clock::now();
  size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "reading free device memory");
  const cuda::KvCacheShape shape{cfg_.num_layers, cfg_.num_kv_heads, cfg_.head_dim, opts_.kv_block_size};
  const size_t per_block = cuda::KvCache::bytes_per_block(shape);
  size_t budget = free_bytes > kReserveBytes ? size_t(double(free_bytes - kReserveBytes) * opts_.kv_memory_fraction) : 0;
  if (opts_.kv_max_bytes > 0) budget = std::min(budget, size_t(opts_.kv_max_bytes));
  const int64_t blocks = int64_t(std::min<size_t>(budget / per_block, size_t(INT32_MAX)));
  if (blocks < 1) {
    throw Error(fmt::format("cuda: no room for the KV cache on {}: {:.2f} GiB free, one block needs {:.4f} GiB",
                            device_name_, gib(free_bytes), gib(per_block)));
  }
  kv_ = std::make_unique<cuda::KvCache>(shape, blocks);
  max_len_ = int(std::min<int64_t>(max_len_, blocks * opts_.kv_block_size));
  kv_seconds_ = seconds_since(started);
}

std::string CudaBackend::startup_report() const {
  const double gb = double(weight_bytes()) / 1e9;
  return fmt::format("cuda: {} ready: device set-up {:.2f} s, {:.2f} GB of weights in {:.2f} s ({:.1f} GB/s), "
                     "KV cache of {} tokens ({:.1f} GB) in {:.2f} s",
                     device_name_, context_seconds_, gb, weights_seconds_,
                     weights_seconds_ > 0 ? gb / weights_seconds_ : 0.0, kv_total_blocks() * kv_block_size(),
                     double(kv_bytes()) / 1e9, kv_seconds_);
}

CudaBackend::~CudaBackend() {
  for (auto& [batch, exec] : graphs_) cudaGraphExecDestroy(exec);
  if (stream_) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
}

// ---------------------------------------------------------------- sequences

CudaBackend::Sequence& CudaBackend::sequence(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw InputError(fmt::format("cuda backend: unknown sequence {}", seq));
  return it->second;
}

const CudaBackend::Sequence& CudaBackend::sequence(SeqId seq) const {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw InputError(fmt::format("cuda backend: unknown sequence {}", seq));
  return it->second;
}

SeqId CudaBackend::open_sequence() {
  seqs_.emplace(next_id_, Sequence{});
  return next_id_++;
}

void CudaBackend::close_sequence(SeqId seq) {
  Sequence& s = sequence(seq);
  kv_->shrink(s.blocks, 0, stream_);
  seqs_.erase(seq);
}

int CudaBackend::sequence_length(SeqId seq) const { return sequence(seq).length; }

void CudaBackend::truncate(SeqId seq, int n) {
  Sequence& s = sequence(seq);
  if (n < 0 || n > s.length) {
    throw InputError(fmt::format("cuda backend: can't truncate sequence {} of {} tokens to {}", seq, s.length, n));
  }
  kv_->shrink(s.blocks, n, stream_);
  s.length = n;
  s.tokens.resize(size_t(n));
  s.serials.resize(size_t(n / kv_->block_size()));
}

SeqId CudaBackend::fork_sequence(SeqId seq) {
  const Sequence& src = sequence(seq);
  Sequence copy;
  copy.length = src.length;
  copy.blocks = kv_->fork(src.blocks, src.length, stream_);
  copy.tokens = src.tokens;
  copy.serials = src.serials;
  seqs_.emplace(next_id_, std::move(copy));
  return next_id_++;
}

// ---------------------------------------------------------------- prefix cache

int CudaBackend::attach_cached_prefix(SeqId seq, std::span<const int32_t> tokens) {
  Sequence& s = sequence(seq);
  if (s.length != 0) {
    throw InputError(fmt::format("cuda backend: a cached prefix can only start sequence {}, which holds {} tokens",
                                 seq, s.length));
  }
  ++prefix_stats_.lookups;
  if (!opts_.prefix_cache) return 0;
  const size_t bs = size_t(kv_->block_size());
  uint64_t parent = PrefixIndex::kRoot;
  for (size_t at = 0; at + bs <= tokens.size() && s.tokens.size() + bs <= size_t(max_len_); at += bs) {
    const auto m = kv_->index().find(parent, tokens.subspan(at, bs));
    if (!m) break;
    kv_->attach(s.blocks, m->block);
    s.serials.push_back(m->serial);
    s.tokens.insert(s.tokens.end(), tokens.begin() + ptrdiff_t(at), tokens.begin() + ptrdiff_t(at + bs));
    parent = m->serial;
  }
  s.length = int(s.tokens.size());
  prefix_stats_.blocks_reused += int64_t(s.serials.size());
  prefix_stats_.tokens_reused += s.length;
  return s.length;
}

CachedPrefix CudaBackend::find_cached_prefix(std::span<const int32_t> tokens) const {
  CachedPrefix found;
  if (!opts_.prefix_cache) return found;
  const size_t bs = size_t(kv_->block_size());
  uint64_t parent = PrefixIndex::kRoot;
  for (size_t at = 0; at + bs <= tokens.size() && at + bs <= size_t(max_len_); at += bs) {
    const auto m = kv_->index().find(parent, tokens.subspan(at, bs));
    if (!m) break;
    found.tokens += int(bs);
    if (kv_->index().evictable(m->block)) ++found.blocks_from_free;
    parent = m->serial;
  }
  return found;
}

PrefixCacheStats CudaBackend::prefix_cache_stats() const {
  PrefixCacheStats st = prefix_stats_;
  st.blocks_cached = kv_->index().entries();
  st.evictions = kv_->evictions();
  return st;
}

void CudaBackend::set_small_batch_gemv(bool on) {
  opts_.small_batch_gemv = on;
  gemm_->set_small_batch_gemv(on);
  forget_graphs();
}

void CudaBackend::set_fused_epilogues(bool on) {
  opts_.fused_epilogues = on;
  forget_graphs();
}

void CudaBackend::set_fused_norms(bool on) {
  opts_.fused_norms = on;
  forget_graphs();
}

void CudaBackend::set_fused_gemv_groups(int n) {
  opts_.fused_gemv_groups = n;
  forget_graphs();
}

void CudaBackend::set_gemv_features_per_block(int n) {
  opts_.gemv_features_per_block = n;
  gemm_->set_gemv_features_per_block(n);
  forget_graphs();
}

void CudaBackend::set_shared_prefix_attention(bool on) {
  opts_.shared_prefix_attention = on;
  forget_graphs();
}

// Neither touches decode steps (one token per sequence), so no graph needs forgetting.
void CudaBackend::set_mma_prefill_attention(bool on) { opts_.mma_prefill_attention = on; }
void CudaBackend::set_decode_attention_in_mixed_steps(bool on) { opts_.decode_attention_in_mixed_steps = on; }

void CudaBackend::set_gemm_timed_algorithms(bool on) {
  opts_.gemm_timed_algorithms = on;
  gemm_->set_timed_algorithms(on);
  forget_graphs();
}

void CudaBackend::set_gemm_residual_epilogue(bool on) {
  opts_.gemm_residual_epilogue = on;
  forget_graphs();
}

void CudaBackend::forget_graphs() {
  for (auto& [batch, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
  decode_runs_.clear();
}

int CudaBackend::kv_block_size() const { return kv_->block_size(); }
int64_t CudaBackend::kv_free_blocks() const { return kv_->free_blocks(); }
int64_t CudaBackend::kv_total_blocks() const { return kv_->num_blocks(); }
size_t CudaBackend::weight_bytes() const { return weights_->bytes(); }
size_t CudaBackend::kv_bytes() const {
  return cuda::KvCache::bytes_per_block(kv_->shape()) * size_t(kv_->num_blocks());
}

// ---------------------------------------------------------------- forward

void CudaBackend::check_chunks(std::span<const ForwardChunk> chunks) const {
  std::set<SeqId> seen;
  int64_t blocks = 0;
  for (const ForwardChunk& c : chunks) {
    const Sequence& s = sequence(c.seq);
    if (!seen.insert(c.seq).second) {
      throw InputError(fmt::format("cuda backend: sequence {} appears twice in one forward call", c.seq));
    }
    const int n = int(c.tokens.size());
    if (c.logits_from < 0 || c.logits_from > n) {
      throw InputError(fmt::format("cuda backend: logits_from {} outside a chunk of {} tokens", c.logits_from, n));
    }
    if (int64_t(s.length) + n > max_len_) {
      throw InputError(fmt::format("cuda backend: sequence {} would hold {} tokens, more than the {} it may hold",
                                   c.seq, int64_t(s.length) + n, max_len_));
    }
    for (int32_t t : c.tokens) {
      if (t < 0 || t >= cfg_.vocab_size) {
        throw InputError(fmt::format("cuda backend: token id {} outside the vocabulary of {}", t, cfg_.vocab_size));
      }
    }
    blocks += kv_->blocks_needed(s.blocks, s.length + n);
  }
  if (blocks > kv_->free_blocks()) {
    throw Error(fmt::format("cuda backend: KV cache full: this call needs {} more blocks of {} tokens and {} are free",
                            blocks, kv_->block_size(), kv_->free_blocks()));
  }
}

// Cuts the chunks into steps that fit the step buffers. A chunk too long for the room left in a
// step ends that step with its first piece; its next piece starts the next step (a sequence can
// appear only once per step).
std::vector<std::vector<CudaBackend::Piece>> CudaBackend::plan_steps(std::span<const ForwardChunk> chunks) const {
  std::vector<std::vector<Piece>> steps(1);
  int tokens = 0, logits = 0;
  auto flush = [&] {
    if (!steps.back().empty()) steps.emplace_back();
    tokens = logits = 0;
  };
  for (const ForwardChunk& c : chunks) {
    const int n = int(c.tokens.size());
    int done = 0;
    while (done < n) {
      if (tokens == opts_.max_step_tokens || logits == opts_.max_step_logits ||
          int(steps.back().size()) == opts_.max_step_seqs) {
        flush();
      }
      int take = std::min(n - done, opts_.max_step_tokens - tokens);
      // Logits rows of the piece [done, done + take) are its positions >= logits_from.
      const int from = std::max(c.logits_from - done, 0);
      if (take - from > opts_.max_step_logits - logits) take = from + (opts_.max_step_logits - logits);
      if (take <= 0) {
        flush();
        continue;
      }
      Piece p{c.seq, c.tokens.subspan(size_t(done), size_t(take)), std::min(from, take)};
      steps.back().push_back(p);
      tokens += take;
      logits += take - p.logits_from;
      done += take;
      if (done < n) flush();
    }
  }
  if (steps.back().empty()) steps.pop_back();
  return steps;
}

int CudaBackend::run_step(const std::vector<Piece>& pieces) {
  // Count first: the metadata is packed with each array exactly as long as this step needs, so
  // two decode steps of the same batch size put everything at the same device addresses and
  // can replay the same graph.
  Step st;
  st.B = int(pieces.size());
  st.decode = true;
  for (const Piece& p : pieces) {
    const int n = int(p.tokens.size());
    st.T += n;
    st.R += n - p.logits_from;
    st.decode = st.decode && n == 1;
  }
  // Attention of a step with several tokens per sequence: query tiles of the selected prefill
  // kernel, except for 1-token sequences routed to the decode kernel (which a decode step would
  // use for them too, and which reads each of their keys once instead of through a 64-row tile).
  st.mma_prefill = opts_.mma_prefill_attention && cuda::attention_prefill_mma_supports(cfg_.head_dim);
  const int query_tile = st.mma_prefill ? cuda::kPrefillMmaQueryTile : cuda::kPrefillQueryTile;
  const bool route_decode = !st.decode && opts_.decode_attention_in_mixed_steps;
  for (const Piece& p : pieces) {
    const int n = int(p.tokens.size());
    if (!(route_decode && n == 1)) st.num_tiles += (n + query_tile - 1) / query_tile;
  }
  int32_t* host = buf_->meta_host.as<int32_t>();
  const int32_t* dev = buf_->meta_dev.as<int32_t>();
  size_t at = 0;
  auto region = [&](size_t n) {
    const size_t start = at;
    at += n;
    return start;
  };
  const size_t o_tokens = region(size_t(st.T)), o_pos = region(size_t(st.T)), o_tok_seq = region(size_t(st.T));
  const size_t o_rows = region(size_t(st.R)), o_q_start = region(size_t(st.B)), o_q_len = region(size_t(st.B));
  const size_t o_kv_len = region(size_t(st.B)), o_tile_seq = region(size_t(st.num_tiles));
  const size_t o_tile_q0 = region(size_t(st.num_tiles));
  const size_t o_tables = region(size_t(st.B) * size_t(max_blocks_));

  int t = 0, r = 0, tile = 0;
  for (int b = 0; b < st.B; ++b) {
    const Piece& p = pieces[size_t(b)];
    Sequence& s = sequence(p.seq);
    const int n = int(p.tokens.size());
    if (!kv_->grow(s.blocks, s.length + n)) {
      throw Error("cuda backend: KV cache full in the middle of a forward call");   // check_chunks prevents this
    }
    host[o_q_start + size_t(b)] = t;
    host[o_q_len + size_t(b)] = n;
    host[o_kv_len + size_t(b)] = s.length + n;
    for (int i = 0; i < n; ++i, ++t) {
      host[o_tokens + size_t(t)] = p.tokens[size_t(i)];
      host[o_pos + size_t(t)] = s.length + i;
      host[o_tok_seq + size_t(t)] = b;
      if (i >= p.logits_from) host[o_rows + size_t(r++)] = t;
    }
    if (route_decode && n == 1) {
      if (!st.decode_runs.empty() && st.decode_runs.back().first + st.decode_runs.back().second == b) {
        ++st.decode_runs.back().second;
      } else {
        st.decode_runs.emplace_back(b, 1);
      }
    } else {
      for (int q0 = 0; q0 < n; q0 += query_tile, ++tile) {
        host[o_tile_seq + size_t(tile)] = b;
        host[o_tile_q0 + size_t(tile)] = q0;
      }
    }
    int32_t* table = host + o_tables + size_t(b) * size_t(max_blocks_);
    std::copy(s.blocks.begin(), s.blocks.end(), table);
    std::fill(table + s.blocks.size(), table + max_blocks_, 0);
  }
  // Decode steps: which sequences read shared leading blocks once (shared_prefix.h). The plan's
  // regions follow the tables with sizes fixed by B, so a graph of this batch size finds it at
  // the addresses it was captured with.
  const int NH = cfg_.num_heads, NKV = cfg_.num_kv_heads;
  if (st.decode && opts_.shared_prefix_attention && buf_->shared_partials.get()) {
    const size_t B = size_t(st.B);
    const size_t o_skip = region(B), o_parts = region(B), o_members = region(B), o_num_items = region(1);
    const size_t o_items = region(size_t(cuda::attention_shared_prefix_items(st.B)) * cuda::StepBuffers::kItemInts);
    cuda::SharedPrefixPlan& plan = buf_->prefix_plan;
    auto& tables = buf_->prefix_tables;
    tables.clear();
    for (const Piece& p : pieces) tables.push_back(sequence(p.seq).blocks);
    const int blocks_x = cuda::attention_shared_prefix_blocks(NKV, st.B, buf_->sm_count);
    cuda::SharedPrefixParams params;
    params.block_size = kv_->block_size();
    params.heads_per_kv_head = NH / NKV;
    params.num_kv_heads = NKV;
    params.blocks_x = blocks_x;
    cuda::plan_shared_prefix(tables, std::span<const int32_t>(host + o_kv_len, B), params, plan);
    if (!plan.empty()) {
      std::copy(plan.skip_blocks.begin(), plan.skip_blocks.end(), host + o_skip);
      std::copy(plan.num_partials.begin(), plan.num_partials.end(), host + o_parts);
      std::copy(plan.members.begin(), plan.members.end(), host + o_members);
      host[o_num_items] = int32_t(plan.items.size());
      std::memcpy(host + o_items, plan.items.data(), plan.items.size() * sizeof(cuda::SharedPrefixItem));
      st.shared_prefix = true;
      st.prefix = cuda::SharedPrefixView{dev + o_skip, dev + o_parts, buf_->shared_partials.as<float>(),
                                         dev + o_members,
                                         reinterpret_cast<const cuda::SharedPrefixItem*>(dev + o_items),
                                         dev + o_num_items, blocks_x};
      ++shared_prefix_stats_.steps;
      shared_prefix_stats_.grouped_seqs += int64_t(plan.members.size());
      shared_prefix_stats_.blocks_saved += plan.blocks_saved();
    }
  }
  if (st.mma_prefill && !st.decode) {   // a decode step's tiles are never read
    order_tiles_longest_first(host + o_tile_seq, host + o_tile_q0, st.num_tiles, host + o_q_len, host + o_kv_len,
                              query_tile);
  }
  check(cudaMemcpyAsync(buf_->meta_dev.get(), host, at * sizeof(int32_t), cudaMemcpyHostToDevice, stream_),
        "uploading a step's metadata");
  st.tokens = dev + o_tokens;
  st.pos = dev + o_pos;
  st.tok_seq = dev + o_tok_seq;
  st.rows = dev + o_rows;
  st.tile_seq = dev + o_tile_seq;
  st.tile_q0 = dev + o_tile_q0;
  st.tables = dev + o_tables;
  st.batch = cuda::BatchView{dev + o_q_start, dev + o_q_len, dev + o_kv_len, st.B};

  const bool graphable = opts_.cuda_graphs && st.decode && st.R == st.B;
  const DecodeGraphKey key{st.B, st.shared_prefix};
  if (!graphable) {
    enqueue_model(st);
  } else if (auto g = graphs_.find(key); g != graphs_.end()) {
    check(cudaGraphLaunch(g->second, stream_), "launching a decode graph");
  } else if (decode_runs_[key]++ == 0) {
    enqueue_model(st);   // the first run also makes the cuBLASLt plans, outside any capture
  } else {
    cudaGraph_t graph = nullptr;
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "starting a decode graph capture");
    try {
      enqueue_model(st);
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    check(cudaStreamEndCapture(stream_, &graph), "capturing a decode step");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    check(made, "instantiating a decode graph");
    graphs_[key] = exec;
    check(cudaGraphLaunch(exec, stream_), "launching a decode graph");
  }
  // The step's keys and values are on their way (stream order): full blocks enter the prefix
  // index now, so that a later step may attach them.
  const size_t bs = size_t(kv_->block_size());
  for (const Piece& p : pieces) {
    Sequence& s = sequence(p.seq);
    s.length += int(p.tokens.size());
    s.tokens.insert(s.tokens.end(), p.tokens.begin(), p.tokens.end());
    if (!opts_.prefix_cache) continue;
    for (size_t b = s.serials.size(); (b + 1) * bs <= s.tokens.size(); ++b) {
      const uint64_t parent = b == 0 ? PrefixIndex::kRoot : s.serials[b - 1];
      s.serials.push_back(kv_->cache_block(s.blocks, b, parent, std::span<const int32_t>(s.tokens).subspan(b * bs, bs)));
    }
  }
  return st.R;
}

// The forward pass of LlamaForCausalLM over one step's tokens, as a flat list of launches.
void CudaBackend::enqueue_model(const Step& st) {
  const int T = st.T, C = cfg_.hidden_size, NH = cfg_.num_heads, NKV = cfg_.num_kv_heads, HD = cfg_.head_dim;
  const int FF = cfg_.intermediate_size, qkv_width = (NH + 2 * NKV) * HD;
  const float eps = float(cfg_.rms_norm_eps);
  auto* x = buf_->x.as<float>();
  auto* h = buf_->h.as<cuda::bf16>();
  auto* qkv = buf_->qkv.as<cuda::bf16>();
  auto* attn = buf_->attn.as<cuda::bf16>();
  auto* proj = buf_->proj.as<cuda::bf16>();
  auto* gate_up = buf_->gate_up.as<cuda::bf16>();
  auto* act = buf_->act.as<cuda::bf16>();
  const auto* rope = buf_->rope.as<float2>();
  const cuda::AttentionShape shape{NH, 1.0f / std::sqrt(float(HD))};
  const bool fuse = opts_.fused_epilogues;

  // The residual stream x is always current. Its norm is either in h, or (after a projection
  // that added itself into x through gemv_residual_add) still to be computed from the sums of
  // squares in partials, which the next gemv does on the fly as it reads its input.
  const bool fuse_norms = fuse && opts_.fused_norms;
  auto* partials = buf_->partials.as<float>();
  const int parts = cuda::gemv_residual_parts(C, opts_.gemv_features_per_block);
  bool pending_norm = false;
  auto input_of = [&](const cuda::bf16* norm_weight) {
    return pending_norm ? cuda::GemvInput{nullptr, {x, norm_weight, partials, parts, eps}} : cuda::GemvInput{h, {}};
  };
  auto materialize = [&](const cuda::bf16* norm_weight) {   // h = norm(x), for a consumer that needs it in h
    if (pending_norm) cuda::add_rmsnorm(x, nullptr, norm_weight, h, T, C, eps, stream_);
    pending_norm = false;
  };
  // x += proj(in) by w; then the norm by norm_weight (in h, or pending).
  auto project_add_norm = [&](const cuda::bf16* in, const cuda::bf16* w, int in_width, const cuda::bf16* norm_weight) {
    if (fuse_norms && gemm_->uses_gemv(in, w, T, in_width)) {
      cuda::gemv_residual_add(in, w, x, partials, T, C, in_width, stream_, opts_.gemv_features_per_block);
      pending_norm = true;
    } else if (opts_.gemm_residual_epilogue && !gemm_->uses_gemv(in, w, T, in_width)) {
      gemm_->linear_accumulate(in, w, x, T, C, in_width, stream_);   // x += proj(in), fp32 sums
      cuda::add_rmsnorm(x, nullptr, norm_weight, h, T, C, eps, stream_);
    } else {
      gemm_->linear(in, w, proj, false, T, C, in_width, stream_);
      cuda::add_rmsnorm(x, proj, norm_weight, h, T, C, eps, stream_);
    }
  };

  cuda::embedding_gather(weights_->embed, st.tokens, x, T, C, stream_);   // x = embed_tokens(ids)
  cuda::add_rmsnorm(x, nullptr, weights_->layers[0].attn_norm, h, T, C, eps, stream_);   // h = input_layernorm(x)
  for (int l = 0; l < cfg_.num_layers; ++l) {
    const cuda::LayerWeights& w = weights_->layers[size_t(l)];
    const cuda::KvLayerView kv = kv_->layer_view(l, st.tables, max_blocks_);
    // q, k, v = proj(input_layernorm(x)), with RoPE; k and v into the cache
    if (fuse && gemm_->uses_gemv(h, w.wqkv, T, C)) {
      cuda::gemv_qkv_rope(input_of(w.attn_norm), w.wqkv, qkv, rope, st.pos, st.tok_seq, kv, T, NH, C, stream_,
                          opts_.fused_gemv_groups);
    } else {
      materialize(w.attn_norm);
      gemm_->linear(h, w.wqkv, qkv, false, T, qkv_width, C, stream_);
      cuda::rope_and_store_kv(qkv, rope, st.pos, st.tok_seq, kv, T, NH, stream_);
    }
    pending_norm = false;
    const bool last = l + 1 == cfg_.num_layers;
    if (last && st.R == 0) return;   // the keys and values are in; the rest would only feed logits
    if (st.decode) {
      // With a shared-prefix plan: the groups' shared blocks first, then each sequence's own
      // keys, merged with the shared partials.
      if (st.shared_prefix) cuda::attention_shared_prefix(qkv, shape, kv, st.batch, st.prefix, stream_);
      cuda::attention_decode(qkv, attn, shape, kv, st.batch, buf_->decode_split(NH, st.B), st.prefix, stream_);
    } else {
      for (const auto& [first, count] : st.decode_runs) {   // the run's sequences as a batch of their own
        const cuda::BatchView run{st.batch.q_start + first, st.batch.q_len + first, st.batch.kv_len + first, count};
        cuda::KvLayerView run_kv = kv;
        run_kv.block_tables += size_t(first) * size_t(max_blocks_);
        cuda::attention_decode(qkv, attn, shape, run_kv, run, buf_->decode_split(NH, count), stream_);
      }
      if (st.mma_prefill) {
        cuda::attention_prefill_mma(qkv, attn, shape, kv, st.batch, st.tile_seq, st.tile_q0, st.num_tiles, stream_);
      } else {
        cuda::attention_prefill(qkv, attn, shape, kv, st.batch, st.tile_seq, st.tile_q0, st.num_tiles, stream_);
      }
    }
    // x = x + o_proj(attn); post_attention_layernorm(x)
    project_add_norm(attn, w.wo, NH * HD, w.ffn_norm);
    // act = silu(gate) * up, [gate; up] = proj(post_attention_layernorm(x))
    if (fuse && gemm_->uses_gemv(h, w.w_gate_up, T, C)) {
      cuda::gemv_gate_up_silu(input_of(w.ffn_norm), w.w_gate_up, act, T, FF, C, stream_, opts_.fused_gemv_groups);
    } else {
      materialize(w.ffn_norm);
      gemm_->linear(h, w.w_gate_up, gate_up, false, T, 2 * FF, C, stream_);
      cuda::silu_mul(gate_up, act, T, FF, stream_);
    }
    pending_norm = false;
    // x = x + down_proj(act); the next layer's input_layernorm(x), or model.norm(x)
    project_add_norm(act, w.w_down, FF, last ? weights_->final_norm : weights_->layers[size_t(l) + 1].attn_norm);
  }
  materialize(weights_->final_norm);
  cuda::gather_rows(h, st.rows, buf_->hsel.as<cuda::bf16>(), st.R, C, stream_);
  gemm_->linear(buf_->hsel.as<cuda::bf16>(), weights_->lm_head, buf_->logits.get(), true, st.R,
                cfg_.vocab_size, C, stream_);                                 // lm_head, fp32
}

template <class Fn>
void CudaBackend::for_each_step(std::span<const ForwardChunk> chunks, Fn&& fn) {
  check_chunks(chunks);
  int done = 0;
  try {
    for (const std::vector<Piece>& pieces : plan_steps(chunks)) {
      const int rows = run_step(pieces);
      fn(done, rows);
      // Every step ends synchronised: the next one rewrites the pinned metadata buffer.
      check(cudaStreamSynchronize(stream_), "running a forward step");
      done += rows;
    }
  } catch (...) {
    kv_->clear_cache();   // blocks entered by a step that failed may never have been written
    throw;
  }
}

void CudaBackend::forward(std::span<const ForwardChunk> chunks, std::vector<float>& logits) {
  size_t rows = 0;
  for (const ForwardChunk& c : chunks) rows += c.tokens.size() - size_t(std::clamp(c.logits_from, 0, int(c.tokens.size())));
  const size_t V = size_t(cfg_.vocab_size);
  logits.resize(rows * V);
  for_each_step(chunks, [&](int done, int R) {
    if (R == 0) return;
    check(cudaMemcpyAsync(logits.data() + size_t(done) * V, buf_->logits.get(), size_t(R) * V * sizeof(float),
                          cudaMemcpyDeviceToHost, stream_),
          "copying logits to the host");
  });
}

void CudaBackend::forward_pick(std::span<const ForwardChunk> chunks, std::span<const TokenPick> picks,
                               std::vector<PickedToken>& out) {
  size_t rows = 0;
  for (const ForwardChunk& c : chunks) rows += c.tokens.size() - size_t(std::clamp(c.logits_from, 0, int(c.tokens.size())));
  if (picks.size() != rows) {
    throw InputError(fmt::format("cuda backend: {} picks for {} logits rows", picks.size(), rows));
  }
  out.resize(rows);
  auto* req = buf_->pick_req_host.as<cuda::PickRequest>();
  auto* res = buf_->pick_res_host.as<cuda::PickResult>();
  for_each_step(chunks, [&](int done, int R) {
    if (R == 0) return;
    for (int r = 0; r < R; ++r) {
      const TokenPick& p = picks[size_t(done + r)];
      req[r] = cuda::PickRequest{p.sampling.temperature, p.sampling.top_p, p.sampling.top_k, p.target, p.stream, p.step};
    }
    check(cudaMemcpyAsync(buf_->pick_req_dev.get(), req, size_t(R) * sizeof(cuda::PickRequest), cudaMemcpyHostToDevice,
                          stream_),
          "uploading sampling requests");
    cuda::pick_tokens(buf_->logits.as<float>(), buf_->pick_req_dev.as<cuda::PickRequest>(),
                      buf_->pick_res_dev.as<cuda::PickResult>(), R, cfg_.vocab_size, stream_);
    check(cudaMemcpyAsync(res, buf_->pick_res_dev.get(), size_t(R) * sizeof(cuda::PickResult), cudaMemcpyDeviceToHost,
                          stream_),
          "copying sampled tokens to the host");
    check(cudaStreamSynchronize(stream_), "picking tokens");
    for (int r = 0; r < R; ++r) {
      out[size_t(done + r)] = PickedToken{res[r].token, res[r].argmax, res[r].token_logprob, res[r].target_logprob};
    }
  });
}

// ---------------------------------------------------------------- entry point

namespace {
// ModelOptions -> CudaBackendOptions, for both factories below.
CudaBackendOptions cuda_options(const ModelOptions& options) {
  CudaBackendOptions o;
  o.max_step_seqs = std::max(o.max_step_seqs, options.max_batch);
  o.prefix_cache = options.prefix_cache;
  return o;
}
}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& cfg, const Weights& weights, const ModelOptions& options) {
  return std::make_unique<CudaBackend>(cfg, weights, cuda_options(options));
}

std::unique_ptr<Backend> make_synthetic_cuda_backend(const ModelConfig& cfg, uint64_t seed,
                                                     const ModelOptions& options) {
  return CudaBackend::synthetic(cfg, seed, cuda_options(options));
}

}  // namespace yardstick
