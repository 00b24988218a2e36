// Reducing a logits row to what the engine needs next — the sampled token, the argmax, and
// log-probs — so that a backend whose logits live on a GPU can do it there and hand back a few
// bytes per row instead of a vocabulary-sized row (Backend::forward_pick).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/requests.h"

namespace yardstick {

// What to do with one requested logits position.
struct TokenPick {
  SamplingParams sampling;   // temperature 0 (or top_k 1): the argmax
  uint64_t stream = 0;       // the sample's random stream: request seed + sample index
  uint64_t step = 0;         // index of the token being generated (sample_token's `step`)
  int32_t target = -1;       // >= 0: also report this token's log-prob (loglikelihood scoring)
  bool want_token_logprob = false;   // also report the chosen token's log-prob
};

struct PickedToken {
  int32_t token = 0;            // sample_token(row, sampling, stream, step)
  int32_t argmax = 0;           // the lowest id among the largest logits
  // log_softmax(row)[token], when asked for or when there is a target (the host reduction
  // skips the log-sum-exp otherwise and leaves 0; a GPU backend may report it anyway).
  float token_logprob = 0.f;
  float target_logprob = 0.f;   // log_softmax(row)[target]; 0 when there is no target
};

// The host reduction (engine/sampler.h), for backends whose logits are already on the host.
// logits: [picks.size(), vocab] row after row.
void pick_tokens_on_host(std::span<const float> logits, int vocab, std::span<const TokenPick> picks,
                         std::vector<PickedToken>& out);

}  // namespace yardstick
