// Backend::forward_pick's default (engine/token_pick.h): the host reduction of forward()'s
// logits rows gives the sampler's token, the argmax and log-softmax values, row by row.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/cpu_backend.h"
#include "engine/error.h"
#include "engine/model_config.h"
#include "engine/sampler.h"
#include "engine/token_pick.h"
#include "engine/weights.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

TEST(TokenPick, HostReductionMatchesTheSamplerRowByRow) {
  const std::vector<float> logits = {0.f, 2.f, 1.f, 2.f,    // a tie: the lower id is the argmax
                                     -1.f, 0.5f, 3.f, 0.f};
  std::vector<TokenPick> picks(2);
  picks[0].target = 2;
  picks[1].sampling.temperature = 1.f;
  picks[1].sampling.top_k = 2;
  picks[1].stream = 7;
  picks[1].step = 3;
  std::vector<PickedToken> out;
  pick_tokens_on_host(logits, 4, picks, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].argmax, 1);
  EXPECT_EQ(out[0].token, 1);
  const std::span<const float> row0(logits.data(), 4), row1(logits.data() + 4, 4);
  EXPECT_NEAR(out[0].target_logprob, 1.0 - logsumexp(row0), 1e-6);
  EXPECT_NEAR(out[0].token_logprob, 2.0 - logsumexp(row0), 1e-6);
  EXPECT_EQ(out[1].argmax, 2);
  EXPECT_EQ(out[1].token, sample_token(row1, picks[1].sampling, 7, 3));
  EXPECT_EQ(out[1].target_logprob, 0.f);   // no target
  EXPECT_EQ(out[1].token_logprob, 0.f);    // ... and not asked for: no log-sum-exp

  picks[1].want_token_logprob = true;
  pick_tokens_on_host(logits, 4, picks, out);
  EXPECT_NEAR(out[1].token_logprob, double(row1[size_t(out[1].token)]) - logsumexp(row1), 1e-6);
  EXPECT_EQ(out[1].target_logprob, 0.f);
}

TEST(TokenPick, RefusesPicksThatDoNotMatchTheRows) {
  const std::vector<float> logits(8, 0.f);
  std::vector<TokenPick> picks(3);
  std::vector<PickedToken> out;
  EXPECT_THROW(pick_tokens_on_host(logits, 4, picks, out), InputError);
}

TEST(TokenPick, TheDefaultForwardPickReducesForwardsLogits) {
  const auto dir = test::fixtures_dir() / "llama_gqa" / "single";
  const ModelConfig cfg = load_model_config(dir);
  CpuBackend backend(cfg, Weights::load(dir, cfg), CpuBackendOptions{1, 0});
  const std::vector<int32_t> ids = {5, 9, 200, 17, 3};
  std::vector<float> logits;
  SeqId s = backend.open_sequence();
  const ForwardChunk c{s, ids, 0};
  backend.forward(std::span(&c, 1), logits);
  backend.close_sequence(s);

  std::vector<TokenPick> picks(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) picks[i].target = ids[(i + 1) % ids.size()];
  s = backend.open_sequence();
  const ForwardChunk again{s, ids, 0};
  std::vector<PickedToken> out;
  backend.forward_pick(std::span(&again, 1), picks, out);
  ASSERT_EQ(out.size(), ids.size());
  const size_t V = size_t(cfg.vocab_size);
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::span<const float> row(logits.data() + i * V, V);
    EXPECT_EQ(out[i].token, argmax(row));
    EXPECT_NEAR(out[i].target_logprob, double(row[size_t(picks[i].target)]) - logsumexp(row), 1e-5);
  }
}

}  // namespace
}  // namespace yardstick
