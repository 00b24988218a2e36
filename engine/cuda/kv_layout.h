// How the paged KV cache and one forward step's batch are laid out on the device: the views the
// kernels take (plain structs of device pointers, passed by value).
#pragma once

#include <cstdint>

#include "engine/cuda/bf16.h"

namespace yardstick::cuda {

// One layer of the paged KV cache. A sequence's token at position p lives in physical block
// block_tables[b * max_blocks + p / block_size], slot p % block_size.
struct KvLayerView {
  bf16* k = nullptr;                      // [num_blocks, NKV, BS, HD] keys, after RoPE
  bf16* v = nullptr;                      // [num_blocks, NKV, BS, HD]
  const int32_t* block_tables = nullptr;  // [B, max_blocks] per step sequence: physical block ids
  int max_blocks = 0;                     // row stride of block_tables
  int block_size = 0;                     // BS: tokens per block
  int num_kv_heads = 0;                   // NKV
  int head_dim = 0;                       // HD
};

// The sequences of one forward step. Their new tokens are the rows of the step's [T, ...]
// activations, sequence after sequence.
struct BatchView {
  const int32_t* q_start = nullptr;   // [B] first row of the sequence's new tokens
  const int32_t* q_len = nullptr;     // [B] new tokens this step
  const int32_t* kv_len = nullptr;    // [B] tokens in the cache once this step's are written
  int num_seqs = 0;                   // B
};

}  // namespace yardstick::cuda
