// The engine's request kinds: a closed set, as in lm-evaluation-harness (DESIGN.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace yardstick {

struct SamplingParams {
  float temperature = 0.0f;   // 0: greedy (argmax)
  float top_p = 1.0f;
  int top_k = 0;              // 0: off
  uint64_t seed = 0;          // sample i of a request uses seed + i
};

struct GenerateRequest {
  std::vector<int32_t> prompt_ids;   // BOS included if the caller wants it
  int max_new_tokens = 256;
  std::vector<std::string> stop;     // matched on decoded text; not part of the output
  SamplingParams sampling;
  int n = 1;                         // samples per request
};

enum class FinishReason { Length, Stop, Eos, Error };
const char* finish_reason_name(FinishReason r);   // "length" | "stop" | "eos" | "error"

struct Completion {
  // Generated ids. EOS is excluded; on a stop string they run up to and including the token
  // that completed it (whose text may reach past the cut in `text`).
  std::vector<int32_t> ids;
  std::string text;           // decoded output, cut before the stop string
  FinishReason finish = FinishReason::Length;
  std::string error;          // set when finish == Error (e.g. prompt longer than the context)
};

struct GenerateResult {
  std::vector<Completion> samples;   // n of them
};

struct LoglikelihoodRequest {
  std::vector<int32_t> context_ids;                 // prefilled once for all continuations
  std::vector<std::vector<int32_t>> continuations;  // each non-empty
};

struct ContinuationScore {
  std::vector<float> logprobs;   // one per continuation token
  double sum_logprob = 0.0;
  bool is_greedy = false;        // every continuation token was the argmax
};

struct LoglikelihoodResult {
  std::vector<ContinuationScore> scores;   // one per continuation, in order
  std::string error;                       // non-empty: the request could not be served
};

}  // namespace yardstick
