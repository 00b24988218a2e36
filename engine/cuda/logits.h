// From fp32 logits rows to tokens and log-probs on the device, so a decode step copies a few
// bytes per sequence to the host instead of a vocabulary-sized row.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace yardstick::cuda {

// What to do with one logits row (device array, one per row).
struct PickRequest {
  float temperature = 0.f;   // <= 0: greedy
  float top_p = 1.f;
  int32_t top_k = 0;         // 0: off; 1: greedy
  int32_t target = -1;       // >= 0: report this token's log-prob too
  uint64_t stream = 0;       // the sample's random stream (its seed)
  uint64_t step = 0;         // index of the token being drawn
};

struct PickResult {
  int32_t token = 0;            // the chosen token (the argmax when greedy)
  int32_t argmax = 0;           // lowest id among the largest logits
  float token_logprob = 0.f;    // log_softmax(row)[token]
  float target_logprob = 0.f;   // log_softmax(row)[target], 0 without a target
};

// The choice is the one engine/sampler.h's sample_token makes (same ranking, ties to the lower
// id, same top-k then top-p rule, same counter-based uniform), computed with fp32 exponentials
// summed in fp64 instead of fp64 throughout: a draw that lands within rounding of a boundary
// between two tokens may differ from the host's.
void pick_tokens(const float* logits,        // [R, V]
                 const PickRequest* requests,  // [R]
                 PickResult* results,        // [R]
                 int R, int V, cudaStream_t stream);

}  // namespace yardstick::cuda
