#include "engine/cuda/device_weights.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "engine/cuda/convert.h"
#include "engine/cuda/cuda_check.h"
#include "engine/error.h"
#include "engine/thread_pool.h"
#include "engine/weights.h"

namespace yardstick::cuda {

namespace {

constexpr size_t kAlign = 256;   // every tensor starts 256-byte aligned (cuBLASLt's best case)

size_t aligned(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

struct LayerSizes {
  size_t C, q, kv, FF;   // q = NH HD, kv = NKV HD (elements per row of the stacked matrices)
};

LayerSizes layer_sizes(const ModelConfig& cfg) {
  return {size_t(cfg.hidden_size), size_t(cfg.num_heads) * size_t(cfg.head_dim),
          size_t(cfg.num_kv_heads) * size_t(cfg.head_dim), size_t(cfg.intermediate_size)};
}

}  // namespace

size_t DeviceWeights::bytes_needed(const ModelConfig& cfg) {
  const LayerSizes s = layer_sizes(cfg);
  const size_t V = size_t(cfg.vocab_size);
  const size_t per_layer = aligned(s.C * 2) * 2                       // the two norms
                           + aligned((s.q + 2 * s.kv) * s.C * 2)       // wqkv
                           + aligned(s.C * s.q * 2)                    // wo
                           + aligned(2 * s.FF * s.C * 2)               // w_gate_up
                           + aligned(s.C * s.FF * 2);                  // w_down
  return aligned(V * s.C * 2) * (cfg.tie_word_embeddings ? 1 : 2) + aligned(s.C * 2) +
         per_layer * size_t(cfg.num_layers);
}

DeviceWeights DeviceWeights::allocate(const ModelConfig& cfg, std::vector<Piece>& pieces) {
  DeviceWeights w;
  w.arena_ = DeviceBuffer(bytes_needed(cfg), fmt::format("the bf16 weights ({} layers)", cfg.num_layers));
  const LayerSizes s = layer_sizes(cfg);
  const size_t V = size_t(cfg.vocab_size);
  auto* next = w.arena_.as<std::byte>();
  auto take = [&](size_t numel) {
    bf16* p = reinterpret_cast<bf16*>(next);
    next += aligned(numel * sizeof(bf16));
    return p;
  };
  auto add = [&](bf16* dst, size_t numel, const char* name, int layer, Piece::Kind kind) {
    pieces.push_back(Piece{dst, numel, name, layer, kind});
  };

  bf16* embed = take(V * s.C);
  add(embed, V * s.C, "model.embed_tokens.weight", -1, Piece::Embedding);
  w.embed = embed;
  for (int l = 0; l < cfg.num_layers; ++l) {
    LayerWeights lw;
    bf16* attn_norm = take(s.C);
    add(attn_norm, s.C, "model.layers.{}.input_layernorm.weight", l, Piece::Norm);
    bf16* wqkv = take((s.q + 2 * s.kv) * s.C);
    add(wqkv, s.q * s.C, "model.layers.{}.self_attn.q_proj.weight", l, Piece::Projection);
    add(wqkv + s.q * s.C, s.kv * s.C, "model.layers.{}.self_attn.k_proj.weight", l, Piece::Projection);
    add(wqkv + (s.q + s.kv) * s.C, s.kv * s.C, "model.layers.{}.self_attn.v_proj.weight", l,
        Piece::Projection);
    bf16* wo = take(s.C * s.q);
    add(wo, s.C * s.q, "model.layers.{}.self_attn.o_proj.weight", l, Piece::Projection);
    bf16* ffn_norm = take(s.C);
    add(ffn_norm, s.C, "model.layers.{}.post_attention_layernorm.weight", l, Piece::Norm);
    bf16* gate_up = take(2 * s.FF * s.C);
    add(gate_up, s.FF * s.C, "model.layers.{}.mlp.gate_proj.weight", l, Piece::Projection);
    add(gate_up + s.FF * s.C, s.FF * s.C, "model.layers.{}.mlp.up_proj.weight", l, Piece::Projection);
    bf16* down = take(s.C * s.FF);
    add(down, s.C * s.FF, "model.layers.{}.mlp.down_proj.weight", l, Piece::Projection);
    lw.attn_norm = attn_norm;
    lw.wqkv = wqkv;
    lw.wo = wo;
    lw.ffn_norm = ffn_norm;
    lw.w_gate_up = gate_up;
    lw.w_down = down;
    w.layers.push_back(lw);
  }
  bf16* final_norm = take(s.C);
  add(final_norm, s.C, "model.norm.weight", -1, Piece::Norm);
  w.final_norm = final_norm;
  if (cfg.tie_word_embeddings) {
    w.lm_head = embed;
  } else {
    bf16* lm_head = take(V * s.C);
    add(lm_head, V * s.C, "lm_head.weight", -1, Piece::Projection);
    w.lm_head = lm_head;
  }
  return w;
}

namespace {

// Copies the checkpoint's tensors (memory-mapped, pageable host memory) to the device through
// pinned slots: the pool's threads fill one slot from the page cache while the copy engine drains
// the others, so the upload runs at the page cache's and the link's rate rather than at that of
// the driver staging pageable memory on one thread (~7 GB/s: 2 s for a 7B). f32 / f16 tensors are
// converted on the device from a device staging slot. Without pinned memory it copies from the
// pageable bytes directly, as before.
class Uploader {
 public:
  explicit Uploader(cudaStream_t stream)
      : stream_(stream), pool_(int(std::clamp(std::thread::hardware_concurrency(), 1u, 8u))) {
    for (Slot& s : slots_) {
      if (cudaHostAlloc(&s.host, kSlotBytes, cudaHostAllocDefault) != cudaSuccess) {
        (void)cudaGetLastError();   // clear it: pageable copies below
        release();
        break;
      }
      check(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming), "creating an upload event");
    }
  }
  ~Uploader() {
    (void)cudaStreamSynchronize(stream_);
    release();
  }
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  void copy(const std::byte* src, DType dtype, bf16* dst, size_t numel, const std::string& name) {
    const size_t esize = dtype_size(dtype);
    const size_t slice = kSlotBytes / esize;
    for (size_t at = 0; at < numel; at += slice) {
      const size_t n = std::min(slice, numel - at);
      const std::byte* from = src + at * esize;
      Slot& s = slots_[next_++ % kSlots];
      if (s.host) {
        check(cudaEventSynchronize(s.done), "uploading " + name);   // the slot's last copy is done
        pool_.parallel_for(
            int64_t(n * esize),
            [&](int64_t b, int64_t e) { std::memcpy(s.host + b, from + b, size_t(e - b)); },
            int64_t(4) << 20);
        from = s.host;
      }
      if (dtype == DType::BF16) {
        check(cudaMemcpyAsync(dst + at, from, n * esize, cudaMemcpyHostToDevice, stream_),
              "copying " + name + " to the device");
      } else {
        if (s.staging.size() == 0) s.staging = DeviceBuffer(kSlotBytes, "staging the checkpoint's tensors");
        check(cudaMemcpyAsync(s.staging.get(), from, n * esize, cudaMemcpyHostToDevice, stream_),
              "copying " + name + " to the device");
        convert_to_bf16(s.staging.get(), dtype, dst + at, n, stream_);
      }
      if (s.host) {
        check(cudaEventRecord(s.done, stream_), "uploading " + name);
      } else if (dtype != DType::BF16) {
        check(cudaStreamSynchronize(stream_), "converting " + name + " to bf16");   // staging is reused
      }
    }
  }

 private:
  static constexpr size_t kSlots = 4;
  static constexpr size_t kSlotBytes = size_t(64) << 20;
  struct Slot {
    std::byte* host = nullptr;   // pinned
    cudaEvent_t done = nullptr;  // recorded after the slot's last use on the stream
    DeviceBuffer staging;        // for tensors converted on the device
  };

  void release() {
    for (Slot& s : slots_) {
      if (s.host) (void)cudaFreeHost(std::exchange(s.host, nullptr));
      if (s.done) (void)cudaEventDestroy(std::exchange(s.done, nullptr));
    }
  }

  cudaStream_t stream_;
  ThreadPool pool_;
  Slot slots_[kSlots];
  size_t next_ = 0;
};

}  // namespace

DeviceWeights DeviceWeights::upload(const ModelConfig& cfg, const Weights& weights, cudaStream_t stream) {
  std::vector<Piece> pieces;
  DeviceWeights w = allocate(cfg, pieces);
  Uploader uploader(stream);
  for (const Piece& p : pieces) {
    const std::string name = p.layer < 0 ? std::string(p.hf_name) : fmt::format(fmt::runtime(p.hf_name), p.layer);
    const TensorView& t = weights.get(name);
    if (size_t(t.numel()) != p.numel) {
      throw ModelFileError(fmt::format("{}: has {} elements, the config needs {}", name, t.numel(), p.numel));
    }
    uploader.copy(t.data, t.dtype, p.dst, p.numel, name);
  }
  check(cudaStreamSynchronize(stream), "uploading the weights");
  return w;
}

DeviceWeights DeviceWeights::random(const ModelConfig& cfg, uint64_t seed, cudaStream_t stream) {
  std::vector<Piece> pieces;
  DeviceWeights w = allocate(cfg, pieces);
  constexpr float kSqrt3 = 1.7320508f;   // a uniform in [-a, a) has std a / sqrt(3)
  uint64_t index = 0;
  for (const Piece& p : pieces) {
    const uint64_t tensor_seed = seed * 0x100000001b3ull + index++;
    switch (p.kind) {
      case Piece::Norm: fill_random_bf16(p.dst, p.numel, tensor_seed, 1.0f, 0.1f, stream); break;
      case Piece::Projection: fill_random_bf16(p.dst, p.numel, tensor_seed, 0.0f, 0.02f * kSqrt3, stream); break;
      case Piece::Embedding: fill_random_bf16(p.dst, p.numel, tensor_seed, 0.0f, kSqrt3, stream); break;
    }
  }
  check(cudaStreamSynchronize(stream), "filling random weights");
  return w;
}

}  // namespace yardstick::cuda
