#include "engine/token_pick.h"

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/sampler.h"

namespace yardstick {

void pick_tokens_on_host(std::span<const float> logits, int vocab, std::span<const TokenPick> picks,
                         std::vector<PickedToken>& out) {
  if (logits.size() != picks.size() * size_t(vocab)) {
    throw InputError(fmt::format("pick_tokens_on_host: {} picks for {} logits rows of {}", picks.size(),
                                 logits.size() / size_t(vocab), vocab));
  }
  out.resize(picks.size());
  for (size_t r = 0; r < picks.size(); ++r) {
    const std::span<const float> row = logits.subspan(r * size_t(vocab), size_t(vocab));
    const TokenPick& p = picks[r];
    PickedToken& o = out[r];
    o.argmax = argmax(row);
    o.token = sample_token(row, p.sampling, p.stream, p.step);
    const bool has_target = p.target >= 0 && p.target < vocab;
    // A vocabulary of exp() per row: generation, which needs neither log-prob, skips it.
    const double lse = has_target || p.want_token_logprob ? logsumexp(row) : 0.0;
    o.token_logprob = has_target || p.want_token_logprob ? float(double(row[size_t(o.token)]) - lse) : 0.f;
    o.target_logprob = has_target ? float(double(row[size_t(p.target)]) - lse) : 0.f;
  }
}

}  // namespace yardstick
