// From logits to tokens and log-probabilities: greedy argmax, seeded temperature/top-k/top-p
// sampling, and a careful log-softmax. Pure functions: the same inputs give the same token on
// every machine and whatever else is in the batch.
#pragma once

#include <cstdint>
#include <span>

#include "engine/requests.h"

namespace yardstick {

// Index of the largest logit; the lowest id wins ties (as torch.argmax). NaNs are never chosen
// unless every logit is NaN.
int32_t argmax(std::span<const float> logits);   // logits: [V]

// log(sum(exp(logits))), shifted by the max and summed in fp64.
double logsumexp(std::span<const float> logits);   // logits: [V]

// A uniform double in [0, 1) that depends only on (stream, step): a counter-based generator
// (SplitMix64 finaliser over the pair), so a sample's random numbers don't depend on which other
// requests share its batch or in what order steps run.
double counter_uniform(uint64_t stream, uint64_t step);

// The next token of one sample. temperature == 0 is greedy (argmax). Otherwise, as HF's
// logits processors in this order: logits / temperature, keep the top_k largest (0: all), keep
// the smallest set of most probable tokens whose probability reaches top_p, renormalise, and
// draw with counter_uniform(stream, step). Candidates are ranked by logit, ties to the lower id,
// so top_k == 1 is exactly greedy. `stream` is the sample's seed (request seed + sample index),
// `step` the index of the token being generated.
int32_t sample_token(std::span<const float> logits, const SamplingParams& params, uint64_t stream,
                     uint64_t step);

}  // namespace yardstick
