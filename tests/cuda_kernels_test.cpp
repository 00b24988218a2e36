// Each CUDA kernel family against a CPU reference computed in fp64 from the same bf16 inputs,
// on fresh random inputs every run (the seed is printed on failure). Outputs are poisoned
// before each launch so an element the kernel forgot to write fails the test. Skips without a GPU.
#include <gtest/gtest.h>

#ifdef YARDSTICK_HAVE_CUDA

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <numeric>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/cuda/attention.h"
#include "engine/cuda/convert.h"
#include "engine/cuda/embedding.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/gemv.h"
#include "engine/cuda/kv_cache.h"
#include "engine/cuda/logits.h"
#include "engine/cuda/rmsnorm.h"
#include "engine/cuda/rope.h"
#include "engine/cuda/shared_prefix.h"
#include "engine/cuda/swiglu.h"
#include "engine/sampler.h"
#include "tests/cuda_test_util.h"

namespace yardstick::test {
namespace {

using cuda::bf16;
using cuda::DeviceBuffer;

constexpr uint16_t kPoison = 0xFFFF;   // a bf16 NaN

// ||a - b|| / ||b||
double relative_error(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

std::vector<float> bf16_values(const std::vector<uint16_t>& bits) {
  std::vector<float> v(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) v[i] = bf16_to_f32(bits[i]);
  return v;
}

bool all_finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

class CudaKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    YARDSTICK_SKIP_WITHOUT_GPU();
    seed_ = fresh_seed();
    rng_.seed(seed_);
  }
  std::string trace() const { return "seed " + std::to_string(seed_); }
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
};

// ---------------------------------------------------------------- gathers

TEST_F(CudaKernels, EmbeddingGatherCopiesTheRowsOfTheIds) {
  SCOPED_TRACE(trace());
  const int V = 300, C = 72, T = 9;
  const Bf16Vector table = random_bf16(size_t(V) * C, rng_);
  std::vector<int32_t> ids(T);
  for (auto& id : ids) id = int32_t(rng_() % V);
  DeviceBuffer d_table = to_device(table.bits), d_ids = to_device(ids);
  DeviceBuffer d_out = to_device(std::vector<float>(size_t(T) * C, NAN));
  cuda::embedding_gather(d_table.as<bf16>(), d_ids.as<int32_t>(), d_out.as<float>(), T, C, nullptr);
  const auto out = to_host<float>(d_out, size_t(T) * C);
  for (int t = 0; t < T; ++t)
    for (int c = 0; c < C; ++c) ASSERT_EQ(out[size_t(t) * C + c], table.values[size_t(ids[t]) * C + c]);
}

TEST_F(CudaKernels, GatherRowsSelectsRowsInOrder) {
  SCOPED_TRACE(trace());
  const int N = 20, C = 64;
  const Bf16Vector in = random_bf16(size_t(N) * C, rng_);
  const std::vector<int32_t> rows = {19, 0, 7, 7, 3};
  DeviceBuffer d_in = to_device(in.bits), d_rows = to_device(rows);
  DeviceBuffer d_out = to_device(std::vector<uint16_t>(rows.size() * C, kPoison));
  cuda::gather_rows(d_in.as<bf16>(), d_rows.as<int32_t>(), d_out.as<bf16>(), int(rows.size()), C, nullptr);
  const auto out = to_host<uint16_t>(d_out, rows.size() * C);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int c = 0; c < C; ++c) ASSERT_EQ(out[r * C + c], in.bits[size_t(rows[r]) * C + c]);
}

// ---------------------------------------------------------------- RMSNorm

void check_add_rmsnorm(std::mt19937_64& rng, int T, int C, bool with_residual) {
  const float eps = 1e-6f;
  const Bf16Vector xb = random_bf16(size_t(T) * C, rng, 2.0f);
  const std::vector<float> x0 = xb.values;
  const Bf16Vector y = random_bf16(size_t(T) * C, rng);
  Bf16Vector w = random_bf16(size_t(C), rng, 0.1f);
  for (size_t i = 0; i < w.bits.size(); ++i) w.bits[i] = f32_to_bf16(1.0f + w.values[i]);
  DeviceBuffer d_x = to_device(x0), d_y = to_device(y.bits), d_w = to_device(w.bits);
  DeviceBuffer d_out = to_device(std::vector<uint16_t>(size_t(T) * C, kPoison));
  cuda::add_rmsnorm(d_x.as<float>(), with_residual ? d_y.as<bf16>() : nullptr, d_w.as<bf16>(), d_out.as<bf16>(),
                    T, C, eps, nullptr);
  const auto x = to_host<float>(d_x, size_t(T) * C);
  const auto out = bf16_values(to_host<uint16_t>(d_out, size_t(T) * C));
  ASSERT_TRUE(all_finite(out));
  for (int t = 0; t < T; ++t) {
    double ss = 0;
    std::vector<float> row(static_cast<size_t>(C));
    for (int c = 0; c < C; ++c) {
      const size_t i = size_t(t) * C + c;
      row[size_t(c)] = with_residual ? x0[i] + y.values[i] : x0[i];   // the fp32 add, as the kernel
      ASSERT_EQ(x[i], row[size_t(c)]);
      ss += double(row[size_t(c)]) * row[size_t(c)];
    }
    const double inv = 1.0 / std::sqrt(ss / C + eps);
    for (int c = 0; c < C; ++c) {
      const double ref = double(row[size_t(c)]) * inv * bf16_to_f32(w.bits[size_t(c)]);
      ASSERT_NEAR(out[size_t(t) * C + c], ref, 8e-3 * std::fabs(ref) + 1e-6) << "row " << t << " col " << c;
    }
  }
}

TEST_F(CudaKernels, AddRmsNormAddsTheResidualThenNormalises) {
  SCOPED_TRACE(trace());
  check_add_rmsnorm(rng_, 5, 4096, true);
  check_add_rmsnorm(rng_, 3, 64, true);
  check_add_rmsnorm(rng_, 300, 4096, true);   // prefill-sized
  check_add_rmsnorm(rng_, 2, 8192, true);     // the 67B's hidden size: 1,024 threads of eight
  check_add_rmsnorm(rng_, 3, 1004, true);     // not a multiple of eight: the scalar kernel
}

TEST_F(CudaKernels, AddRmsNormWithoutResidualOnlyNormalises) {
  SCOPED_TRACE(trace());
  check_add_rmsnorm(rng_, 4, 1000, false);
  check_add_rmsnorm(rng_, 4, 1002, false);
}

// ---------------------------------------------------------------- SwiGLU

// FF 172: the element-wise kernel; 1376 (a multiple of 8): the 16-byte one prefill steps use.
// (FusedGateUpSiluStoresWhatGemvThenSiluMul checks both bitwise against the gemv epilogue.)
TEST_F(CudaKernels, SiluMulMatchesTheReference) {
  SCOPED_TRACE(trace());
  for (const auto& [T, FF] : {std::pair{6, 172}, std::pair{37, 1376}}) {
    SCOPED_TRACE("T " + std::to_string(T) + ", FF " + std::to_string(FF));
    const Bf16Vector gu = random_bf16(size_t(T) * 2 * FF, rng_, 3.0f);
    DeviceBuffer d_gu = to_device(gu.bits), d_out = to_device(std::vector<uint16_t>(size_t(T) * FF, kPoison));
    cuda::silu_mul(d_gu.as<bf16>(), d_out.as<bf16>(), T, FF, nullptr);
    const auto out = bf16_values(to_host<uint16_t>(d_out, size_t(T) * FF));
    for (int t = 0; t < T; ++t) {
      for (int f = 0; f < FF; ++f) {
        const double g = gu.values[size_t(t) * 2 * FF + f], u = gu.values[size_t(t) * 2 * FF + FF + f];
        const double ref = g / (1 + std::exp(-g)) * u;
        ASSERT_NEAR(out[size_t(t) * FF + f], ref, 8e-3 * std::fabs(ref) + 1e-6);
      }
    }
  }
}

// ---------------------------------------------------------------- paged KV fixtures

// Several sequences in a shuffled paged cache, as a forward step sees them.
struct PagedBatch {
  int NH, NKV, HD, BS = 16, num_blocks = 0, max_blocks = 0;
  std::vector<int> prior, q_len;          // per sequence: tokens already cached, new tokens
  std::vector<int32_t> q_start, kv_len, tables;
  int T = 0;
  size_t qkv_width() const { return size_t(NH + 2 * NKV) * HD; }
  size_t block_elems() const { return size_t(NKV) * BS * HD; }

  PagedBatch(int nh, int nkv, int hd, std::vector<int> prior_, std::vector<int> q_len_, std::mt19937_64& rng)
      : NH(nh), NKV(nkv), HD(hd), prior(std::move(prior_)), q_len(std::move(q_len_)) {
    for (size_t b = 0; b < prior.size(); ++b) {
      q_start.push_back(T);
      T += q_len[b];
      kv_len.push_back(prior[b] + q_len[b]);
      max_blocks = std::max(max_blocks, (kv_len.back() + BS - 1) / BS);
      num_blocks += (kv_len.back() + BS - 1) / BS;
    }
    num_blocks += 3;   // spare blocks nobody owns
    std::vector<int32_t> ids(static_cast<size_t>(num_blocks));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    tables.assign(prior.size() * size_t(max_blocks), 0);
    size_t next = 0;
    for (size_t b = 0; b < prior.size(); ++b)
      for (int i = 0; i < (kv_len[b] + BS - 1) / BS; ++i) tables[b * size_t(max_blocks) + size_t(i)] = ids[next++];
  }
  size_t slot(size_t b, int pos, int h) const {
    const int32_t block = tables[b * size_t(max_blocks) + size_t(pos / BS)];
    return ((size_t(block) * NKV + size_t(h)) * BS + size_t(pos % BS)) * HD;
  }
};

// ---------------------------------------------------------------- RoPE

TEST_F(CudaKernels, RopeTableMatchesFp64Angles) {
  const int HD = 128;
  const double theta = 10000.0;
  const std::vector<float> table = cuda::rope_table(4096, HD, theta);
  for (int p : {0, 1, 17, 1000, 4095}) {
    for (int i = 0; i < HD / 2; i += 7) {
      const double angle = p * std::pow(theta, -2.0 * i / HD);
      const size_t at = (size_t(p) * (HD / 2) + size_t(i)) * 2;
      // fp32 angles (as HF computes them) drift from fp64 by at most ~p * 1e-7.
      EXPECT_NEAR(table[at], std::cos(angle), 1e-3) << "p " << p << " i " << i;
      EXPECT_NEAR(table[at + 1], std::sin(angle), 1e-3) << "p " << p << " i " << i;
    }
  }
}

TEST_F(CudaKernels, RopeRotatesQueriesAndKeysAndStoresKeysAndValuesInTheirBlocks) {
  SCOPED_TRACE(trace());
  PagedBatch pb(4, 2, 128, {3, 0, 30}, {2, 5, 4}, rng_);
  const int P = 64;
  const std::vector<float> table = cuda::rope_table(P, pb.HD, 10000.0);
  const Bf16Vector qkv = random_bf16(size_t(pb.T) * pb.qkv_width(), rng_);
  std::vector<int32_t> pos, tok_seq;
  for (size_t b = 0; b < pb.prior.size(); ++b)
    for (int i = 0; i < pb.q_len[b]; ++i) {
      pos.push_back(pb.prior[b] + i);
      tok_seq.push_back(int32_t(b));
    }
  const size_t cache_elems = size_t(pb.num_blocks) * pb.block_elems();
  DeviceBuffer d_qkv = to_device(qkv.bits), d_table = to_device(table), d_pos = to_device(pos),
               d_seq = to_device(tok_seq), d_tables = to_device(pb.tables);
  DeviceBuffer d_k = to_device(std::vector<uint16_t>(cache_elems, kPoison));
  DeviceBuffer d_v = to_device(std::vector<uint16_t>(cache_elems, kPoison));
  cuda::KvLayerView kv{d_k.as<bf16>(), d_v.as<bf16>(), d_tables.as<int32_t>(), pb.max_blocks, pb.BS, pb.NKV, pb.HD};
  cuda::rope_and_store_kv(d_qkv.as<bf16>(), d_table.as<float2>(), d_pos.as<int32_t>(), d_seq.as<int32_t>(), kv,
                          pb.T, pb.NH, nullptr);
  const auto out = to_host<uint16_t>(d_qkv, qkv.bits.size());
  const auto k = to_host<uint16_t>(d_k, cache_elems), v = to_host<uint16_t>(d_v, cache_elems);
  const int half = pb.HD / 2;
  for (int t = 0; t < pb.T; ++t) {
    const size_t row = size_t(t) * pb.qkv_width();
    for (int head = 0; head < pb.NH + pb.NKV; ++head) {
      for (int i = 0; i < half; ++i) {
        const size_t a = row + size_t(head) * pb.HD + size_t(i), b2 = a + size_t(half);
        const double c = table[(size_t(pos[t]) * half + i) * 2], s = table[(size_t(pos[t]) * half + i) * 2 + 1];
        const double r1 = qkv.values[a] * c - qkv.values[b2] * s, r2 = qkv.values[b2] * c + qkv.values[a] * s;
        ASSERT_NEAR(bf16_to_f32(out[a]), r1, 8e-3 * std::fabs(r1) + 1e-6);
        ASSERT_NEAR(bf16_to_f32(out[b2]), r2, 8e-3 * std::fabs(r2) + 1e-6);
      }
    }
    for (int h = 0; h < pb.NKV; ++h) {
      const size_t at = pb.slot(size_t(tok_seq[t]), pos[t], h);
      for (int d = 0; d < pb.HD; ++d) {
        ASSERT_EQ(k[at + d], out[row + size_t(pb.NH + h) * pb.HD + d]) << "rotated key in the cache";
        ASSERT_EQ(v[at + d], qkv.bits[row + size_t(pb.NH + pb.NKV + h) * pb.HD + d]) << "value in the cache";
      }
    }
  }
}

// ---------------------------------------------------------------- attention

// How a decode check cuts keys across blocks (cuda::DecodeSplit without its scratch).
struct SplitCase {
  int splits = 1;
  int min_keys = cuda::DecodeSplit{}.min_keys;
};

// softmax(q k^T / sqrt(HD)) v in fp64 for every new token and query head of the batch:
// [T, NH, HD].
std::vector<double> attention_reference(const PagedBatch& pb, const Bf16Vector& qkv, const Bf16Vector& k,
                                        const Bf16Vector& v) {
  std::vector<double> ref(size_t(pb.T) * pb.NH * pb.HD);
  const int group = pb.NH / pb.NKV;
  for (size_t b = 0; b < pb.prior.size(); ++b) {
    for (int i = 0; i < pb.q_len[b]; ++i) {
      const int t = pb.q_start[b] + i, pos = pb.prior[b] + i;
      for (int h = 0; h < pb.NH; ++h) {
        const float* q = &qkv.values[size_t(t) * pb.qkv_width() + size_t(h) * pb.HD];
        std::vector<double> s(size_t(pos) + 1);
        double m = -INFINITY;
        for (int j = 0; j <= pos; ++j) {
          const float* kr = &k.values[pb.slot(b, j, h / group)];
          double dot = 0;
          for (int d = 0; d < pb.HD; ++d) dot += double(q[d]) * kr[d];
          s[size_t(j)] = dot / std::sqrt(double(pb.HD));
          m = std::max(m, s[size_t(j)]);
        }
        double z = 0;
        for (double& e : s) z += (e = std::exp(e - m));
        for (int d = 0; d < pb.HD; ++d) {
          double o = 0;
          for (int j = 0; j <= pos; ++j) o += s[size_t(j)] * v.values[pb.slot(b, j, h / group) + size_t(d)];
          ref[(size_t(t) * pb.NH + size_t(h)) * pb.HD + size_t(d)] = o / z;
        }
      }
    }
  }
  return ref;
}

// bf16 attention outputs against the fp64 reference: every element written, within bf16 error.
void expect_close_to_reference(const std::vector<float>& out, const std::vector<double>& ref) {
  ASSERT_TRUE(all_finite(out)) << "an output element was not written";
  EXPECT_LT(relative_error(out, ref), 5e-3);
  double worst = 0;
  for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::fabs(out[i] - ref[i]));
  EXPECT_LT(worst, 1e-2);
}
// Query tiles of `tile` new tokens over every sequence, as (sequence, first query) lists.
struct QueryTiles {
  std::vector<int32_t> seq, q0;
  QueryTiles(const PagedBatch& pb, int tile) {
    for (size_t b = 0; b < pb.q_len.size(); ++b)
      for (int q = 0; q < pb.q_len[b]; q += tile) {
        seq.push_back(int32_t(b));
        q0.push_back(q);
      }
  }
  // The same tiles in another order (the kernels must not depend on it).
  void shuffle(std::mt19937_64& rng) {
    std::vector<size_t> order(seq.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int32_t> s, q;
    for (size_t i : order) {
      s.push_back(seq[i]);
      q.push_back(q0[i]);
    }
    seq = std::move(s);
    q0 = std::move(q);
  }
};

// Fills the cache of every sequence, runs attention (decode when every q_len is 1, else
// prefill) and compares against softmax(q k^T / sqrt(HD)) v in fp64. Decode runs once per split
// case, each twice on the same inputs: the two outputs must be bitwise equal, and the merge
// tickets back at zero after each launch. Prefill runs the SIMT kernel once and, at the head
// dims it supports, the tensor-core kernel twice (its tiles shuffled): bitwise equal to each
// other, and close to the SIMT kernel's outputs as well as to the reference.
void check_attention(PagedBatch& pb, std::mt19937_64& rng, bool decode,
                     const std::vector<SplitCase>& split_cases = {SplitCase{}}) {
  const size_t cache_elems = size_t(pb.num_blocks) * pb.block_elems();
  const Bf16Vector k = random_bf16(cache_elems, rng), v = random_bf16(cache_elems, rng);
  const Bf16Vector qkv = random_bf16(size_t(pb.T) * pb.qkv_width(), rng);
  const QueryTiles tiles(pb, cuda::kPrefillQueryTile);
  QueryTiles mma_tiles(pb, cuda::kPrefillMmaQueryTile);
  mma_tiles.shuffle(rng);
  const std::vector<int32_t>& tile_seq = tiles.seq;
  std::vector<int32_t> q_len(pb.q_len.begin(), pb.q_len.end());
  DeviceBuffer d_k = to_device(k.bits), d_v = to_device(v.bits), d_qkv = to_device(qkv.bits),
               d_tables = to_device(pb.tables), d_q_start = to_device(pb.q_start), d_q_len = to_device(q_len),
               d_kv_len = to_device(pb.kv_len), d_tile_seq = to_device(tiles.seq), d_tile_q0 = to_device(tiles.q0),
               d_mma_seq = to_device(mma_tiles.seq), d_mma_q0 = to_device(mma_tiles.q0);
  const size_t out_elems = size_t(pb.T) * pb.NH * pb.HD;
  DeviceBuffer d_out = to_device(std::vector<uint16_t>(out_elems, kPoison));
  cuda::KvLayerView kv{d_k.as<bf16>(), d_v.as<bf16>(), d_tables.as<int32_t>(), pb.max_blocks, pb.BS, pb.NKV, pb.HD};
  cuda::BatchView batch{d_q_start.as<int32_t>(), d_q_len.as<int32_t>(), d_kv_len.as<int32_t>(), int(pb.prior.size())};
  const cuda::AttentionShape shape{pb.NH, float(1.0 / std::sqrt(double(pb.HD)))};
  // The outputs of each run: prefill once, decode twice per split case.
  std::vector<std::pair<std::string, std::vector<uint16_t>>> runs;
  auto poison_out = [&] {
    ASSERT_EQ(cudaMemset(d_out.get(), 0xFF, out_elems * 2), cudaSuccess);
  };
  if (decode) {
    for (const SplitCase& c : split_cases) {
      const std::string name = "decode, " + std::to_string(c.splits) + " splits of >= " + std::to_string(c.min_keys) +
                               " keys";
      const int slots = pb.NH * int(pb.prior.size()) * c.splits;
      DeviceBuffer d_partials = to_device(std::vector<float>(size_t(slots) * (pb.HD + 2), NAN));
      DeviceBuffer d_tickets = to_device(std::vector<int32_t>(size_t(slots), 0));
      const cuda::DecodeSplit split{c.splits, c.min_keys, d_partials.as<float>(), d_tickets.as<int32_t>(), slots};
      for (int rep = 0; rep < 2; ++rep) {
        poison_out();
        cuda::attention_decode(d_qkv.as<bf16>(), d_out.as<bf16>(), shape, kv, batch, split, nullptr);
        runs.emplace_back(name, to_host<uint16_t>(d_out, out_elems));
        const auto tickets = to_host<int32_t>(d_tickets, size_t(slots));
        ASSERT_TRUE(std::all_of(tickets.begin(), tickets.end(), [](int32_t t) { return t == 0; }))
            << name << ": a merge left its ticket counter set";
      }
      EXPECT_EQ(runs[runs.size() - 2].second, runs.back().second) << name << ": the same inputs twice differ";
    }
  } else {
    poison_out();
    cuda::attention_prefill(d_qkv.as<bf16>(), d_out.as<bf16>(), shape, kv, batch, d_tile_seq.as<int32_t>(),
                            d_tile_q0.as<int32_t>(), int(tile_seq.size()), nullptr);
    runs.emplace_back("prefill", to_host<uint16_t>(d_out, out_elems));
    if (cuda::attention_prefill_mma_supports(pb.HD)) {
      for (int rep = 0; rep < 2; ++rep) {
        poison_out();
        cuda::attention_prefill_mma(d_qkv.as<bf16>(), d_out.as<bf16>(), shape, kv, batch, d_mma_seq.as<int32_t>(),
                                    d_mma_q0.as<int32_t>(), int(mma_tiles.seq.size()), nullptr);
        ASSERT_EQ(cudaGetLastError(), cudaSuccess);
        runs.emplace_back("prefill on the tensor cores", to_host<uint16_t>(d_out, out_elems));
      }
      EXPECT_EQ(runs[1].second, runs[2].second) << "tensor-core prefill: the same inputs twice differ";
      const auto simt = bf16_values(runs[0].second), mma = bf16_values(runs[1].second);
      EXPECT_LT(relative_error(mma, std::vector<double>(simt.begin(), simt.end())), 5e-3)
          << "tensor-core prefill vs the SIMT kernel";
    }
  }

  const std::vector<double> ref = attention_reference(pb, qkv, k, v);
  for (const auto& [name, bits] : runs) {
    SCOPED_TRACE(name);
    expect_close_to_reference(bf16_values(bits), ref);
  }
}

TEST_F(CudaKernels, PrefillAttentionMhaAcrossTilesAndBlocks) {
  SCOPED_TRACE(trace());
  // New tokens that start mid-sequence, span several query tiles, and end mid-block.
  PagedBatch pb(4, 4, 128, {0, 5, 20, 0, 16}, {37, 1, 70, 1, 16}, rng_);
  check_attention(pb, rng_, false);
}

TEST_F(CudaKernels, PrefillAttentionGqa) {
  SCOPED_TRACE(trace());
  PagedBatch pb(8, 2, 128, {3, 0}, {40, 65}, rng_);
  check_attention(pb, rng_, false);
}

TEST_F(CudaKernels, PrefillAttentionSmallHeads) {
  SCOPED_TRACE(trace());
  PagedBatch pb(8, 1, 16, {0, 9}, {33, 7}, rng_);
  check_attention(pb, rng_, false);
  PagedBatch tiny(8, 1, 8, {0, 30}, {40, 5}, rng_);   // the GQA fixture's heads
  check_attention(tiny, rng_, false);
}

// The tensor-core kernel's edges: prompts of one token, of one KV block and either side of it,
// of 8 query tiles and one short of it, either side of one tile; MHA and GQA, head dims 64 and
// 128 (each check also runs the SIMT kernel, and the tensor-core kernel twice).
TEST_F(CudaKernels, PrefillAttentionPromptLengthsAroundTileAndBlockEdges) {
  SCOPED_TRACE(trace());
  PagedBatch mha(4, 4, 128, {0, 0, 0, 0, 0, 0}, {1, 15, 16, 17, 511, 512}, rng_);
  check_attention(mha, rng_, false);
  PagedBatch gqa(8, 2, 64, {0, 0, 0, 0}, {1, 17, 63, 65}, rng_);
  check_attention(gqa, rng_, false);
}

// Many key tiles through the two-stage pipeline: 16, 24 (not a multiple of the query tile).
TEST_F(CudaKernels, PrefillAttentionLongPrompts) {
  SCOPED_TRACE(trace());
  PagedBatch gqa(4, 1, 64, {0, 0}, {1024, 1500}, rng_);
  check_attention(gqa, rng_, false);
  PagedBatch mha(2, 2, 128, {0}, {1024}, rng_);
  check_attention(mha, rng_, false);
}

// A chunk of new tokens after cached ones (query positions offset, the first query tile not
// aligned to the key tiles), mixed in one step with fresh prompts and 1-token sequences.
TEST_F(CudaKernels, PrefillAttentionChunksAfterCachedTokensMixedWithOtherSequences) {
  SCOPED_TRACE(trace());
  PagedBatch mha(4, 4, 128, {512, 5, 0, 1000, 77, 0}, {512, 100, 300, 1, 1, 64}, rng_);
  check_attention(mha, rng_, false);
  PagedBatch gqa(8, 2, 64, {1, 63, 64, 1499}, {130, 2, 65, 17}, rng_);
  check_attention(gqa, rng_, false);
}

// A token's output is the same bits however its prompt is cut into chunks and whatever else
// shares the step (batch invariance): one sequence of L tokens prefilled at once, then its
// last L - c tokens as a chunk after c cached ones, beside another sequence.
TEST_F(CudaKernels, TensorCorePrefillIsBitwiseTheSameHoweverThePromptIsChunked) {
  SCOPED_TRACE(trace());
  for (const auto& [NH, NKV, HD] : {std::tuple{4, 4, 128}, std::tuple{8, 2, 64}}) {
    const int L = 700;
    PagedBatch pb(NH, NKV, HD, {0}, {L}, rng_);
    SCOPED_TRACE("NH " + std::to_string(NH) + ", NKV " + std::to_string(NKV) + ", HD " + std::to_string(HD));
    const size_t cache_elems = size_t(pb.num_blocks) * pb.block_elems();
    const Bf16Vector k = random_bf16(cache_elems, rng_), v = random_bf16(cache_elems, rng_);
    // Rows: the L tokens, then 40 of another sequence that shares the cache's first blocks.
    const Bf16Vector qkv = random_bf16(size_t(L + 40) * pb.qkv_width(), rng_);
    DeviceBuffer d_k = to_device(k.bits), d_v = to_device(v.bits), d_qkv = to_device(qkv.bits);
    const size_t width = size_t(NH) * HD;
    // Runs one step of (q_start, q_len, kv_len) sequences, all on pb's block table row 0.
    auto run = [&](const std::vector<int32_t>& q_start, const std::vector<int32_t>& q_len,
                   const std::vector<int32_t>& kv_len, int rows) {
      std::vector<int32_t> tables;
      for (size_t b = 0; b < q_start.size(); ++b) tables.insert(tables.end(), pb.tables.begin(), pb.tables.end());
      std::vector<int32_t> tile_seq, tile_q0;
      for (size_t b = 0; b < q_start.size(); ++b)
        for (int q = 0; q < q_len[b]; q += cuda::kPrefillMmaQueryTile) {
          tile_seq.push_back(int32_t(b));
          tile_q0.push_back(q);
        }
      DeviceBuffer d_tables = to_device(tables), d_q_start = to_device(q_start), d_q_len = to_device(q_len),
                   d_kv_len = to_device(kv_len), d_seq = to_device(tile_seq), d_q0 = to_device(tile_q0);
      DeviceBuffer d_out = to_device(std::vector<uint16_t>(size_t(rows) * width, kPoison));
      const cuda::KvLayerView kv{d_k.as<bf16>(), d_v.as<bf16>(), d_tables.as<int32_t>(), pb.max_blocks, pb.BS, NKV, HD};
      const cuda::BatchView batch{d_q_start.as<int32_t>(), d_q_len.as<int32_t>(), d_kv_len.as<int32_t>(),
                                  int(q_start.size())};
      cuda::attention_prefill_mma(d_qkv.as<bf16>(), d_out.as<bf16>(), {NH, float(1.0 / std::sqrt(double(HD)))}, kv,
                                  batch, d_seq.as<int32_t>(), d_q0.as<int32_t>(), int(tile_seq.size()), nullptr);
      EXPECT_EQ(cudaGetLastError(), cudaSuccess);
      return to_host<uint16_t>(d_out, size_t(rows) * width);
    };
    const std::vector<uint16_t> whole = run({0}, {L}, {L}, L);
    for (int c : {1, 17, 64, 300, L - 1}) {
      SCOPED_TRACE("chunk after " + std::to_string(c) + " cached tokens");
      // Rows c .. L - 1 of the prompt as the step's first sequence; the other sequence (40
      // tokens at positions 200 .. 239) after them.
      const std::vector<uint16_t> chunked = run({c, L}, {L - c, 40}, {L, 240}, L + 40);
      for (size_t i = size_t(c) * width; i < size_t(L) * width; ++i) {
        ASSERT_EQ(chunked[i], whole[i]) << "row " << i / width << ", column " << i % width;
      }
    }
  }
}

// Unsplit; 8 splits of at least 128 keys (the backend's choice for 2 sequences of 32 heads on
// 132 SMs); and 5 of at least one tile: sequences of different lengths use different numbers of
// their blocks (only the first, some, all; the last one partly full).
const std::vector<SplitCase> kDecodeSplits = {{1, 128}, {8, 128}, {5, 32}};

TEST_F(CudaKernels, DecodeAttentionMhaLongAndShortContexts) {
  SCOPED_TRACE(trace());
  PagedBatch pb(4, 4, 128, {0, 15, 16, 300, 1000}, {1, 1, 1, 1, 1}, rng_);
  check_attention(pb, rng_, true, kDecodeSplits);
}

TEST_F(CudaKernels, DecodeAttentionGqaAndSmallHeads) {
  SCOPED_TRACE(trace());
  PagedBatch gqa(8, 1, 64, {100, 7}, {1, 1}, rng_);
  check_attention(gqa, rng_, true, kDecodeSplits);
  PagedBatch small(4, 2, 16, {40, 0, 77}, {1, 1, 1}, rng_);
  check_attention(small, rng_, true, kDecodeSplits);
  PagedBatch tiny(8, 1, 8, {20, 3}, {1, 1}, rng_);   // the GQA fixture's heads
  check_attention(tiny, rng_, true, kDecodeSplits);
}

// Batch 1 at long contexts, where the backend splits: its choice for 32 heads on 132 SMs (8),
// the most splits allowed, and splits of a single tile (many blocks of few keys each).
TEST_F(CudaKernels, DecodeAttentionSplitAtLongContexts) {
  SCOPED_TRACE(trace());
  EXPECT_EQ(cuda::attention_decode_splits(32, 1, 132), 8);
  EXPECT_EQ(cuda::attention_decode_splits(32, 8, 132), 1);
  const std::vector<SplitCase> cases = {{1, 128}, {8, 128}, {cuda::kMaxDecodeSplits, 128}, {16, 32}};
  PagedBatch mha(4, 4, 128, {1500}, {1}, rng_);
  check_attention(mha, rng_, true, cases);
  PagedBatch gqa(8, 2, 128, {1100, 2047}, {1, 1}, rng_);
  check_attention(gqa, rng_, true, cases);
  PagedBatch small(4, 1, 16, {1234}, {1}, rng_);
  check_attention(small, rng_, true, cases);
}

// ---------------------------------------------------------------- shared-prefix attention

// A group of a shared-prefix batch: `members` sequences whose tables start with the same
// `shared` physical blocks (0: `members` unrelated sequences), each with 1..own_max own tokens
// after them (the one being decoded included, so never in a shared block).
struct SharedGroupSpec {
  int shared, members, own_max = 70;
};

// One way to run the shared pass: the grid.x the planner aims its chunks at (1: one chunk per
// group), the grid.x the kernel gets (fewer than the items: blocks loop over them), the
// planner's shortest chunk, and the split of the own keys.
struct SharedPrefixCase {
  const char* name;
  int plan_blocks_x;   // 0: attention_shared_prefix_blocks(NKV, B, 132)
  int kernel_blocks_x;   // 0: the same
  int min_chunk_blocks;
  SplitCase split;
};

const std::vector<SharedPrefixCase> kSharedPrefixCases = {
    {"132-SM grid, chunks >= 4 blocks, own keys unsplit", 0, 0, 4, {1, 128}},
    {"one chunk per group, 3 blocks looping over the items, own keys in 8 splits", 1, 3, 4, {8, 32}},
    {"as many chunks as allowed, own keys in 5 splits", 1 << 20, 0, 1, {5, 32}},
};

// Sequences of the groups in shuffled batch order in a shuffled paged cache; decodes one token
// each through attention_decode alone (the plain path) and through attention_shared_prefix +
// attention_decode under each case, twice: the two runs bitwise equal, every output within bf16
// error of the fp64 reference and of the plain path. Partials start as NaN and outputs poisoned,
// so anything the shared pass or the merge skips shows.
void check_shared_prefix_attention(int NH, int NKV, int HD, const std::vector<SharedGroupSpec>& groups,
                                   std::mt19937_64& rng) {
  constexpr int BS = 16;
  std::vector<int> group_of;
  for (size_t g = 0; g < groups.size(); ++g) group_of.insert(group_of.end(), size_t(groups[g].members), int(g));
  std::shuffle(group_of.begin(), group_of.end(), rng);
  const int B = int(group_of.size());
  std::vector<int> prior, q_len(size_t(B), 1);
  for (int b = 0; b < B; ++b) {
    const SharedGroupSpec& spec = groups[size_t(group_of[size_t(b)])];
    prior.push_back(spec.shared * BS + int(rng() % uint64_t(spec.own_max)));   // own tokens: 1..own_max
  }
  PagedBatch pb(NH, NKV, HD, prior, q_len, rng);
  // The first member of each group lends its leading blocks to the others (theirs go unused).
  std::vector<int> first(groups.size(), -1);
  int expected_groups = 0;
  for (int b = 0; b < B; ++b) {
    const int g = group_of[size_t(b)];
    if (first[size_t(g)] < 0) {
      first[size_t(g)] = b;
      expected_groups += groups[size_t(g)].shared > 0 && groups[size_t(g)].members > 1;
      continue;
    }
    for (int i = 0; i < groups[size_t(g)].shared; ++i)
      pb.tables[size_t(b) * pb.max_blocks + size_t(i)] = pb.tables[size_t(first[size_t(g)]) * pb.max_blocks + size_t(i)];
  }
  // Renumber the blocks the tables still name, in shuffled order, and drop the rest: the cache
  // then holds a 47-block prefix once, not once per member.
  std::map<int32_t, int32_t> renumber;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < (pb.kv_len[size_t(b)] + BS - 1) / BS; ++i)
      renumber.emplace(pb.tables[size_t(b) * pb.max_blocks + size_t(i)], int32_t(renumber.size()));
  std::vector<int32_t> shuffled(renumber.size());
  std::iota(shuffled.begin(), shuffled.end(), 0);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < (pb.kv_len[size_t(b)] + BS - 1) / BS; ++i) {
      int32_t& id = pb.tables[size_t(b) * pb.max_blocks + size_t(i)];
      id = shuffled[size_t(renumber.at(id))];
    }
  pb.num_blocks = int(renumber.size()) + 3;   // and spare blocks nobody owns
  const size_t cache_elems = size_t(pb.num_blocks) * pb.block_elems();
  const Bf16Vector k = random_bf16(cache_elems, rng), v = random_bf16(cache_elems, rng);
  const Bf16Vector qkv = random_bf16(size_t(pb.T) * pb.qkv_width(), rng);
  DeviceBuffer d_k = to_device(k.bits), d_v = to_device(v.bits), d_qkv = to_device(qkv.bits),
               d_tables = to_device(pb.tables), d_q_start = to_device(pb.q_start), d_q_len = to_device(q_len),
               d_kv_len = to_device(pb.kv_len);
  const size_t out_elems = size_t(pb.T) * NH * HD;
  DeviceBuffer d_out = to_device(std::vector<uint16_t>(out_elems, kPoison));
  cuda::KvLayerView kv{d_k.as<bf16>(), d_v.as<bf16>(), d_tables.as<int32_t>(), pb.max_blocks, BS, NKV, HD};
  cuda::BatchView batch{d_q_start.as<int32_t>(), d_q_len.as<int32_t>(), d_kv_len.as<int32_t>(), B};
  const cuda::AttentionShape shape{NH, float(1.0 / std::sqrt(double(HD)))};
  auto poison_out = [&] { ASSERT_EQ(cudaMemset(d_out.get(), 0xFF, out_elems * 2), cudaSuccess); };

  poison_out();
  cuda::attention_decode(d_qkv.as<bf16>(), d_out.as<bf16>(), shape, kv, batch, cuda::DecodeSplit{}, nullptr);
  const std::vector<float> plain = bf16_values(to_host<uint16_t>(d_out, out_elems));
  const std::vector<double> ref = attention_reference(pb, qkv, k, v);
  {
    SCOPED_TRACE("plain decode");
    expect_close_to_reference(plain, ref);
  }

  std::vector<std::span<const int32_t>> tables;
  for (int b = 0; b < B; ++b)
    tables.emplace_back(pb.tables.data() + size_t(b) * pb.max_blocks, size_t((pb.kv_len[size_t(b)] + BS - 1) / BS));
  for (const SharedPrefixCase& c : kSharedPrefixCases) {
    SCOPED_TRACE(c.name);
    const int default_x = cuda::attention_shared_prefix_blocks(NKV, B, 132);
    cuda::SharedPrefixParams params;
    params.block_size = BS;
    params.heads_per_kv_head = NH / NKV;
    params.num_kv_heads = NKV;
    params.blocks_x = c.plan_blocks_x ? c.plan_blocks_x : default_x;
    params.min_shared_blocks = 1;   // the kernel at any sharing, even where the backend would not group
    params.min_chunk_blocks = c.min_chunk_blocks;
    cuda::SharedPrefixPlan plan;
    cuda::plan_shared_prefix(tables, pb.kv_len, params, plan);
    ASSERT_EQ(int(plan.groups.size()), expected_groups) << "the planner did not find the groups";
    ASSERT_FALSE(plan.items.empty());
    int max_chunks = 0;
    for (const auto& g : plan.groups) max_chunks = std::max(max_chunks, g.chunks);
    std::cout << "[ shared  ] " << c.name << ": " << plan.groups.size() << " groups, " << plan.items.size()
              << " items, up to " << max_chunks << " chunks\n";

    std::vector<int32_t> items_raw(plan.items.size() * sizeof(cuda::SharedPrefixItem) / 4);
    std::memcpy(items_raw.data(), plan.items.data(), plan.items.size() * sizeof(cuda::SharedPrefixItem));
    DeviceBuffer d_skip = to_device(plan.skip_blocks), d_parts = to_device(plan.num_partials),
                 d_members = to_device(plan.members), d_items = to_device(items_raw),
                 d_num_items = to_device(std::vector<int32_t>{int32_t(plan.items.size())});
    DeviceBuffer d_partials =
        to_device(std::vector<float>(size_t(B) * NH * cuda::kMaxSharedPrefixChunks * (HD + 2), NAN));
    const cuda::SharedPrefixView prefix{d_skip.as<int32_t>(), d_parts.as<int32_t>(), d_partials.as<float>(),
                                        d_members.as<int32_t>(), d_items.as<cuda::SharedPrefixItem>(),
                                        d_num_items.as<int32_t>(), c.kernel_blocks_x ? c.kernel_blocks_x : default_x};
    const int slots = NH * B * c.split.splits;
    DeviceBuffer d_split_partials = to_device(std::vector<float>(size_t(slots) * (HD + 2), NAN));
    DeviceBuffer d_tickets = to_device(std::vector<int32_t>(size_t(slots), 0));
    const cuda::DecodeSplit split{c.split.splits, c.split.min_keys, d_split_partials.as<float>(),
                                  d_tickets.as<int32_t>(), slots};
    std::vector<std::vector<uint16_t>> runs;
    for (int rep = 0; rep < 2; ++rep) {
      poison_out();
      cuda::attention_shared_prefix(d_qkv.as<bf16>(), shape, kv, batch, prefix, nullptr);
      cuda::attention_decode(d_qkv.as<bf16>(), d_out.as<bf16>(), shape, kv, batch, split, prefix, nullptr);
      runs.push_back(to_host<uint16_t>(d_out, out_elems));
      const auto tickets = to_host<int32_t>(d_tickets, size_t(slots));
      ASSERT_TRUE(std::all_of(tickets.begin(), tickets.end(), [](int32_t t) { return t == 0; }))
          << "a merge left its ticket counter set";
    }
    EXPECT_EQ(runs[0], runs[1]) << "the same inputs twice differ";
    const std::vector<float> out = bf16_values(runs[0]);
    {
      SCOPED_TRACE("shared prefix vs fp64");
      expect_close_to_reference(out, ref);
    }
    double worst = 0, num = 0, den = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      worst = std::max(worst, double(std::fabs(out[i] - plain[i])));
      num += double(out[i] - plain[i]) * double(out[i] - plain[i]);
      den += double(plain[i]) * double(plain[i]);
    }
    std::cout << "[ shared  ] vs plain decode: max |diff| " << worst << ", relative " << std::sqrt(num / den) << "\n";
    EXPECT_LT(std::sqrt(num / den), 5e-3) << "shared prefix vs plain decode";
    EXPECT_LT(worst, 1e-2) << "shared prefix vs plain decode";
    // Per sequence, where a wrong group would show: the worst element of each sequence.
    for (int b = 0; b < B; ++b) {
      double seq_worst = 0;
      for (size_t i = size_t(b) * NH * HD; i < size_t(b + 1) * NH * HD; ++i)
        seq_worst = std::max(seq_worst, std::fabs(out[i] - ref[i]));
      ASSERT_LT(seq_worst, 1e-2) << "sequence " << b << " (group " << group_of[size_t(b)] << ", kv_len "
                                 << pb.kv_len[size_t(b)] << ", skip " << plan.skip_blocks[size_t(b)] << " blocks)";
    }
  }
}

// The GSM8K shape: 300 sequences behind one 47-block prefix, beside groups sharing 1 and 5
// blocks and sequences that share nothing (longer, up to 300 tokens).
TEST_F(CudaKernels, SharedPrefixAttentionMhaMatchesPlainDecodeAndFp64) {
  SCOPED_TRACE(trace());
  check_shared_prefix_attention(4, 4, 128, {{47, 300}, {1, 2}, {5, 7}, {0, 5, 300}}, rng_);
}

TEST_F(CudaKernels, SharedPrefixAttentionGqaHeadDim64) {
  SCOPED_TRACE(trace());
  check_shared_prefix_attention(8, 2, 64, {{47, 37}, {1, 3}, {4, 2}, {0, 3, 300}}, rng_);
}

// 8 query heads per kv head (the 67B's): 8 members a tile; and 64 (one member a tile).
TEST_F(CudaKernels, SharedPrefixAttentionManyHeadsPerKvHead) {
  SCOPED_TRACE(trace());
  check_shared_prefix_attention(16, 2, 128, {{20, 20}, {3, 9}, {0, 2}}, rng_);
  check_shared_prefix_attention(64, 1, 64, {{6, 3}, {2, 2}}, rng_);
}

// The test fixtures' heads (HD 16 MHA, HD 8 with 8 heads on one kv head) and HD 32.
TEST_F(CudaKernels, SharedPrefixAttentionSmallHeads) {
  SCOPED_TRACE(trace());
  check_shared_prefix_attention(4, 4, 16, {{6, 40}, {2, 3}, {0, 2}}, rng_);
  check_shared_prefix_attention(8, 1, 8, {{6, 40}, {3, 5}, {0, 2}}, rng_);
  check_shared_prefix_attention(2, 1, 32, {{9, 3}, {1, 17}}, rng_);
}

// ---------------------------------------------------------------- GEMM

void check_linear(std::mt19937_64& rng, int rows, int out, int in, bool y_f32, bool small_batch_gemv) {
  SCOPED_TRACE("linear " + std::to_string(rows) + "x" + std::to_string(in) + " -> " + std::to_string(out) +
               (small_batch_gemv ? " (gemv allowed)" : " (cuBLASLt)"));
  const Bf16Vector x = random_bf16(size_t(rows) * in, rng), w = random_bf16(size_t(out) * in, rng, 0.05f);
  DeviceBuffer d_x = to_device(x.bits), d_w = to_device(w.bits);
  const size_t n = size_t(rows) * out;
  DeviceBuffer d_y = y_f32 ? to_device(std::vector<float>(n, NAN)) : to_device(std::vector<uint16_t>(n, kPoison));
  cuda::Gemm gemm;
  gemm.set_small_batch_gemv(small_batch_gemv);
  gemm.linear(d_x.as<bf16>(), d_w.as<bf16>(), d_y.get(), y_f32, rows, out, in, nullptr);
  const std::vector<float> y = y_f32 ? to_host<float>(d_y, n) : bf16_values(to_host<uint16_t>(d_y, n));
  ASSERT_TRUE(all_finite(y));
  std::vector<double> ref(n);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double acc = 0;
      for (int i = 0; i < in; ++i) acc += double(x.values[size_t(r) * in + i]) * w.values[size_t(o) * in + i];
      ref[size_t(r) * out + o] = acc;
    }
  EXPECT_LT(relative_error(y, ref), y_f32 ? 1e-5 : 5e-3);
}

TEST_F(CudaKernels, LinearMatchesTheReferenceOnModelShapes) {
  SCOPED_TRACE(trace());
  for (bool gemv : {true, false}) {
    check_linear(rng_, 1, 4096, 4096, false, gemv);    // a 7B projection at batch 1
    check_linear(rng_, 2, 1000, 11008, false, gemv);   // a down_proj at batch 2, odd out
    check_linear(rng_, 7, 344, 64, false, gemv);       // the fixtures' gate|up
    check_linear(rng_, 4, 344, 64, false, gemv);       // gemv's largest row count
    check_linear(rng_, 33, 64, 172, false, gemv);      // the fixtures' down_proj (odd K)
    check_linear(rng_, 5, 256, 64, true, gemv);        // an lm_head into fp32 logits
    check_linear(rng_, 1, 3000, 4096, true, gemv);     // one row of logits
  }
}

// y += x w^T into an fp32 y (the residual stream), against y0 + the fp64 product; with the
// algorithms timed or not. Timing picks once per shape: the same call twice gives the same bits.
void check_linear_accumulate(std::mt19937_64& rng, int rows, int out, int in, bool timed) {
  SCOPED_TRACE("linear_accumulate " + std::to_string(rows) + "x" + std::to_string(in) + " -> " + std::to_string(out) +
               (timed ? " (timed algorithms)" : ""));
  const Bf16Vector x = random_bf16(size_t(rows) * in, rng), w = random_bf16(size_t(out) * in, rng, 0.05f);
  const size_t n = size_t(rows) * out;
  const Bf16Vector y0 = random_bf16(n, rng, 2.0f);
  DeviceBuffer d_x = to_device(x.bits), d_w = to_device(w.bits), d_y = to_device(y0.values);
  cuda::Gemm gemm;
  gemm.set_timed_algorithms(timed);
  gemm.linear_accumulate(d_x.as<bf16>(), d_w.as<bf16>(), d_y.as<float>(), rows, out, in, nullptr);
  const std::vector<float> y = to_host<float>(d_y, n);
  ASSERT_TRUE(all_finite(y));
  std::vector<double> ref(n);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double acc = y0.values[size_t(r) * out + o];
      for (int i = 0; i < in; ++i) acc += double(x.values[size_t(r) * in + i]) * w.values[size_t(o) * in + i];
      ref[size_t(r) * out + o] = acc;
    }
  EXPECT_LT(relative_error(y, ref), 1e-5);
  // Again from y0: the plan (and its algorithm) is kept, so the bits repeat.
  ASSERT_EQ(cudaMemcpy(d_y.get(), y0.values.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  gemm.linear_accumulate(d_x.as<bf16>(), d_w.as<bf16>(), d_y.as<float>(), rows, out, in, nullptr);
  EXPECT_EQ(to_host<float>(d_y, n), y);
}

TEST_F(CudaKernels, LinearAccumulateAddsIntoTheFp32Stream) {
  SCOPED_TRACE(trace());
  for (bool timed : {false, true}) {
    check_linear_accumulate(rng_, 300, 512, 256, timed);   // enough rows to be timed
    check_linear_accumulate(rng_, 3, 64, 172, timed);      // a few rows: never gemv, never timed
  }
}

// Timed algorithms for bf16 outputs: the product matches, and the same call twice repeats it.
TEST_F(CudaKernels, LinearWithTimedAlgorithmsMatchesAndRepeats) {
  SCOPED_TRACE(trace());
  const int rows = 512, out = 768, in = 256;
  const Bf16Vector x = random_bf16(size_t(rows) * in, rng_), w = random_bf16(size_t(out) * in, rng_, 0.05f);
  DeviceBuffer d_x = to_device(x.bits), d_w = to_device(w.bits);
  const size_t n = size_t(rows) * out;
  DeviceBuffer d_y = to_device(std::vector<uint16_t>(n, kPoison));
  cuda::Gemm timed, plain;
  timed.set_timed_algorithms(true);
  timed.linear(d_x.as<bf16>(), d_w.as<bf16>(), d_y.get(), false, rows, out, in, nullptr);
  const std::vector<uint16_t> first = to_host<uint16_t>(d_y, n);
  timed.linear(d_x.as<bf16>(), d_w.as<bf16>(), d_y.get(), false, rows, out, in, nullptr);
  EXPECT_EQ(to_host<uint16_t>(d_y, n), first);
  plain.linear(d_x.as<bf16>(), d_w.as<bf16>(), d_y.get(), false, rows, out, in, nullptr);
  const std::vector<float> a = bf16_values(first), b = bf16_values(to_host<uint16_t>(d_y, n));
  EXPECT_LT(relative_error(a, std::vector<double>(b.begin(), b.end())), 5e-3) << "timed vs heuristic algorithm";
}

// The fused decode epilogues must store exactly what the unfused kernels store: the qkv gemv +
// rope_and_store_kv, and the gate/up gemv + silu_mul, bit for bit (qkv rows, cache slots, act).
void check_fused_qkv_rope(std::mt19937_64& rng, int NH, int NKV, int HD, int C, std::vector<int> prior, int groups) {
  SCOPED_TRACE("qkv + RoPE, NH " + std::to_string(NH) + " NKV " + std::to_string(NKV) + " HD " +
               std::to_string(HD) + " rows " + std::to_string(prior.size()));
  PagedBatch pb(NH, NKV, HD, prior, std::vector<int>(prior.size(), 1), rng);
  const std::vector<float> table = cuda::rope_table(64, HD, 10000.0);
  const Bf16Vector x = random_bf16(size_t(pb.T) * C, rng), w = random_bf16(pb.qkv_width() * C, rng, 0.05f);
  std::vector<int32_t> pos, tok_seq;
  for (size_t b = 0; b < pb.prior.size(); ++b) {
    pos.push_back(pb.prior[b]);
    tok_seq.push_back(int32_t(b));
  }
  DeviceBuffer d_x = to_device(x.bits), d_w = to_device(w.bits), d_table = to_device(table),
               d_pos = to_device(pos), d_seq = to_device(tok_seq), d_tables = to_device(pb.tables);
  const size_t cache_elems = size_t(pb.num_blocks) * pb.block_elems(), qkv_elems = size_t(pb.T) * pb.qkv_width();
  struct Result {
    std::vector<uint16_t> qkv, k, v;
  };
  auto run = [&](bool fused) {
    DeviceBuffer d_qkv = to_device(std::vector<uint16_t>(qkv_elems, kPoison));
    DeviceBuffer d_k = to_device(std::vector<uint16_t>(cache_elems, kPoison));
    DeviceBuffer d_v = to_device(std::vector<uint16_t>(cache_elems, kPoison));
    const cuda::KvLayerView kv{d_k.as<bf16>(), d_v.as<bf16>(), d_tables.as<int32_t>(), pb.max_blocks, pb.BS, NKV, HD};
    if (fused) {
      cuda::gemv_qkv_rope(cuda::GemvInput{d_x.as<bf16>(), {}}, d_w.as<bf16>(), d_qkv.as<bf16>(), d_table.as<float2>(), d_pos.as<int32_t>(),
                          d_seq.as<int32_t>(), kv, pb.T, NH, C, nullptr, groups);
    } else {
      cuda::gemv(d_x.as<bf16>(), d_w.as<bf16>(), d_qkv.get(), false, pb.T, int(pb.qkv_width()), C, nullptr);
      cuda::rope_and_store_kv(d_qkv.as<bf16>(), d_table.as<float2>(), d_pos.as<int32_t>(), d_seq.as<int32_t>(), kv,
                              pb.T, NH, nullptr);
    }
    return Result{to_host<uint16_t>(d_qkv, qkv_elems), to_host<uint16_t>(d_k, cache_elems),
                  to_host<uint16_t>(d_v, cache_elems)};
  };
  const Result fused = run(true), plain = run(false);
  ASSERT_EQ(fused.qkv, plain.qkv) << "q, k, v rows";
  ASSERT_EQ(fused.k, plain.k) << "the key cache";
  ASSERT_EQ(fused.v, plain.v) << "the value cache";
  // And the unfused result is not trivially equal: every new token's slot was written.
  for (size_t b = 0; b < pb.prior.size(); ++b)
    ASSERT_NE(plain.k[pb.slot(b, pb.prior[b], NKV - 1) + size_t(HD) - 1], kPoison);
}

TEST_F(CudaKernels, FusedQkvRopeStoresWhatGemvThenRopeStore) {
  SCOPED_TRACE(trace());
  for (int groups : {1, 2}) {
    check_fused_qkv_rope(rng_, 32, 32, 128, 4096, {127}, groups);          // 7B, one sequence
    check_fused_qkv_rope(rng_, 8, 2, 128, 512, {0, 15, 16, 40}, groups);   // GQA, four rows across blocks
    check_fused_qkv_rope(rng_, 4, 4, 16, 64, {3, 9, 30}, groups);          // the fixtures' small heads
    check_fused_qkv_rope(rng_, 2, 1, 6, 64, {5}, groups);                  // odd HD/2: one pair a block
  }
}

TEST_F(CudaKernels, FusedGateUpSiluStoresWhatGemvThenSiluMul) {
  SCOPED_TRACE(trace());
  for (auto [rows, FF, C] : {std::tuple{1, 11008, 4096}, std::tuple{4, 172, 64}, std::tuple{3, 1001, 2048}}) {
    SCOPED_TRACE("gate/up + SiLU, rows " + std::to_string(rows) + " FF " + std::to_string(FF));
    const Bf16Vector x = random_bf16(size_t(rows) * C, rng_), w = random_bf16(size_t(2 * FF) * C, rng_, 0.05f);
    DeviceBuffer d_x = to_device(x.bits), d_w = to_device(w.bits);
    DeviceBuffer d_gu = to_device(std::vector<uint16_t>(size_t(rows) * 2 * FF, kPoison));
    DeviceBuffer d_plain = to_device(std::vector<uint16_t>(size_t(rows) * FF, kPoison));
    cuda::gemv(d_x.as<bf16>(), d_w.as<bf16>(), d_gu.get(), false, rows, 2 * FF, C, nullptr);
    cuda::silu_mul(d_gu.as<bf16>(), d_plain.as<bf16>(), rows, FF, nullptr);
    const auto plain = to_host<uint16_t>(d_plain, size_t(rows) * FF);
    ASSERT_TRUE(all_finite(bf16_values(plain)));
    for (int groups : {1, 2}) {
      DeviceBuffer d_fused = to_device(std::vector<uint16_t>(size_t(rows) * FF, kPoison));
      cuda::gemv_gate_up_silu(cuda::GemvInput{d_x.as<bf16>(), {}}, d_w.as<bf16>(), d_fused.as<bf16>(), rows, FF, C,
                              nullptr, groups);
      ASSERT_EQ(to_host<uint16_t>(d_fused, size_t(rows) * FF), plain) << "groups " << groups;
    }
  }
}

TEST_F(CudaKernels, GemvWithSeveralFeaturesPerBlockStoresTheSameSums) {
  SCOPED_TRACE(trace());
  for (auto [rows, out, in, f32] : {std::tuple{1, 4096, 4096, false}, std::tuple{3, 1000, 1024, true}}) {
    const Bf16Vector x = random_bf16(size_t(rows) * in, rng_), w = random_bf16(size_t(out) * in, rng_, 0.05f);
    DeviceBuffer d_x = to_device(x.bits), d_w = to_device(w.bits);
    const size_t bytes = size_t(rows) * out * (f32 ? 4 : 2);
    auto run = [&](int features) {
      DeviceBuffer d_y = to_device(std::vector<uint8_t>(bytes, 0xFF));   // NaN in bf16 and fp32
      cuda::gemv(d_x.as<bf16>(), d_w.as<bf16>(), d_y.get(), f32, rows, out, in, nullptr, features);
      return to_host<uint8_t>(d_y, bytes);
    };
    const auto one = run(1);
    const size_t width = f32 ? 4 : 2;
    for (size_t i = 0; i < bytes; i += width)
      ASSERT_FALSE(std::all_of(one.begin() + std::ptrdiff_t(i), one.begin() + std::ptrdiff_t(i + width),
                               [](uint8_t b) { return b == 0xFF; }))
          << "output " << i / width << " was not written";
    ASSERT_EQ(run(2), one) << "rows " << rows << " out " << out;
    ASSERT_EQ(run(4), one) << "rows " << rows << " out " << out;
  }
}

// o_proj with the residual add in its epilogue, and the next gemv normalising its input on the
// fly, against gemv + add_rmsnorm + gemv: the residual stream bit for bit, the SwiGLU output
// within bf16 rounding of the unfused one (the inverse RMS adds its squares in another order).
TEST_F(CudaKernels, ResidualAddAndNormedInputMatchAddRmsNorm) {
  SCOPED_TRACE(trace());
  const int C = 512, in = 256, FF = 384;
  for (int rows : {1, 3}) {
    for (int features : {1, 2, 4}) {
      SCOPED_TRACE("rows " + std::to_string(rows) + ", features per block " + std::to_string(features));
      const Bf16Vector a = random_bf16(size_t(rows) * in, rng_), wo = random_bf16(size_t(C) * in, rng_, 0.05f);
      const Bf16Vector g = random_bf16(size_t(C), rng_, 0.5f), wgu = random_bf16(size_t(2 * FF) * C, rng_, 0.05f);
      std::vector<float> resid(size_t(rows) * C);
      for (float& v : resid) v = std::uniform_real_distribution<float>(-2.f, 2.f)(rng_);
      DeviceBuffer d_a = to_device(a.bits), d_wo = to_device(wo.bits), d_g = to_device(g.bits), d_wgu = to_device(wgu.bits);
      const size_t n = size_t(rows) * C, n_act = size_t(rows) * FF;

      DeviceBuffer x1 = to_device(resid), y = to_device(std::vector<uint16_t>(n, kPoison));
      DeviceBuffer h = to_device(std::vector<uint16_t>(n, kPoison)), act1 = to_device(std::vector<uint16_t>(n_act, kPoison));
      cuda::gemv(d_a.as<bf16>(), d_wo.as<bf16>(), y.get(), false, rows, C, in, nullptr);
      cuda::add_rmsnorm(x1.as<float>(), y.as<bf16>(), d_g.as<bf16>(), h.as<bf16>(), rows, C, 1e-6f, nullptr);
      cuda::gemv_gate_up_silu(cuda::GemvInput{h.as<bf16>(), {}}, d_wgu.as<bf16>(), act1.as<bf16>(), rows, FF, C, nullptr);

      const int parts = cuda::gemv_residual_parts(C, features);
      ASSERT_EQ(parts, C / features);
      DeviceBuffer x2 = to_device(resid), partials = to_device(std::vector<float>(size_t(rows) * parts, NAN));
      DeviceBuffer act2 = to_device(std::vector<uint16_t>(n_act, kPoison));
      cuda::gemv_residual_add(d_a.as<bf16>(), d_wo.as<bf16>(), x2.as<float>(), partials.as<float>(), rows, C, in, nullptr,
                              features);
      const cuda::GemvNormedInput normed{x2.as<float>(), d_g.as<bf16>(), partials.as<float>(), parts, 1e-6f};
      cuda::gemv_gate_up_silu(cuda::GemvInput{nullptr, normed}, d_wgu.as<bf16>(), act2.as<bf16>(), rows, FF, C, nullptr);

      ASSERT_EQ(to_host<float>(x2, n), to_host<float>(x1, n)) << "the residual stream";
      const auto plain = bf16_values(to_host<uint16_t>(act1, n_act)), fused = bf16_values(to_host<uint16_t>(act2, n_act));
      ASSERT_TRUE(all_finite(fused)) << "an output was not written";
      std::vector<double> ref(plain.begin(), plain.end());
      EXPECT_LT(relative_error(fused, ref), 2e-3);
      size_t same = 0;
      for (size_t i = 0; i < n_act; ++i) same += fused[i] == plain[i];
      EXPECT_GE(double(same), 0.9 * double(n_act)) << "most outputs are bit for bit the unfused ones";
    }
  }
}

// ---------------------------------------------------------------- logits -> tokens

TEST_F(CudaKernels, PickTokensMatchesTheHostSampler) {
  SCOPED_TRACE(trace());
  const int V = 1000;
  std::vector<cuda::PickRequest> reqs;
  auto add = [&](float temperature, float top_p, int top_k) {
    cuda::PickRequest r;
    r.temperature = temperature;
    r.top_p = top_p;
    r.top_k = top_k;
    r.target = int32_t(rng_() % V);
    r.stream = rng_();
    r.step = rng_() % 100;
    reqs.push_back(r);
  };
  for (int rep = 0; rep < 8; ++rep) {
    add(0.f, 1.f, 0);
    add(0.7f, 0.9f, 0);
    add(1.0f, 1.f, 50);
    add(1.3f, 0.5f, 5);
    add(1.0f, 1.f, 1);
    add(1.0f, 1.f, 0);
  }
  const int R = int(reqs.size());
  std::vector<float> logits(size_t(R) * V);
  std::normal_distribution<float> dist(0.f, 3.f);
  for (int r = 0; r < R; ++r)
    for (int i = 0; i < V; ++i) {
      float z = dist(rng_);
      if (r % 3 == 0) z = std::round(z);   // many ties: ranking must break them by id, as the host
      logits[size_t(r) * V + i] = z;
    }
  DeviceBuffer d_logits = to_device(logits), d_reqs = to_device(reqs);
  DeviceBuffer d_res(size_t(R) * sizeof(cuda::PickResult), "results");
  cuda::pick_tokens(d_logits.as<float>(), d_reqs.as<cuda::PickRequest>(), d_res.as<cuda::PickResult>(), R, V, nullptr);
  const auto res = to_host<cuda::PickResult>(d_res, size_t(R));
  for (int r = 0; r < R; ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    const std::span<const float> row(&logits[size_t(r) * V], size_t(V));
    const cuda::PickRequest& q = reqs[size_t(r)];
    SamplingParams sp;
    sp.temperature = q.temperature;
    sp.top_p = q.top_p;
    sp.top_k = q.top_k;
    const double lse = logsumexp(row);
    EXPECT_EQ(res[size_t(r)].argmax, argmax(row));
    EXPECT_EQ(res[size_t(r)].token, sample_token(row, sp, q.stream, q.step));
    EXPECT_NEAR(res[size_t(r)].token_logprob, row[size_t(res[size_t(r)].token)] - lse, 1e-4);
    EXPECT_NEAR(res[size_t(r)].target_logprob, row[size_t(q.target)] - lse, 1e-4);
  }
}

TEST_F(CudaKernels, PickTokensOnAVocabularySizedRow) {
  SCOPED_TRACE(trace());
  const int V = 102400;
  std::vector<float> logits(static_cast<size_t>(V));
  std::normal_distribution<float> dist(0.f, 2.f);
  for (float& z : logits) z = dist(rng_);
  cuda::PickRequest greedy, sampled;
  sampled.temperature = 0.8f;
  sampled.top_p = 0.95f;
  sampled.stream = rng_();
  sampled.step = 3;
  const std::vector<cuda::PickRequest> reqs = {greedy, sampled};
  std::vector<float> both(logits);
  both.insert(both.end(), logits.begin(), logits.end());
  DeviceBuffer d_logits = to_device(both), d_reqs = to_device(reqs);
  DeviceBuffer d_res(2 * sizeof(cuda::PickResult), "results");
  cuda::pick_tokens(d_logits.as<float>(), d_reqs.as<cuda::PickRequest>(), d_res.as<cuda::PickResult>(), 2, V, nullptr);
  const auto res = to_host<cuda::PickResult>(d_res, 2);
  SamplingParams sp;
  sp.temperature = sampled.temperature;
  sp.top_p = sampled.top_p;
  EXPECT_EQ(res[0].token, argmax(logits));
  EXPECT_EQ(res[1].token, sample_token(logits, sp, sampled.stream, sampled.step));
}

// ---------------------------------------------------------------- weight conversion

TEST_F(CudaKernels, ConvertToBf16RoundsAsTheHost) {
  SCOPED_TRACE(trace());
  const size_t n = 100003;
  std::vector<float> f32(n);
  std::vector<uint16_t> f16(n);
  std::normal_distribution<float> dist(0.f, 10.f);
  for (size_t i = 0; i < n; ++i) {
    f32[i] = dist(rng_);
    f16[i] = f32_to_f16(dist(rng_));
  }
  DeviceBuffer d_f32 = to_device(f32), d_f16 = to_device(f16);
  DeviceBuffer d_a = to_device(std::vector<uint16_t>(n, kPoison)), d_b = to_device(std::vector<uint16_t>(n, kPoison));
  cuda::convert_to_bf16(d_f32.get(), DType::F32, d_a.as<bf16>(), n, nullptr);
  cuda::convert_to_bf16(d_f16.get(), DType::F16, d_b.as<bf16>(), n, nullptr);
  const auto a = to_host<uint16_t>(d_a, n), b = to_host<uint16_t>(d_b, n);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(a[i], f32_to_bf16(f32[i])) << i;
    ASSERT_EQ(b[i], f32_to_bf16(f16_to_f32(f16[i]))) << i;
  }
}

TEST_F(CudaKernels, RandomWeightsAreReproducibleAndInRange) {
  const size_t n = 1 << 20;
  DeviceBuffer a(n * 2, "a"), b(n * 2, "b"), c(n * 2, "c");
  cuda::fill_random_bf16(a.as<bf16>(), n, 7, 1.0f, 0.5f, nullptr);
  cuda::fill_random_bf16(b.as<bf16>(), n, 7, 1.0f, 0.5f, nullptr);
  cuda::fill_random_bf16(c.as<bf16>(), n, 8, 1.0f, 0.5f, nullptr);
  const auto va = to_host<uint16_t>(a, n), vb = to_host<uint16_t>(b, n), vc = to_host<uint16_t>(c, n);
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  double mean = 0;
  for (uint16_t x : va) {
    const float f = bf16_to_f32(x);
    ASSERT_GE(f, 0.5f);
    ASSERT_LE(f, 1.5f);
    mean += f;
  }
  EXPECT_NEAR(mean / double(n), 1.0, 0.01);
}

// ---------------------------------------------------------------- KV cache bookkeeping

TEST_F(CudaKernels, KvCacheGrowsShrinksAndForksWithCopyOnWrite) {
  const cuda::KvCacheShape shape{2, 2, 16, 16};
  cuda::KvCache kv(shape, 8);
  std::vector<int32_t> a;
  ASSERT_TRUE(kv.grow(a, 40));   // 3 blocks: two full, one holding 8 tokens
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(kv.free_blocks(), 5);

  // Mark a's partly filled block (layer 1 values) so the fork's copy can be checked.
  const size_t block_elems = size_t(shape.num_kv_heads) * shape.block_size * shape.head_dim;
  const cuda::KvLayerView layer1 = kv.layer_view(1, nullptr, 0);
  std::vector<uint16_t> mark(block_elems);
  for (size_t i = 0; i < mark.size(); ++i) mark[i] = uint16_t(i * 7 + 1);
  ASSERT_EQ(cudaMemcpy(layer1.v + size_t(a[2]) * block_elems, mark.data(), block_elems * 2, cudaMemcpyHostToDevice),
            cudaSuccess);

  std::vector<int32_t> b = kv.fork(a, 40, nullptr);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0], a[0]);   // full blocks are shared
  EXPECT_EQ(b[1], a[1]);
  EXPECT_NE(b[2], a[2]);   // the block the next token goes into is copied
  EXPECT_EQ(kv.free_blocks(), 4);
  std::vector<uint16_t> copied(block_elems);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(copied.data(), layer1.v + size_t(b[2]) * block_elems, block_elems * 2, cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(copied, mark);

  // Truncating a into a shared block gives it a private copy before anything is written there.
  const int32_t shared = a[1];
  kv.shrink(a, 20, nullptr);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_NE(a[1], shared);
  EXPECT_EQ(b[1], shared);

  kv.shrink(a, 0, nullptr);
  EXPECT_EQ(kv.free_blocks(), 5);   // b still holds its three
  std::vector<int32_t> c;
  EXPECT_FALSE(kv.grow(c, 16 * 6));  // six blocks: one more than free
  EXPECT_TRUE(c.empty());
  kv.shrink(b, 0, nullptr);
  EXPECT_EQ(kv.free_blocks(), 8);
}

}  // namespace
}  // namespace yardstick::test

#else

TEST(CudaKernels, SkippedWithoutCuda) { GTEST_SKIP() << "built without the CUDA backend"; }

#endif  // YARDSTICK_HAVE_CUDA
