// The CPU backend's arithmetic: small pure functions over fp32 row-major arrays, each equal to
// one line of Hugging Face's LlamaForCausalLM (quoted above it). They are also the reference the
// CUDA kernels are tested against. Shapes use one set of names everywhere:
//   T tokens, C hidden size, NH query heads, NKV key/value heads, HD head dim, S cached positions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace yardstick {

class ThreadPool;

namespace cpu {

// sum_i a[i] * b[i], fp32, in a fixed order (eight interleaved partial sums, then added in
// order), so results depend only on the inputs, never on threads or batch.
float dot(const float* a, const float* b, int n);

// out = x @ w.T  (nn.Linear without bias). Split over output features across the pool; each
// output element is one dot(), so the result doesn't depend on the thread count or on T.
void matmul(float* out,       // [T, n_out]
            const float* x,   // [T, n_in]
            const float* w,   // [n_out, n_in]
            int T, int n_in, int n_out, ThreadPool& pool);

// LlamaRMSNorm: variance = x.pow(2).mean(-1, keepdim=True); x = x * torch.rsqrt(variance + eps);
// return weight * x. The mean is accumulated in fp64 (HF uses fp32; the difference is far below
// fp32 rounding of the result).
void rmsnorm(float* out,            // [T, C]
             const float* x,        // [T, C]
             const float* weight,   // [C]
             int T, int C, float eps);

// LlamaRotaryEmbedding's inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)),
// computed in fp32 as HF does (HF keeps the cos/sin path in fp32 even for fp64 models).
std::vector<float> rope_inv_freq(int head_dim, double theta);   // [HD/2]

// apply_rotary_pos_emb with rotate_half: for i < HD/2, with a = pos * inv_freq[i] (fp32),
//   x[i]        = x[i] * cos(a) - x[i + HD/2] * sin(a)
//   x[i + HD/2] = x[i + HD/2] * cos(a) + x[i] * sin(a)
// in place, for every head of every token.
void rope(float* x,                   // [T, n_heads, HD]
          const int32_t* positions,   // [T]
          const float* inv_freq,      // [HD/2]
          int T, int n_heads, int head_dim);

// One query head over S cached positions (eager attention, causal by construction: the caller
// passes only the positions the query may see):
//   w = softmax(q @ k.T * HD**-0.5, dtype=float32); out = w @ v
void attention_head(float* out,       // [HD]
                    const float* q,   // [HD]
                    const float* k,   // [S, kv_stride]: this head's keys at k[s * kv_stride]
                    const float* v,   // [S, kv_stride]: likewise
                    int S, int head_dim, int kv_stride,
                    float* scores);   // [S] scratch

// LlamaMLP's act_fn(gate_proj(x)) * up_proj(x) with act_fn = SiLU, in place over gate:
//   gate = gate * sigmoid(gate) * up
void silu_mul(float* gate,       // [n]
              const float* up,   // [n]
              int64_t n);

}  // namespace cpu
}  // namespace yardstick
