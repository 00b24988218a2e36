// The tensors of a llama-architecture GGUF presented as the HF LlamaForCausalLM checkpoint they
// were converted from: HF names (token_embd.weight -> model.embed_tokens.weight,
// blk.N.attn_q.weight -> model.layers.N.self_attn.q_proj.weight, ...), HF shapes (GGUF dims
// reversed), and HF's row order for q_proj/k_proj, which llama.cpp's converter permutes so that
// each head's rotary pairs are adjacent (HF rotates the halves of a head: rotate_half).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gguf.h"
#include "engine/tensor.h"
#include "engine/weights.h"

namespace yardstick {

// The HF name of a GGUF llama tensor; nullopt for a name with no LlamaForCausalLM counterpart.
std::optional<std::string> hf_tensor_name(std::string_view gguf_name);

// Row r of an HF q/k projection (rows = heads * head_dim) is row gguf_row_of(r) of the GGUF
// tensor: within a head, HF row j * head_dim/2 + i (j = 0, 1 the two rotated halves) lies at
// 2 * i + j.
int64_t gguf_row_of(int64_t hf_row, int64_t head_dim);

// Every tensor of the file under its HF name and layout. F32, F16 and BF16 tensors that need no
// row permutation point into the file's mapping; the others are dequantized (and un-permuted)
// into `dequantized_as` (F32 for the CPU backend; BF16 halves the memory on the way to a GPU)
// buffers appended to `owned`, which the views point into. Throws ModelFileError naming the
// file and the tensor for a name with no HF counterpart, a type this engine cannot dequantize,
// or a q/k projection whose rows don't split into the config's heads.
std::vector<TensorView> gguf_llama_tensors(const GgufFile& file, std::vector<OwnedTensor>& owned,
                                           DType dequantized_as = DType::F32);

}  // namespace yardstick
