#include "engine/cpu_backend.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "engine/cpu_ops.h"
#include "engine/error.h"
#include "engine/thread_pool.h"

namespace yardstick {

CpuBackend::F32Tensor CpuBackend::load_f32(const std::string& name,
                                           std::vector<int64_t> shape) const {
  const TensorView& t = weights_.get(name);
  if (t.shape != shape)
    throw ModelFileError(fmt::format("{}: shape [{}], the config needs [{}]", name,
                                     fmt::join(t.shape, ", "), fmt::join(shape, ", ")));
  F32Tensor out;
  if (t.dtype == DType::F32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0) {
    out.data = reinterpret_cast<const float*>(t.data);
  } else {
    out.owned.resize(size_t(t.numel()));
    t.to_f32(out.owned.data());
    out.data = out.owned.data();
  }
  return out;
}

CpuBackend::CpuBackend(const ModelConfig& cfg, Weights weights, CpuBackendOptions options)
    : cfg_(cfg), weights_(std::move(weights)) {
  if (cfg.num_heads <= 0 || cfg.num_kv_heads <= 0 || cfg.num_heads % cfg.num_kv_heads != 0 ||
      cfg.head_dim <= 0 || cfg.head_dim % 2 != 0)
    throw ModelFileError(
        fmt::format("cpu backend: unsupported attention shape (heads {}, kv heads {}, head_dim {})",
                    cfg.num_heads, cfg.num_kv_heads, cfg.head_dim));
  max_len_ = cfg.max_position_embeddings;
  if (options.max_sequence_length > 0) max_len_ = std::min(max_len_, options.max_sequence_length);
  pool_ = std::make_unique<ThreadPool>(options.threads);

  const int64_t C = cfg.hidden_size, V = cfg.vocab_size, FF = cfg.intermediate_size;
  const int64_t q_dim = int64_t(cfg.num_heads) * cfg.head_dim;
  const int64_t kv_dim = int64_t(cfg.num_kv_heads) * cfg.head_dim;
  embed_ = load_f32("model.embed_tokens.weight", {V, C});
  layers_.resize(size_t(cfg.num_layers));
  for (int l = 0; l < cfg.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    LayerWeights& w = layers_[size_t(l)];
    w.attn_norm = load_f32(p + "input_layernorm.weight", {C});
    w.wq = load_f32(p + "self_attn.q_proj.weight", {q_dim, C});
    w.wk = load_f32(p + "self_attn.k_proj.weight", {kv_dim, C});
    w.wv = load_f32(p + "self_attn.v_proj.weight", {kv_dim, C});
    w.wo = load_f32(p + "self_attn.o_proj.weight", {C, q_dim});
    w.ffn_norm = load_f32(p + "post_attention_layernorm.weight", {C});
    w.w_gate = load_f32(p + "mlp.gate_proj.weight", {FF, C});
    w.w_up = load_f32(p + "mlp.up_proj.weight", {FF, C});
    w.w_down = load_f32(p + "mlp.down_proj.weight", {C, FF});
  }
  final_norm_ = load_f32("model.norm.weight", {C});
  // Tied checkpoints may still carry an lm_head.weight (a copy of the embedding); HF ignores it.
  if (cfg.tie_word_embeddings) {
    lm_head_data_ = embed_.data;
  } else {
    lm_head_ = load_f32("lm_head.weight", {V, C});
    lm_head_data_ = lm_head_.data;
  }
  inv_freq_ = cpu::rope_inv_freq(cfg.head_dim, cfg.rope_theta);

  const int64_t block_bytes = int64_t(2) * cfg.num_layers * std::max(1, options.prefix_block_size) *
                              cfg.num_kv_heads * cfg.head_dim * int64_t(sizeof(float));
  const int64_t slots = options.prefix_cache_bytes / block_bytes;
  if (options.prefix_cache && options.prefix_block_size >= 1 && slots > 0) {
    prefix_index_ = std::make_unique<PrefixIndex>(options.prefix_block_size, slots);
    cached_.resize(size_t(slots));
    for (int64_t b = slots - 1; b >= 0; --b) free_slots_.push_back(int32_t(b));
  }
}

CpuBackend::~CpuBackend() = default;

// ---------------------------------------------------------------- sequences

SeqId CpuBackend::open_sequence() {
  Sequence s;
  s.k.resize(size_t(cfg_.num_layers));
  s.v.resize(size_t(cfg_.num_layers));
  const SeqId id = next_id_++;
  seqs_.emplace(id, std::move(s));
  return id;
}

void CpuBackend::close_sequence(SeqId seq) {
  if (seqs_.erase(seq) == 0) throw InputError(fmt::format("cpu backend: no sequence {}", seq));
}

CpuBackend::Sequence& CpuBackend::sequence(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw InputError(fmt::format("cpu backend: no sequence {}", seq));
  return it->second;
}

const CpuBackend::Sequence& CpuBackend::sequence(SeqId seq) const {
  return const_cast<CpuBackend*>(this)->sequence(seq);
}

int CpuBackend::sequence_length(SeqId seq) const { return sequence(seq).length; }

void CpuBackend::truncate(SeqId seq, int n) {
  Sequence& s = sequence(seq);
  if (n < 0 || n > s.length)
    throw InputError(fmt::format("cpu backend: can't truncate sequence {} of {} tokens to {}", seq,
                                 s.length, n));
  const size_t kv_dim = size_t(cfg_.num_kv_heads) * size_t(cfg_.head_dim);
  for (auto& k : s.k) k.resize(size_t(n) * kv_dim);
  for (auto& v : s.v) v.resize(size_t(n) * kv_dim);
  s.length = n;
  s.tokens.resize(size_t(n));
  if (prefix_index_) s.serials.resize(size_t(n / prefix_index_->block_size()));
}

SeqId CpuBackend::fork_sequence(SeqId seq) {
  Sequence copy = sequence(seq);
  const SeqId id = next_id_++;
  seqs_.emplace(id, std::move(copy));
  return id;
}

// ---------------------------------------------------------------- forward

void CpuBackend::check_chunks(std::span<const ForwardChunk> chunks) const {
  std::set<SeqId> seen;
  for (const ForwardChunk& c : chunks) {
    const Sequence& s = sequence(c.seq);
    if (!seen.insert(c.seq).second)
      throw InputError(fmt::format("cpu backend: sequence {} appears twice in one forward", c.seq));
    const int64_t n = int64_t(c.tokens.size());
    if (s.length + n > max_len_)
      throw InputError(
          fmt::format("cpu backend: sequence {} would hold {} tokens, more than the {} it may hold",
                      c.seq, s.length + n, max_len_));
    if (c.logits_from < 0 || c.logits_from > n)
      throw InputError(fmt::format("cpu backend: logits_from {} outside a chunk of {} tokens",
                                   c.logits_from, n));
    for (int32_t id : c.tokens)
      if (id < 0 || id >= cfg_.vocab_size)
        throw InputError(fmt::format("cpu backend: token id {} outside the vocabulary of {}", id,
                                     cfg_.vocab_size));
  }
}

// Causal self-attention for every row and query head; query head h reads KV head
// h / (NH / NKV) (repeat_kv). The rows' K/V are already in their sequences' caches.
void CpuBackend::attention(float* out, const float* q, int layer, std::span<const RowInfo> rows) {
  const int NH = cfg_.num_heads, HD = cfg_.head_dim;
  const int group = NH / cfg_.num_kv_heads;
  const int kv_dim = cfg_.num_kv_heads * HD;
  int max_pos = 0;
  for (const RowInfo& r : rows) max_pos = std::max(max_pos, int(r.pos));
  const int64_t items = int64_t(rows.size()) * NH;   // one (row, head) pair each
  // Each item is ~2 * S * HD multiply-adds; aim for ~64K per thread, as cpu::matmul does.
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / (int64_t(max_pos + 1) * HD));
  pool_->parallel_for(items, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(size_t(max_pos) + 1);   // [S]
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r = i / NH;
      const int h = int(i % NH);
      const RowInfo& row = rows[size_t(r)];
      const int kvh = h / group;
      const float* k = row.seq->k[size_t(layer)].data() + int64_t(kvh) * HD;
      const float* v = row.seq->v[size_t(layer)].data() + int64_t(kvh) * HD;
      cpu::attention_head(out + (r * NH + h) * HD, q + (r * NH + h) * HD, k, v, row.pos + 1, HD,
                          kv_dim, scores.data());
    }
  }, grain);
}

void CpuBackend::forward(std::span<const ForwardChunk> chunks, std::vector<float>& logits) {
  check_chunks(chunks);
  const int C = cfg_.hidden_size, V = cfg_.vocab_size, FF = cfg_.intermediate_size;
  const int NH = cfg_.num_heads, NKV = cfg_.num_kv_heads, HD = cfg_.head_dim;
  const int q_dim = NH * HD, kv_dim = NKV * HD;
  const float eps = float(cfg_.rms_norm_eps);

  // Flatten the chunks into T token rows, and note the rows whose logits are wanted.
  std::vector<int32_t> tokens;      // [T]
  std::vector<int32_t> positions;   // [T]
  std::vector<RowInfo> rows;        // [T]
  std::vector<int64_t> out_rows;    // [R] rows that get logits, in output order
  for (const ForwardChunk& c : chunks) {
    Sequence& s = sequence(c.seq);
    for (size_t i = 0; i < c.tokens.size(); ++i) {
      if (int(i) >= c.logits_from) out_rows.push_back(int64_t(tokens.size()));
      tokens.push_back(c.tokens[i]);
      positions.push_back(s.length + int32_t(i));
      rows.push_back({&s, s.length + int32_t(i)});
    }
  }
  const int T = int(tokens.size());
  logits.assign(out_rows.size() * size_t(V), 0.0f);
  if (T == 0) return;

  std::vector<float> x(size_t(T) * C);         // [T, C] the residual stream
  std::vector<float> xb(size_t(T) * C);        // [T, C] normed input of a block
  std::vector<float> q(size_t(T) * q_dim);     // [T, NH, HD]
  std::vector<float> k(size_t(T) * kv_dim);    // [T, NKV, HD]
  std::vector<float> v(size_t(T) * kv_dim);    // [T, NKV, HD]
  std::vector<float> att(size_t(T) * q_dim);   // [T, NH, HD] attention output
  std::vector<float> proj(size_t(T) * C);      // [T, C] a block's output before the residual add
  std::vector<float> gate(size_t(T) * FF);     // [T, FF]
  std::vector<float> up(size_t(T) * FF);       // [T, FF]

  // Grow every sequence's cache for its new tokens first: attention reads them back.
  for (const ForwardChunk& c : chunks) {
    Sequence& s = sequence(c.seq);
    const size_t len = size_t(s.length) + c.tokens.size();
    for (int l = 0; l < cfg_.num_layers; ++l) {
      s.k[size_t(l)].resize(len * size_t(kv_dim));
      s.v[size_t(l)].resize(len * size_t(kv_dim));
    }
  }

  // x = self.embed_tokens(input_ids)
  for (int t = 0; t < T; ++t)
    std::copy_n(embed_.data + int64_t(tokens[size_t(t)]) * C, C, x.data() + int64_t(t) * C);

  for (int l = 0; l < cfg_.num_layers; ++l) {
    const LayerWeights& w = layers_[size_t(l)];
    // xb = self.input_layernorm(x)
    cpu::rmsnorm(xb.data(), x.data(), w.attn_norm.data, T, C, eps);
    // q, k, v = self.q_proj(xb), self.k_proj(xb), self.v_proj(xb)
    cpu::matmul(q.data(), xb.data(), w.wq.data, T, C, q_dim, *pool_);
    cpu::matmul(k.data(), xb.data(), w.wk.data, T, C, kv_dim, *pool_);
    cpu::matmul(v.data(), xb.data(), w.wv.data, T, C, kv_dim, *pool_);
    // q, k = apply_rotary_pos_emb(q, k, cos, sin)
    cpu::rope(q.data(), positions.data(), inv_freq_.data(), T, NH, HD);
    cpu::rope(k.data(), positions.data(), inv_freq_.data(), T, NKV, HD);
    // past_key_value.update(k, v): row t goes to its sequence at its position
    for (int t = 0; t < T; ++t) {
      const RowInfo& r = rows[size_t(t)];
      std::copy_n(k.data() + int64_t(t) * kv_dim, kv_dim,
                  r.seq->k[size_t(l)].data() + int64_t(r.pos) * kv_dim);
      std::copy_n(v.data() + int64_t(t) * kv_dim, kv_dim,
                  r.seq->v[size_t(l)].data() + int64_t(r.pos) * kv_dim);
    }
    // att = softmax(q @ repeat_kv(k).T / sqrt(HD) + causal_mask) @ repeat_kv(v)
    attention(att.data(), q.data(), l, rows);
    // x = x + self.o_proj(att)
    cpu::matmul(proj.data(), att.data(), w.wo.data, T, q_dim, C, *pool_);
    for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
    // xb = self.post_attention_layernorm(x)
    cpu::rmsnorm(xb.data(), x.data(), w.ffn_norm.data, T, C, eps);
    // x = x + self.down_proj(act_fn(self.gate_proj(xb)) * self.up_proj(xb))
    cpu::matmul(gate.data(), xb.data(), w.w_gate.data, T, C, FF, *pool_);
    cpu::matmul(up.data(), xb.data(), w.w_up.data, T, C, FF, *pool_);
    cpu::silu_mul(gate.data(), up.data(), int64_t(T) * FF);
    cpu::matmul(proj.data(), gate.data(), w.w_down.data, T, FF, C, *pool_);
    for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
  }

  // logits = self.lm_head(self.norm(x)), only at the rows asked for.
  const int R = int(out_rows.size());
  std::vector<float> xr(size_t(R) * C);   // [R, C]
  for (int r = 0; r < R; ++r)
    std::copy_n(x.data() + out_rows[size_t(r)] * C, C, xr.data() + int64_t(r) * C);
  cpu::rmsnorm(xr.data(), xr.data(), final_norm_.data, R, C, eps);
  cpu::matmul(logits.data(), xr.data(), lm_head_data_, R, C, V, *pool_);

  for (const ForwardChunk& c : chunks) {
    Sequence& s = sequence(c.seq);
    s.length += int(c.tokens.size());
    s.tokens.insert(s.tokens.end(), c.tokens.begin(), c.tokens.end());
    if (prefix_index_) cache_full_blocks(s);
  }
}

// ---------------------------------------------------------------- prefix cache

void CpuBackend::cache_full_blocks(Sequence& s) {
  const size_t bs = size_t(prefix_index_->block_size());
  const size_t kv_dim = size_t(cfg_.num_kv_heads) * size_t(cfg_.head_dim);
  for (size_t b = s.serials.size(); (b + 1) * bs <= s.tokens.size(); ++b) {
    const uint64_t parent = b == 0 ? PrefixIndex::kRoot : s.serials[b - 1];
    if (parent == PrefixIndex::kUncached) {
      s.serials.push_back(PrefixIndex::kUncached);
      continue;
    }
    const std::span<const int32_t> tokens = std::span<const int32_t>(s.tokens).subspan(b * bs, bs);
    if (auto m = prefix_index_->find(parent, tokens)) {   // cached already (same tokens, same KV)
      s.serials.push_back(m->serial);
      continue;
    }
    int32_t slot = -1;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else if (auto evicted = prefix_index_->evict()) {
      slot = *evicted;
      ++prefix_stats_.evictions;
    }
    if (slot < 0) {   // no room at all: the chain is not cached past here
      s.serials.push_back(PrefixIndex::kUncached);
      continue;
    }
    CachedBlock& cb = cached_[size_t(slot)];
    cb.k.resize(size_t(cfg_.num_layers) * bs * kv_dim);
    cb.v.resize(cb.k.size());
    for (int l = 0; l < cfg_.num_layers; ++l) {
      std::copy_n(s.k[size_t(l)].data() + b * bs * kv_dim, bs * kv_dim, cb.k.data() + size_t(l) * bs * kv_dim);
      std::copy_n(s.v[size_t(l)].data() + b * bs * kv_dim, bs * kv_dim, cb.v.data() + size_t(l) * bs * kv_dim);
    }
    s.serials.push_back(prefix_index_->insert(parent, tokens, slot));
    prefix_index_->release(slot);   // no sequence holds a copy's slot: evictable at once
  }
}

int CpuBackend::attach_cached_prefix(SeqId seq, std::span<const int32_t> tokens) {
  Sequence& s = sequence(seq);
  if (s.length != 0)
    throw InputError(fmt::format("cpu backend: a cached prefix can only start sequence {}, which holds {} tokens",
                                 seq, s.length));
  ++prefix_stats_.lookups;
  if (!prefix_index_) return 0;
  const size_t bs = size_t(prefix_index_->block_size());
  const size_t kv_dim = size_t(cfg_.num_kv_heads) * size_t(cfg_.head_dim);
  uint64_t parent = PrefixIndex::kRoot;
  std::vector<int32_t> slots;
  for (size_t at = 0; at + bs <= tokens.size() && at + bs <= size_t(max_len_); at += bs) {
    const auto m = prefix_index_->find(parent, tokens.subspan(at, bs));
    if (!m) break;
    slots.push_back(m->block);
    s.serials.push_back(m->serial);
    parent = m->serial;
  }
  const size_t n = slots.size() * bs;
  for (int l = 0; l < cfg_.num_layers; ++l) {
    s.k[size_t(l)].resize(n * kv_dim);
    s.v[size_t(l)].resize(n * kv_dim);
    for (size_t i = 0; i < slots.size(); ++i) {
      const CachedBlock& cb = cached_[size_t(slots[i])];
      std::copy_n(cb.k.data() + size_t(l) * bs * kv_dim, bs * kv_dim, s.k[size_t(l)].data() + i * bs * kv_dim);
      std::copy_n(cb.v.data() + size_t(l) * bs * kv_dim, bs * kv_dim, s.v[size_t(l)].data() + i * bs * kv_dim);
    }
  }
  for (int32_t slot : slots) {   // most recently used now
    prefix_index_->acquire(slot);
    prefix_index_->release(slot);
  }
  s.tokens.assign(tokens.begin(), tokens.begin() + ptrdiff_t(n));
  s.length = int(n);
  prefix_stats_.blocks_reused += int64_t(slots.size());
  prefix_stats_.tokens_reused += int64_t(n);
  return s.length;
}

CachedPrefix CpuBackend::find_cached_prefix(std::span<const int32_t> tokens) const {
  CachedPrefix found;   // copies take no KV blocks: blocks_from_free stays 0
  if (!prefix_index_) return found;
  const size_t bs = size_t(prefix_index_->block_size());
  uint64_t parent = PrefixIndex::kRoot;
  for (size_t at = 0; at + bs <= tokens.size() && at + bs <= size_t(max_len_); at += bs) {
    const auto m = prefix_index_->find(parent, tokens.subspan(at, bs));
    if (!m) break;
    found.tokens += int(bs);
    parent = m->serial;
  }
  return found;
}

PrefixCacheStats CpuBackend::prefix_cache_stats() const {
  PrefixCacheStats st = prefix_stats_;
  if (prefix_index_) st.blocks_cached = prefix_index_->entries();
  return st;
}

}  // namespace yardstick
