// Attention for decode steps: one new token per sequence, so each block is one (query head,
// sequence) pair, or one contiguous range of its keys when the step has too few pairs to fill
// the GPU (attention.h, DecodeSplit). A block's warps split its keys and merge their partial
// softmaxes at the end; split blocks then merge across blocks. Memory-bound: every key and value
// of the sequence is read once. After attention_shared_prefix (attention_shared_prefix.cu) a
// sequence's keys start past the blocks its group read together, and the merge takes the
// group's partials first.
#include "engine/cuda/attention.h"

#include <algorithm>
#include <string>
#include <type_traits>

#include "engine/cuda/attention_common.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/reduce.cuh"
#include "engine/error.h"

namespace yardstick::cuda {

namespace {

constexpr int kWarps = 8;
constexpr int kTile = 32;   // keys a warp scores at once: one per lane

}  // namespace

// ---------------------------------------------------------------- kernels

// kDpl bf16 values as they come from memory, converted only once they are needed.
template <int N>
using RawBf16 = std::conditional_t<N == 1, uint16_t, std::conditional_t<N == 2, uint32_t, uint2>>;

// Lane's dims of the value rows of keys kt0 + j0 .. kt0 + j0 + kRows - 1 of a warp's tile
// (rows past key_end stand on the last key: a valid address, weighed 0). `block` is the lane's
// key's block id: lane j holds that of key kt0 + j.
template <int HD, int kRows>
__device__ inline void load_value_rows(const KvLayerView& kv, int block, int j0, int kt0, int key_end, int kvh,
                                       int lane, RawBf16<kDimsPerLane<HD>>* raw) {
  constexpr int kDpl = kDimsPerLane<HD>;
  const int NKV = kv.num_kv_heads, BS = kv.block_size;
#pragma unroll
  for (int j = 0; j < kRows; ++j) {
    const int jkey = min(kt0 + j0 + j, key_end - 1);
    const int jblock = __shfl_sync(0xffffffffu, block, j0 + j);
    raw[j] = {};
    if (lane_owns_dims<HD>(lane)) {
      const bf16* vrow = kv.v + ((size_t(jblock) * NKV + kvh) * BS + size_t(jkey % BS)) * HD;
      raw[j] = *reinterpret_cast<const RawBf16<kDpl>*>(vrow + lane * kDpl);
    }
  }
}

// acc += p_j v_j over those rows; p is the lane's key's weight (lane j: key kt0 + j).
template <int HD, int kRows>
__device__ inline void accumulate_value_rows(const RawBf16<kDimsPerLane<HD>>* raw, float p, int j0, int lane,
                                             float* acc) {
  constexpr int kDpl = kDimsPerLane<HD>;
#pragma unroll
  for (int j = 0; j < kRows; ++j) {
    const float pj = __shfl_sync(0xffffffffu, p, j0 + j);
    float vf[kDpl];
    load_bf16<kDpl>(reinterpret_cast<const bf16*>(&raw[j]), vf);
#pragma unroll
    for (int i = 0; i < kDpl; ++i) acc[i] += pj * vf[i];
  }
}

// One softmax partial as the merges read it: max and sum (base 2) over its keys and, for the
// thread's dim, the unnormalised output.
struct SoftmaxPartial {
  float m, l, o;
};

// The log-sum-exp merge of n partials, in index order whichever block runs it: the same sums
// every run. max_of(i) is partial i's max, part(i) all of it; returns the normalised output.
template <class MaxOf, class Part>
__device__ inline float merge_partials(int n, MaxOf max_of, Part part) {
  float M = -INFINITY;
  for (int i = 0; i < n; ++i) M = fmaxf(M, max_of(i));
  float L = 0.f, o = 0.f;
  for (int i = 0; i < n; ++i) {
    const SoftmaxPartial p = part(i);
    const float f = exp2f(p.m - M);   // every partial had keys: its max is finite
    L += p.l * f;
    o += p.o * f;
  }
  return o / L;
}

// Block (h, b, z): split z of (query head h, sequence b). Warp w takes key tiles w, w + kWarps,
// ... of 32 keys of the split's range: lane j scores key j (its whole row, 16 bytes at a time),
// then every lane accumulates its own output dims over the tile. At decode sizes the kernel is a
// chain of dependent memory round trips, so it is written to have few: a tile's keys, its first
// 16 value rows and the next tile's block ids are one round trip, the other 16 value rows a
// second, whatever the block size. Those loads in flight take registers; the bound of two blocks
// per SM (<= 128 registers at HD 128) keeps a split grid of ~2 blocks per SM in one wave.
template <int HD>
__global__ void __launch_bounds__(kWarps * 32, 2)
    attention_decode_kernel(const bf16* __restrict__ qkv, bf16* __restrict__ out,
                            AttentionShape shape, KvLayerView kv, BatchView batch, DecodeSplit split,
                            SharedPrefixView prefix) {
  pdl_launch_dependents();
  pdl_wait();   // everything below reads what earlier kernels wrote
  constexpr int kDpl = kDimsPerLane<HD>;
  constexpr int kBatch = 16;   // value rows loaded before the first multiply-add
  static_assert(kTile == 2 * kBatch, "a tile's value rows come in two batches");
  __shared__ __align__(16) float q_s[HD];
  __shared__ float m_s[kWarps], l_s[kWarps];
  __shared__ float acc_s[kWarps][HD];
  __shared__ bool merger_s;

  const int h = blockIdx.x, b = blockIdx.y, z = blockIdx.z;
  const int NH = shape.num_heads, NKV = kv.num_kv_heads, BS = kv.block_size;
  const int kv_len = batch.kv_len[b], row = batch.q_start[b];

  // Keys below key_first were attended by attention_shared_prefix, which left shared_parts
  // partials per head; at least the key being written this step remains (never shared).
  const int key_first = prefix.skip_blocks ? prefix.skip_blocks[b] * BS : 0;
  const int shared_parts = prefix.num_partials ? prefix.num_partials[b] : 0;

  // This sequence's splits, from its length alone (the grid is the same at every length): as
  // many as give each at least min_keys, then tiles shared evenly, then the splits that got any.
  const int tiles = (kv_len - key_first + kTile - 1) / kTile;
  const int min_tiles = max(1, (split.min_keys + kTile - 1) / kTile);
  const int want = max(1, min(int(gridDim.z), tiles / min_tiles));
  const int tiles_per_split = (tiles + want - 1) / want;
  const int used = (tiles + tiles_per_split - 1) / tiles_per_split;
  if (z >= used) return;
  const int key_begin = key_first + z * tiles_per_split * kTile;
  const int key_end = min(kv_len, key_begin + tiles_per_split * kTile);

  const int kvh = h / (NH / NKV);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const size_t qkv_stride = size_t(NH + 2 * NKV) * HD;
  const int32_t* table = kv.block_tables + size_t(b) * kv.max_blocks;

  for (int d = threadIdx.x; d < HD; d += blockDim.x)
    q_s[d] = __bfloat162float(qkv[size_t(row) * qkv_stride + size_t(h) * HD + d]) * shape.scale * kLog2e;
  // Past the end a lane stands on the last key (a valid address) and weighs it 0.
  int key = min(key_begin + warp * kTile + lane, key_end - 1);
  int block = table[key / BS];   // issued before the barrier: overlaps the q load
  __syncthreads();

  float m = -INFINITY, l = 0.f, acc[kDpl];
#pragma unroll
  for (int i = 0; i < kDpl; ++i) acc[i] = 0.f;

  for (int kt0 = key_begin + warp * kTile; kt0 < key_end; kt0 += kWarps * kTile) {
    const bool valid = kt0 + lane < key_end;
    const int tile_keys = min(kTile, key_end - kt0);
    const size_t head_base = (size_t(block) * NKV + kvh) * BS;   // row of (block, kv head, slot 0)
    const bf16* krow = kv.k + (head_base + size_t(key % BS)) * HD;
    uint4 kraw[HD / 8];
#pragma unroll
    for (int i = 0; i < HD / 8; ++i) kraw[i] = reinterpret_cast<const uint4*>(krow)[i];
    // The first value rows and the next tile's block ids don't depend on the scores: they go
    // out with the keys, so a tile waits on one round trip, two when it has more than kBatch keys.
    RawBf16<kDpl> vraw[kBatch];
    load_value_rows<HD, kBatch>(kv, block, 0, kt0, key_end, kvh, lane, vraw);
    int next_block = block;
    if (kt0 + kWarps * kTile < key_end) {
      key = min(kt0 + kWarps * kTile + lane, key_end - 1);
      next_block = table[key / BS];
    }
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < HD / 8; ++i) {
      float kf[8];
      load_bf16<8>(reinterpret_cast<const bf16*>(&kraw[i]), kf);
      const float4 qa = *reinterpret_cast<const float4*>(&q_s[8 * i]);
      const float4 qb = *reinterpret_cast<const float4*>(&q_s[8 * i + 4]);
      dot += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] + qb.y * kf[5] +
             qb.z * kf[6] + qb.w * kf[7];
    }
    const float s = valid ? dot : -INFINITY;
    const float m_new = fmaxf(m, warp_max(s));   // finite: key kt0 exists
    const float alpha = exp2f(m - m_new);
    const float p = valid ? exp2f(s - m_new) : 0.f;
    l = l * alpha + warp_sum(p);
    m = m_new;
#pragma unroll
    for (int i = 0; i < kDpl; ++i) acc[i] *= alpha;

    // Every lane needs the value rows of all 32 keys (their weights travel by shuffle).
    accumulate_value_rows<HD, kBatch>(vraw, p, 0, lane, acc);
    if (tile_keys > kBatch) {
      load_value_rows<HD, kBatch>(kv, block, kBatch, kt0, key_end, kvh, lane, vraw);
      accumulate_value_rows<HD, kBatch>(vraw, p, kBatch, lane, acc);
    }
    block = next_block;
  }

  if (lane == 0) {
    m_s[warp] = m;
    l_s[warp] = l;
  }
  if (lane_owns_dims<HD>(lane)) {
#pragma unroll
    for (int i = 0; i < kDpl; ++i) acc_s[warp][lane * kDpl + i] = acc[i];
  }
  __syncthreads();
  // The block's softmax over its keys: max M, sum L, unnormalised output o (thread d owns dim d).
  float M = -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) M = fmaxf(M, m_s[w]);   // finite: warp 0 had keys
  float L = 0.f, o = 0.f;
  const int d = threadIdx.x;   // HD <= blockDim.x
  for (int w = 0; w < kWarps; ++w) {
    if (m_s[w] == -INFINITY) continue;   // this warp had no keys
    const float f = exp2f(m_s[w] - M);
    L += l_s[w] * f;
    if (d < HD) o += acc_s[w][d] * f;
  }
  bf16* out_row = out + size_t(row) * NH * HD + size_t(h) * HD;
  const size_t pair = size_t(b) * NH + h;
  // The shared pass's partials of this pair, in chunk order; written by the previous kernel
  // (pdl_wait above), read through L2 like the split partials below.
  const float* shared = shared_parts ? prefix.partials + pair * kMaxSharedPrefixChunks * (HD + 2) : nullptr;
  auto shared_max = [&](int i) { return __ldcg(shared + size_t(i) * (HD + 2)); };
  auto shared_part = [&](int i) {
    const float* p = shared + size_t(i) * (HD + 2);
    return SoftmaxPartial{__ldcg(p), __ldcg(p + 1), d < HD ? __ldcg(p + 2 + d) : 0.f};
  };
  if (used == 1) {
    if (shared_parts == 0) {
      if (d < HD) out_row[d] = __float2bfloat16(o / L);
      return;
    }
    // Shared chunks first, then this block's own keys.
    const float r = merge_partials(
        shared_parts + 1, [&](int i) { return i < shared_parts ? shared_max(i) : M; },
        [&](int i) { return i < shared_parts ? shared_part(i) : SoftmaxPartial{M, L, o}; });
    if (d < HD) out_row[d] = __float2bfloat16(r);
    return;
  }

  // Split: publish (M, L, o), and let the pair's last block to arrive merge all of them.
  float* mine = split.partials + (pair * gridDim.z + z) * (HD + 2);
  if (d < HD) mine[2 + d] = o;
  if (d == 0) {
    mine[0] = M;
    mine[1] = L;
  }
  __threadfence();   // the partials reach L2 before the ticket says they are there
  __syncthreads();
  if (threadIdx.x == 0) {
    merger_s = atomicAdd(&split.tickets[pair], 1) == used - 1;
    if (merger_s) split.tickets[pair] = 0;   // ready for the next launch; no block of this one reads it again
  }
  __syncthreads();
  if (!merger_s) return;
  __threadfence();
  // Shared chunks first, then the splits in split order, whichever block merges: the same sums
  // every run. __ldcg reads L2, where the other blocks' partials are (this SM's L1 may hold
  // none of them, but never trust it).
  const float* parts = split.partials + pair * gridDim.z * (HD + 2);
  const float r = merge_partials(
      shared_parts + used,
      [&](int i) { return i < shared_parts ? shared_max(i) : __ldcg(parts + size_t(i - shared_parts) * (HD + 2)); },
      [&](int i) {
        if (i < shared_parts) return shared_part(i);
        const float* p = parts + size_t(i - shared_parts) * (HD + 2);
        return SoftmaxPartial{__ldcg(p), __ldcg(p + 1), d < HD ? __ldcg(p + 2 + d) : 0.f};
      });
  if (d < HD) out_row[d] = __float2bfloat16(r);
}

// ---------------------------------------------------------------- launchers

int attention_decode_splits(int num_heads, int num_seqs, int sm_count) {
  const int pairs = num_heads * num_seqs;
  if (pairs <= 0 || pairs >= sm_count) return 1;
  return std::clamp(attention_decode_capacity(sm_count) / pairs, 1, kMaxDecodeSplits);
}

void attention_decode(const bf16* qkv, bf16* out, const AttentionShape& shape,
                      const KvLayerView& kv, const BatchView& batch, const DecodeSplit& split,
                      cudaStream_t stream) {
  attention_decode(qkv, out, shape, kv, batch, split, SharedPrefixView{}, stream);
}

void attention_decode(const bf16* qkv, bf16* out, const AttentionShape& shape,
                      const KvLayerView& kv, const BatchView& batch, const DecodeSplit& split,
                      const SharedPrefixView& prefix, cudaStream_t stream) {
  if (batch.num_seqs == 0) return;
  if ((prefix.skip_blocks == nullptr) != (prefix.num_partials == nullptr) ||
      (prefix.num_partials && !prefix.partials)) {
    throw Error("attention_decode: a shared-prefix view needs its skip counts, partial counts and partials");
  }
  if (split.splits < 1 || split.splits > kMaxDecodeSplits) {
    throw Error("attention_decode: " + std::to_string(split.splits) + " splits per head (1 to " +
                std::to_string(kMaxDecodeSplits) + ")");
  }
  const int64_t slots = int64_t(shape.num_heads) * batch.num_seqs * split.splits;
  if (split.splits > 1 && (!split.partials || !split.tickets || slots > split.capacity)) {
    throw Error("attention_decode: " + std::to_string(shape.num_heads) + " heads x " + std::to_string(batch.num_seqs) +
                " sequences x " + std::to_string(split.splits) + " splits need " + std::to_string(slots) +
                " scratch slots, have " + std::to_string(split.capacity));
  }
  const dim3 grid(unsigned(shape.num_heads), unsigned(batch.num_seqs), unsigned(split.splits));
  const int threads = kWarps * 32;
  switch (kv.head_dim) {
    case 8: launch(attention_decode_kernel<8>, grid, threads, 0, stream, "attention_decode", qkv, out, shape, kv, batch, split, prefix); break;
    case 16: launch(attention_decode_kernel<16>, grid, threads, 0, stream, "attention_decode", qkv, out, shape, kv, batch, split, prefix); break;
    case 32: launch(attention_decode_kernel<32>, grid, threads, 0, stream, "attention_decode", qkv, out, shape, kv, batch, split, prefix); break;
    case 64: launch(attention_decode_kernel<64>, grid, threads, 0, stream, "attention_decode", qkv, out, shape, kv, batch, split, prefix); break;
    case 128: launch(attention_decode_kernel<128>, grid, threads, 0, stream, "attention_decode", qkv, out, shape, kv, batch, split, prefix); break;
    default: throw Error("attention_decode: head_dim " + std::to_string(kv.head_dim) + " is not compiled in");
  }
}

}  // namespace yardstick::cuda
