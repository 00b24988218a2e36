#include "engine/gguf_weights.h"

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/model_config.h"

namespace yardstick {

namespace {

// GGUF's per-layer tensor names (llama.cpp's LLM_TENSOR_* for LLM_ARCH_LLAMA) and HF's.
struct LayerName {
  std::string_view gguf, hf;
};
constexpr LayerName kLayerNames[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};

std::optional<DType> plain_dtype(uint32_t type) {
  switch (GgmlType(type)) {
    case GgmlType::F32: return DType::F32;
    case GgmlType::F16: return DType::F16;
    case GgmlType::BF16: return DType::BF16;
    default: return std::nullopt;
  }
}

[[noreturn]] void fail_tensor(const GgufFile& file, std::string_view tensor, std::string_view what) {
  throw ModelFileError(fmt::format("{}: tensor '{}': {}", file.path().string(), tensor, what));
}

}  // namespace

std::optional<std::string> hf_tensor_name(std::string_view name) {
  if (name == "token_embd.weight") return "model.embed_tokens.weight";
  if (name == "output_norm.weight") return "model.norm.weight";
  if (name == "output.weight") return "lm_head.weight";
  constexpr std::string_view prefix = "blk.";
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  name.remove_prefix(prefix.size());
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  int layer = -1;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + dot, layer);
  if (ec != std::errc() || end != name.data() + dot || layer < 0) return std::nullopt;
  if (name[0] == '0' && dot > 1) return std::nullopt;   // "blk.01." is no layer's name
  const std::string_view rest = name.substr(dot + 1);
  for (const LayerName& n : kLayerNames)
    if (rest == n.gguf) return fmt::format("model.layers.{}.{}", layer, n.hf);
  return std::nullopt;
}

int64_t gguf_row_of(int64_t hf_row, int64_t head_dim) {
  const int64_t half = head_dim / 2;
  const int64_t head = hf_row / head_dim, r = hf_row % head_dim;
  return head * head_dim + 2 * (r % half) + r / half;
}

std::vector<TensorView> gguf_llama_tensors(const GgufFile& file, std::vector<OwnedTensor>& owned,
                                           DType dequantized_as) {
  const ModelConfig cfg = gguf_model_config(file);
  std::vector<TensorView> out;
  out.reserve(file.tensors().size());
  for (const GgufTensorInfo& t : file.tensors()) {
    const std::optional<std::string> name = hf_tensor_name(t.name);
    if (!name) fail_tensor(file, t.name, "no LlamaForCausalLM tensor corresponds to it");
    const std::span<const std::byte> data = file.tensor_data(t);

    // q/k: rows grouped by head, as many heads as the attention has query or key/value heads.
    int heads = 0;
    if (name->ends_with("self_attn.q_proj.weight")) heads = cfg.num_heads;
    if (name->ends_with("self_attn.k_proj.weight")) heads = cfg.num_kv_heads;
    const int64_t cols = t.dims[0];
    const int64_t rows = t.numel() / cols;
    if (heads > 0 && (t.dims.size() != 2 || rows % heads != 0 || (rows / heads) % 2 != 0)) {
      fail_tensor(file, t.name, fmt::format("{} rows do not split into {} heads of pairs", rows, heads));
    }

    if (const std::optional<DType> d = plain_dtype(t.type); d && heads == 0) {
      out.push_back(TensorView{*name, *d, t.shape(), data.data(), data.size()});
      continue;
    }
    if (!ggml_can_dequantize(GgmlType(t.type))) {
      fail_tensor(file, t.name,
                  fmt::format("type {} is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, "
                              "Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)",
                              ggml_type_name(t.type)));
    }
    const size_t row_bytes = t.nbytes / size_t(rows);
    OwnedTensor& o = owned.emplace_back();
    o.name = *name;
    o.dtype = dequantized_as;
    o.shape = t.shape();
    o.data.resize(size_t(t.numel()) * dtype_size(dequantized_as));
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      // Blocks never straddle rows, so un-permuting moves whole encoded rows.
      const int64_t src = heads > 0 ? gguf_row_of(r, rows / heads) : r;
      float* dst = dequantized_as == DType::F32 ? reinterpret_cast<float*>(o.data.data()) + r * cols : row.data();
      dequantize_row(GgmlType(t.type), data.data() + size_t(src) * row_bytes, dst, cols);
      if (dequantized_as == DType::F32) continue;
      auto* half = reinterpret_cast<uint16_t*>(o.data.data()) + r * cols;
      for (int64_t c = 0; c < cols; ++c)
        half[c] = dequantized_as == DType::BF16 ? f32_to_bf16(row[size_t(c)]) : f32_to_f16(row[size_t(c)]);
    }
    out.push_back(TensorView{o.name, o.dtype, o.shape, o.data.data(), o.data.size()});
  }
  return out;
}

}  // namespace yardstick
