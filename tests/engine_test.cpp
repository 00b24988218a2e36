// The engine's request semantics and scheduler, over a tiny deterministic fake Backend whose
// "model" is a pure function of the tokens in the sequence; KV-memory limits through a wrapper
// that keeps paged blocks as the CUDA backend does, around the fake or the CPU backend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/cpu_backend.h"
#include "engine/engine.h"
#include "engine/error.h"
#include "engine/model_config.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"
#include "engine/weights.h"
#include "tests/engine_results.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

using test::ids_of;
using test::logprobs_of;

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// Next-token logits as a function of the sequence so far.
using FakeModel = std::function<void(std::span<const int32_t> prefix, std::span<float> logits)>;

// A model that always predicts script[len(prefix)] (logit 10, everything else 0); past the end
// of the script it predicts `after`.
FakeModel script_model(std::vector<int32_t> script, int32_t after) {
  return
      [script = std::move(script), after](std::span<const int32_t> prefix, std::span<float> out) {
        std::fill(out.begin(), out.end(), 0.0f);
        out[size_t(prefix.size() < script.size() ? script[prefix.size()] : after)] = 10.0f;
      };
}

// A model whose logits are pseudo-random but fixed by the whole prefix: a spread-out
// distribution, so sampled runs differ when anything about the sampling differs.
FakeModel hash_model() {
  return [](std::span<const int32_t> prefix, std::span<float> out) {
    uint64_t h = 1469598103934665603ull;
    for (int32_t t : prefix) h = (h ^ uint64_t(uint32_t(t))) * 1099511628211ull;
    for (size_t v = 0; v < out.size(); ++v) out[v] = float(counter_uniform(h, v) * 6.0 - 3.0);
  };
}

ModelConfig fake_config(int vocab, int context) {
  ModelConfig c;
  c.architecture = "Fake";
  c.vocab_size = vocab;
  c.max_position_embeddings = context;
  c.bos_token_id = 0;
  c.eos_token_ids = {1};
  return c;
}

struct FakeStats {
  int64_t tokens_fed = 0;
  int forward_calls = 0;         // forward_pick calls
  int plain_forward_calls = 0;   // forward calls (the scheduler should make none)
  size_t max_chunks = 0;
  int open = 0;
  int throw_on_call = -1;        // forward_pick call index that throws, -1: none
  int64_t max_blocks_used = 0;
};

class FakeBackend final : public Backend {
 public:
  FakeBackend(ModelConfig cfg, FakeModel model, bool forkable, FakeStats* stats)
      : cfg_(std::move(cfg)), model_(std::move(model)), forkable_(forkable), stats_(stats) {}

  const ModelConfig& config() const override { return cfg_; }
  std::string name() const override { return "fake"; }
  int max_sequence_length() const override { return cfg_.max_position_embeddings; }
  SeqId open_sequence() override {
    ++stats_->open;
    seqs_[next_] = {};
    return next_++;
  }
  void close_sequence(SeqId s) override {
    if (seqs_.erase(s) != 1) throw std::logic_error("close of an unknown sequence");
    --stats_->open;
  }
  int sequence_length(SeqId s) const override { return int(seqs_.at(s).size()); }
  void truncate(SeqId s, int n) override { seqs_.at(s).resize(size_t(n)); }
  bool can_fork() const override { return forkable_; }
  SeqId fork_sequence(SeqId s) override {
    const SeqId id = open_sequence();
    seqs_[id] = seqs_.at(s);
    return id;
  }
  void forward(std::span<const ForwardChunk> chunks, std::vector<float>& logits) override {
    ++stats_->plain_forward_calls;
    run(chunks, logits);
  }
  void forward_pick(std::span<const ForwardChunk> chunks, std::span<const TokenPick> picks,
                    std::vector<PickedToken>& out) override {
    if (stats_->forward_calls++ == stats_->throw_on_call) throw Error("fake backend failure");
    std::vector<float> logits;
    run(chunks, logits);
    pick_tokens_on_host(logits, cfg_.vocab_size, picks, out);
  }

 private:
  void run(std::span<const ForwardChunk> chunks, std::vector<float>& logits) {
    stats_->max_chunks = std::max(stats_->max_chunks, chunks.size());
    logits.clear();
    const size_t V = size_t(cfg_.vocab_size);
    for (const ForwardChunk& c : chunks) {
      std::vector<int32_t>& seq = seqs_.at(c.seq);
      if (seq.size() + c.tokens.size() > size_t(max_sequence_length()))
        throw std::logic_error("fed past the window");
      for (size_t i = 0; i < c.tokens.size(); ++i) {
        seq.push_back(c.tokens[i]);
        ++stats_->tokens_fed;
        if (int(i) >= c.logits_from) {
          logits.resize(logits.size() + V);
          model_(seq, std::span<float>(logits).last(V));
        }
      }
    }
  }

  ModelConfig cfg_;
  FakeModel model_;
  bool forkable_;
  FakeStats* stats_;
  std::map<SeqId, std::vector<int32_t>> seqs_;
  SeqId next_ = 0;
};

// Paged KV memory as the CUDA backend keeps it, around any backend: blocks of `block` tokens,
// refcounted so that a fork shares its source's full blocks and copies a partly filled last
// one. A forward call that needs more blocks than are free throws Error before anything
// changes, as the CUDA backend's does.
struct PagedKv {
  int block = 16;
  int64_t blocks = 0;
};

class PagedKvBackend final : public Backend {
 public:
  PagedKvBackend(std::unique_ptr<Backend> inner, PagedKv kv, int64_t* max_used = nullptr)
      : inner_(std::move(inner)), kv_(kv), max_used_(max_used) {
    refs_.assign(size_t(kv_.blocks), 0);
    for (int64_t b = kv_.blocks - 1; b >= 0; --b) free_.push_back(int32_t(b));
  }

  const ModelConfig& config() const override { return inner_->config(); }
  std::string name() const override { return inner_->name(); }
  int max_sequence_length() const override { return inner_->max_sequence_length(); }
  SeqId open_sequence() override {
    const SeqId id = inner_->open_sequence();
    tables_[id] = {};
    return id;
  }
  void close_sequence(SeqId s) override {
    shrink(tables_.at(s), 0);
    tables_.erase(s);
    inner_->close_sequence(s);
  }
  int sequence_length(SeqId s) const override { return inner_->sequence_length(s); }
  void truncate(SeqId s, int n) override {
    inner_->truncate(s, n);
    shrink(tables_.at(s), n);
  }
  bool can_fork() const override { return inner_->can_fork(); }
  SeqId fork_sequence(SeqId s) override {
    std::vector<int32_t> copy = tables_.at(s);
    for (int32_t b : copy) ++refs_[size_t(b)];
    if (sequence_length(s) % kv_.block != 0) unshare_last(copy);
    const SeqId id = inner_->fork_sequence(s);
    tables_[id] = std::move(copy);
    return id;
  }
  int kv_block_size() const override { return kv_.block; }
  int64_t kv_free_blocks() const override { return int64_t(free_.size()); }

  void forward(std::span<const ForwardChunk> chunks, std::vector<float>& logits) override {
    check(chunks);
    inner_->forward(chunks, logits);
    grow(chunks);
  }
  void forward_pick(std::span<const ForwardChunk> chunks, std::span<const TokenPick> picks,
                    std::vector<PickedToken>& out) override {
    check(chunks);
    inner_->forward_pick(chunks, picks, out);
    grow(chunks);
  }

 private:
  int64_t blocks_for(int64_t tokens) const { return (tokens + kv_.block - 1) / kv_.block; }

  void check(std::span<const ForwardChunk> chunks) const {
    int64_t need = 0;
    for (const ForwardChunk& c : chunks)
      need += blocks_for(sequence_length(c.seq) + int64_t(c.tokens.size())) -
              int64_t(tables_.at(c.seq).size());
    if (need > kv_free_blocks())
      throw Error(fmt::format("paged fake: the call needs {} KV blocks, {} are free", need, free_.size()));
  }
  void grow(std::span<const ForwardChunk> chunks) {
    for (const ForwardChunk& c : chunks) {
      std::vector<int32_t>& table = tables_.at(c.seq);
      while (int64_t(table.size()) < blocks_for(sequence_length(c.seq))) table.push_back(take());
    }
    if (max_used_) *max_used_ = std::max(*max_used_, kv_.blocks - kv_free_blocks());
  }
  int32_t take() {
    if (free_.empty()) throw std::logic_error("paged fake: no free KV block");
    const int32_t b = free_.back();
    free_.pop_back();
    refs_[size_t(b)] = 1;
    return b;
  }
  void drop(int32_t b) {
    if (--refs_[size_t(b)] == 0) free_.push_back(b);
  }
  void unshare_last(std::vector<int32_t>& table) {
    if (refs_[size_t(table.back())] > 1) drop(std::exchange(table.back(), take()));
  }
  void shrink(std::vector<int32_t>& table, int n) {
    while (int64_t(table.size()) > blocks_for(n)) {
      drop(table.back());
      table.pop_back();
    }
    if (n % kv_.block != 0) unshare_last(table);
  }

  std::unique_ptr<Backend> inner_;
  PagedKv kv_;
  int64_t* max_used_;
  std::map<SeqId, std::vector<int32_t>> tables_;   // block table of each sequence
  std::vector<int32_t> refs_;                      // [blocks] references to each block
  std::vector<int32_t> free_;
};

struct FakeSetup {
  int vocab = 64;
  int context = 64;
  FakeModel model = hash_model();
  bool forkable = true;
  std::optional<PagedKv> kv;   // none: no KV memory limit
  EngineOptions options;
  const Tokenizer* tokenizer = nullptr;
};

struct FakeEngine {
  FakeStats stats;
  std::unique_ptr<Engine> engine;
  explicit FakeEngine(const FakeSetup& s) {
    std::unique_ptr<Backend> b =
        std::make_unique<FakeBackend>(fake_config(s.vocab, s.context), s.model, s.forkable, &stats);
    if (s.kv) b = std::make_unique<PagedKvBackend>(std::move(b), *s.kv, &stats.max_blocks_used);
    engine = std::make_unique<Engine>(std::move(b), s.tokenizer, s.options);
  }
};

GenerateRequest greedy(std::vector<int32_t> prompt, int max_new) {
  GenerateRequest r;
  r.prompt_ids = std::move(prompt);
  r.max_new_tokens = max_new;
  return r;
}

GenerateRequest sampled(std::vector<int32_t> prompt, int max_new, uint64_t seed, int n = 1) {
  GenerateRequest r = greedy(std::move(prompt), max_new);
  r.sampling.temperature = 1.0f;
  r.sampling.seed = seed;
  r.n = n;
  return r;
}

const Tokenizer& deepseek_tokenizer() {
  static const Tokenizer tok =
      Tokenizer::from_file(test::shared_dir() / "reference" / "tokenizer" / "tokenizer.json");
  return tok;
}

// ---------------------------------------------------------------- generation

TEST(EngineGenerate, GreedyFollowsTheModelUntilMaxNewTokens) {
  FakeSetup s;
  s.model = script_model({2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 12);
  FakeEngine f(s);
  auto out = f.engine->generate(std::vector{greedy({2, 3}, 5)});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].samples.size(), 1u);
  EXPECT_THAT(out[0].samples[0].ids, ElementsAre(4, 5, 6, 7, 8));
  EXPECT_EQ(out[0].samples[0].finish, FinishReason::Length);
  EXPECT_EQ(f.stats.open, 0);
}

TEST(EngineGenerate, EosEndsGenerationAndIsNotReturned) {
  FakeSetup s;
  s.model = script_model({2, 3, 4, 5, 1, 7}, 12);
  FakeEngine f(s);
  auto out = f.engine->generate(std::vector{greedy({2}, 20)});
  EXPECT_THAT(out[0].samples[0].ids, ElementsAre(3, 4, 5));
  EXPECT_EQ(out[0].samples[0].finish, FinishReason::Eos);
}

TEST(EngineGenerate, ZeroMaxNewTokensGivesAnEmptyCompletion) {
  FakeEngine f(FakeSetup{});
  auto out = f.engine->generate(std::vector{greedy({2, 3}, 0)});
  EXPECT_TRUE(out[0].samples[0].ids.empty());
  EXPECT_EQ(out[0].samples[0].finish, FinishReason::Length);
  EXPECT_EQ(f.stats.forward_calls, 0);
}

TEST(EngineGenerate, PromptWithoutRoomIsAPerRequestErrorAndOthersGoOn) {
  FakeSetup s;
  s.context = 16;
  s.model = script_model({}, 5);
  FakeEngine f(s);
  std::vector<GenerateRequest> reqs{greedy({2, 3}, 3), greedy(std::vector<int32_t>(16, 2), 3),
                                    greedy({4}, 2)};
  auto out = f.engine->generate(reqs);
  EXPECT_THAT(out[0].samples[0].ids, ElementsAre(5, 5, 5));
  EXPECT_EQ(out[1].samples[0].finish, FinishReason::Error);
  EXPECT_THAT(out[1].samples[0].error, HasSubstr("context window of 16"));
  EXPECT_THAT(out[2].samples[0].ids, ElementsAre(5, 5));
}

TEST(EngineGenerate, StopsWithLengthWhenTheWindowIsFull) {
  FakeSetup s;
  s.context = 16;
  s.model = script_model({}, 5);
  FakeEngine f(s);
  auto out = f.engine->generate(std::vector{greedy(std::vector<int32_t>(12, 2), 100)});
  EXPECT_EQ(out[0].samples[0].ids.size(), 4u);   // 12 + 4 = 16 tokens
  EXPECT_EQ(out[0].samples[0].finish, FinishReason::Length);
}

TEST(EngineGenerate, BadRequestsGetErrorsNotExceptions) {
  FakeEngine f(FakeSetup{});
  GenerateRequest empty = greedy({}, 4);
  GenerateRequest bad_id = greedy({2, 64}, 4);
  GenerateRequest bad_top_p = sampled({2}, 4, 0);
  bad_top_p.sampling.top_p = 0.0f;
  auto out = f.engine->generate(std::vector{empty, bad_id, bad_top_p});
  EXPECT_THAT(out[0].samples[0].error, HasSubstr("empty"));
  EXPECT_THAT(out[1].samples[0].error, HasSubstr("token id 64"));
  EXPECT_THAT(out[2].samples[0].error, HasSubstr("top_p"));
}

TEST(EngineGenerate, StopStringsNeedATokenizer) {
  FakeEngine f(FakeSetup{});
  GenerateRequest r = greedy({2}, 4);
  r.stop = {"\n"};
  EXPECT_THROW(f.engine->generate(std::vector{r}), InputError);
}

// The script is the tokenization of `text`; the engine is asked to continue its first token.
struct TextCase {
  FakeSetup setup;
  std::vector<int32_t> ids;
};

TextCase text_case(const std::string& text) {
  const Tokenizer& tok = deepseek_tokenizer();
  TextCase c;
  c.ids = tok.encode(text);
  c.setup.vocab = 102400;
  c.setup.context = 256;
  c.setup.model = script_model(c.ids, 1);
  c.setup.tokenizer = &tok;
  return c;
}

TEST(EngineGenerate, StopStringSpanningTokensCutsTheTextBeforeIt) {
  const std::string text = "The answer is 42.\n\nQuestion: what next?";
  TextCase c = text_case(text);
  const Tokenizer& tok = deepseek_tokenizer();
  // The stop string must not be one token, or the test would not test spanning.
  ASSERT_GT(tok.encode("\n\nQuestion:").size(), 1u);
  FakeEngine f(c.setup);
  GenerateRequest r = greedy({c.ids[0]}, 50);
  r.stop = {"\n\nQuestion:"};
  auto out = f.engine->generate(std::vector{r});
  const Completion& got = out[0].samples[0];
  EXPECT_EQ(got.finish, FinishReason::Stop);
  EXPECT_EQ(tok.decode(std::vector{c.ids[0]}) + got.text, "The answer is 42.");
  // ids end with the token that completed the stop string.
  std::vector<int32_t> with_first{c.ids[0]};
  with_first.insert(with_first.end(), got.ids.begin(), got.ids.end());
  const std::string decoded = tok.decode(with_first);
  EXPECT_TRUE(decoded.ends_with(":") || decoded.find("\n\nQuestion:") != std::string::npos)
      << decoded;
  EXPECT_EQ(tok.decode(std::vector<int32_t>(with_first.begin(), with_first.end() - 1))
                .find("\n\nQuestion:"),
            std::string::npos);
}

TEST(EngineGenerate, EarliestStopStringWins) {
  TextCase c = text_case("x = 1; y = 2; z = 3");
  FakeEngine f(c.setup);
  GenerateRequest r = greedy({c.ids[0]}, 50);
  r.stop = {"z =", "; y", "2"};
  auto out = f.engine->generate(std::vector{r});
  EXPECT_EQ(out[0].samples[0].text, " = 1");
  EXPECT_EQ(out[0].samples[0].finish, FinishReason::Stop);
}

TEST(EngineGenerate, TextIsTheDecodedIdsWithoutStopOrEos) {
  TextCase c = text_case("déjà vu, 東京 and 🙂 too");
  FakeEngine f(c.setup);
  auto out = f.engine->generate(std::vector{greedy({c.ids[0]}, 100)});
  const Completion& got = out[0].samples[0];
  EXPECT_EQ(got.finish, FinishReason::Eos);   // the script ends in EOS (id 1)
  EXPECT_THAT(got.ids, ElementsAreArray(std::vector<int32_t>(c.ids.begin() + 1, c.ids.end())));
  EXPECT_EQ(deepseek_tokenizer().decode(std::vector{c.ids[0]}) + got.text,
            "déjà vu, 東京 and 🙂 too");
}

// ---------------------------------------------------------------- sampling and batching

std::vector<GenerateRequest> mixed_requests() {
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 7; ++i) {
    std::vector<int32_t> prompt;
    for (int j = 0; j < 3 + 5 * i; ++j) prompt.push_back(2 + (i * 7 + j * 3) % 60);
    GenerateRequest r =
        (i % 3 == 0) ? greedy(prompt, 6 + i) : sampled(prompt, 6 + i, 100 + i, 1 + i % 3);
    if (i == 4) r.sampling.top_k = 5;
    if (i == 5) r.sampling.top_p = 0.5f;
    reqs.push_back(r);
  }
  return reqs;
}

TEST(EngineGenerate, ResultsDoNotDependOnBatchingChunkingOrForking) {
  FakeSetup base;
  FakeEngine ref_engine(base);
  const auto reqs = mixed_requests();
  const auto reference = ids_of(ref_engine.engine->generate(reqs));
  for (int max_batch : {1, 2, 5, 64}) {
    for (int prefill : {1, 4, 512}) {
      for (bool forkable : {false, true}) {
        FakeSetup s;
        s.options.max_batch = max_batch;
        s.options.max_prefill_tokens = prefill;
        s.forkable = forkable;
        FakeEngine f(s);
        EXPECT_EQ(ids_of(f.engine->generate(reqs)), reference)
            << "max_batch " << max_batch << " prefill " << prefill << " fork " << forkable;
        EXPECT_LE(f.stats.max_chunks, size_t(max_batch));
        EXPECT_EQ(f.stats.open, 0);
      }
    }
  }
  // And each request alone gives what it gave in company.
  for (size_t i = 0; i < reqs.size(); ++i) {
    FakeEngine f(base);
    EXPECT_EQ(ids_of(f.engine->generate(std::vector{reqs[i]}))[0], reference[i]) << i;
  }
}

TEST(EngineGenerate, SamplingIsReproducibleBySeedAndDiffersAcrossSeeds) {
  FakeEngine f(FakeSetup{});
  auto a = f.engine->generate(std::vector{sampled({2, 3}, 16, 7)});
  auto b = f.engine->generate(std::vector{sampled({2, 3}, 16, 7)});
  auto c = f.engine->generate(std::vector{sampled({2, 3}, 16, 8)});
  EXPECT_EQ(a[0].samples[0].ids, b[0].samples[0].ids);
  EXPECT_NE(a[0].samples[0].ids, c[0].samples[0].ids);
}

TEST(EngineGenerate, SampleIUsesSeedPlusI) {
  FakeEngine f(FakeSetup{});
  auto many = f.engine->generate(std::vector{sampled({2, 3}, 12, 40, 3)});
  ASSERT_EQ(many[0].samples.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    auto one = f.engine->generate(std::vector{sampled({2, 3}, 12, 40 + uint64_t(i))});
    EXPECT_EQ(many[0].samples[size_t(i)].ids, one[0].samples[0].ids) << i;
  }
  EXPECT_NE(many[0].samples[0].ids, many[0].samples[1].ids);
}

TEST(EngineGenerate, TopKOneEqualsGreedy) {
  FakeEngine f(FakeSetup{});
  GenerateRequest k1 = sampled({5, 9, 11}, 20, 3);
  k1.sampling.top_k = 1;
  auto a = f.engine->generate(std::vector{k1});
  auto b = f.engine->generate(std::vector{greedy({5, 9, 11}, 20)});
  EXPECT_EQ(a[0].samples[0].ids, b[0].samples[0].ids);
}

TEST(EngineGenerate, SamplesOfOnePromptShareOnePrefillWhenTheBackendForks) {
  const std::vector<int32_t> prompt(40, 7);
  FakeSetup s;
  FakeEngine f(s);
  f.engine->generate(std::vector{sampled(prompt, 5, 1, 4)});
  // prompt[:-1] once, then each sample feeds the last prompt token and its tokens but the last
  // (which needs no logits).
  EXPECT_EQ(f.stats.tokens_fed, 39 + 4 * (1 + 4));
  EXPECT_EQ(f.stats.open, 0);
}

TEST(EngineGenerate, CallbackGetsEachRequestOnce) {
  FakeEngine f(FakeSetup{});
  const auto reqs = mixed_requests();
  std::vector<int> seen(reqs.size(), 0);
  f.engine->generate(reqs, [&](size_t i, GenerateResult r) {
    ++seen.at(i);
    EXPECT_EQ(r.samples.size(), size_t(reqs[i].n));
  });
  EXPECT_THAT(seen, ::testing::Each(1));
}

TEST(EngineGenerate, BackendFailurePropagatesAndReleasesSequences) {
  FakeSetup s;
  FakeEngine f(s);
  f.stats.throw_on_call = 3;
  EXPECT_THROW(f.engine->generate(mixed_requests()), Error);
  EXPECT_EQ(f.stats.open, 0);
}

// ---------------------------------------------------------------- loglikelihood

// log_softmax of the hash model after `prefix`, at `token`, and whether it is the argmax.
std::pair<double, bool> expected_logprob(const std::vector<int32_t>& prefix, int32_t token) {
  std::vector<float> logits(64);
  hash_model()(prefix, logits);
  double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits) sum += std::exp(double(x) - max);
  return {double(logits[size_t(token)]) - max - std::log(sum), argmax(logits) == token};
}

TEST(EngineLoglikelihood, ScoresEveryContinuationTokenAgainstTheModel) {
  FakeEngine f(FakeSetup{});
  const std::vector<int32_t> ctx{5, 6, 7, 8};
  LoglikelihoodRequest r{ctx, {{9}, {10, 11, 12}, {13, 14}}};
  auto out = f.engine->loglikelihood(std::vector{r});
  ASSERT_TRUE(out[0].error.empty()) << out[0].error;
  ASSERT_EQ(out[0].scores.size(), 3u);
  for (size_t j = 0; j < 3; ++j) {
    std::vector<int32_t> prefix = ctx;
    double sum = 0;
    bool greedy_all = true;
    const auto& cont = r.continuations[j];
    ASSERT_EQ(out[0].scores[j].logprobs.size(), cont.size());
    for (size_t k = 0; k < cont.size(); ++k) {
      auto [lp, is_greedy] = expected_logprob(prefix, cont[k]);
      EXPECT_NEAR(out[0].scores[j].logprobs[k], lp, 1e-6);
      sum += lp;
      greedy_all = greedy_all && is_greedy;
      prefix.push_back(cont[k]);
    }
    EXPECT_NEAR(out[0].scores[j].sum_logprob, sum, 1e-5);   // a sum of float log-probs
    EXPECT_EQ(out[0].scores[j].is_greedy, greedy_all);
  }
  // context[:-1] went in once; each continuation as [context.back()] + all but its last token.
  EXPECT_EQ(f.stats.tokens_fed, 3 + 1 + 3 + 2);
  EXPECT_EQ(f.stats.open, 0);
}

TEST(EngineLoglikelihood, GreedyContinuationIsGreedy) {
  FakeEngine generator(FakeSetup{});
  const std::vector<int32_t> ctx{3, 1 + 3, 17};
  auto g = generator.engine->generate(std::vector{greedy(ctx, 5)});
  std::vector<int32_t> cont = g[0].samples[0].ids;
  ASSERT_FALSE(cont.empty());
  FakeEngine f(FakeSetup{});
  std::vector<int32_t> other = cont;
  other.back() = (other.back() + 1) % 64 == 1 ? 2 : (other.back() + 1) % 64;
  auto out = f.engine->loglikelihood(std::vector{LoglikelihoodRequest{ctx, {cont, other}}});
  EXPECT_TRUE(out[0].scores[0].is_greedy);
  EXPECT_FALSE(out[0].scores[1].is_greedy);
}

TEST(EngineLoglikelihood, EmptyContextMeansBos) {
  FakeEngine f(FakeSetup{});
  auto a = f.engine->loglikelihood(std::vector{LoglikelihoodRequest{{}, {{4, 5}}}});
  auto b = f.engine->loglikelihood(std::vector{LoglikelihoodRequest{{0}, {{4, 5}}}});
  ASSERT_TRUE(a[0].error.empty());
  EXPECT_EQ(a[0].scores[0].logprobs, b[0].scores[0].logprobs);
}

TEST(EngineLoglikelihood, EmptyContextWithoutBosIsAnError) {
  FakeSetup s;
  FakeStats stats;
  ModelConfig cfg = fake_config(64, 64);
  cfg.bos_token_id = -1;
  Engine e(std::make_unique<FakeBackend>(cfg, hash_model(), true, &stats), nullptr);
  auto out = e.loglikelihood(std::vector{LoglikelihoodRequest{{}, {{4}}}});
  EXPECT_THAT(out[0].error, HasSubstr("BOS"));
}

TEST(EngineLoglikelihood, TooLongOrEmptyIsAPerRequestErrorAndOthersGoOn) {
  FakeSetup s;
  s.context = 16;
  FakeEngine f(s);
  std::vector<LoglikelihoodRequest> reqs{
      {std::vector<int32_t>(10, 3), {{4, 5}, std::vector<int32_t>(7, 4)}},
      {{2, 3}, {{4}}},
      {{2, 3}, {{}}},
  };
  auto out = f.engine->loglikelihood(reqs);
  EXPECT_THAT(out[0].error, HasSubstr("context window of 16"));
  EXPECT_TRUE(out[1].error.empty());
  EXPECT_EQ(out[1].scores.size(), 1u);
  EXPECT_THAT(out[2].error, HasSubstr("empty"));
}

TEST(EngineLoglikelihood, ResultsDoNotDependOnBatching) {
  std::vector<LoglikelihoodRequest> reqs;
  for (int i = 0; i < 6; ++i)
    reqs.push_back({std::vector<int32_t>(size_t(2 + 3 * i), 2 + i), {{3, 4, 5}, {6}, {7, 8}}});
  FakeEngine ref(FakeSetup{});
  auto reference = ref.engine->loglikelihood(reqs);
  for (int max_batch : {1, 3}) {
    for (int prefill : {1, 5}) {
      FakeSetup s;
      s.options = {max_batch, prefill};
      FakeEngine f(s);
      auto got = f.engine->loglikelihood(reqs);
      for (size_t i = 0; i < reqs.size(); ++i)
        for (size_t j = 0; j < 3; ++j)
          EXPECT_EQ(got[i].scores[j].logprobs, reference[i].scores[j].logprobs);
    }
  }
}

// ---------------------------------------------------------------- KV memory

// Loglikelihood requests long enough to need several KV blocks each.
std::vector<LoglikelihoodRequest> scoring_requests() {
  std::vector<LoglikelihoodRequest> reqs;
  for (int i = 0; i < 8; ++i) {
    std::vector<int32_t> ctx;
    for (int j = 0; j < 4 + 3 * i; ++j) ctx.push_back(2 + (i * 5 + j * 7) % 60);
    // The last continuation is the longest: the sequence outgrows what admission saw.
    reqs.push_back({ctx, {{9}, {3, 4, 5}, {10, 11}, std::vector<int32_t>(14, 20 + i)}});
  }
  return reqs;
}

// The largest mixed request: a 33-token prompt and 12 new tokens, 12 blocks of 4.
constexpr int kBlock = 4;

TEST(EngineKvMemory, TightMemoryGivesTheSameGenerationsAndPreempts) {
  const auto reqs = mixed_requests();
  FakeEngine ref(FakeSetup{});
  const auto reference = ids_of(ref.engine->generate(reqs));
  int64_t preemptions = 0;
  for (bool forkable : {false, true}) {
    for (int64_t blocks : {12, 13, 16, 24, 40}) {
      FakeSetup s;
      s.forkable = forkable;
      s.kv = PagedKv{kBlock, blocks};
      FakeEngine f(s);
      // The fake throws when a forward call needs more blocks than are free.
      EXPECT_EQ(ids_of(f.engine->generate(reqs)), reference) << "fork " << forkable << " blocks " << blocks;
      EXPECT_EQ(f.stats.open, 0);
      EXPECT_LE(f.stats.max_blocks_used, blocks);
      preemptions += f.engine->stats().preemptions;
    }
  }
  EXPECT_GT(preemptions, 0);
}

TEST(EngineKvMemory, TightMemoryGivesTheSameLogprobsAndPreempts) {
  const auto reqs = scoring_requests();
  FakeEngine ref(FakeSetup{});
  const auto reference = logprobs_of(ref.engine->loglikelihood(reqs));
  int64_t preemptions = 0;
  // The largest request: 25 tokens of context and 14 of continuation, 10 blocks of 4.
  for (int64_t blocks : {10, 11, 14, 20}) {
    FakeSetup s;
    s.kv = PagedKv{kBlock, blocks};
    FakeEngine f(s);
    EXPECT_EQ(logprobs_of(f.engine->loglikelihood(reqs)), reference) << "blocks " << blocks;
    EXPECT_EQ(f.stats.open, 0);
    preemptions += f.engine->stats().preemptions;
  }
  EXPECT_GT(preemptions, 0);
}

TEST(EngineKvMemory, WorkTooBigForTheWholeCacheIsAPerRequestErrorAndOthersGoOn) {
  FakeSetup s;
  s.kv = PagedKv{kBlock, 8};   // 32 tokens, less than the context window of 64
  s.model = script_model({}, 5);
  FakeEngine f(s);
  std::vector<GenerateRequest> reqs{greedy({2, 3}, 3), greedy(std::vector<int32_t>(40, 2), 3),
                                    greedy(std::vector<int32_t>(30, 2), 10), greedy({4}, 2)};
  GenerateRequest shared = sampled(std::vector<int32_t>(36, 2), 2, 7, 3);   // forked prefix too big
  reqs.push_back(shared);
  auto out = f.engine->generate(reqs);
  EXPECT_THAT(out[0].samples[0].ids, ElementsAre(5, 5, 5));
  EXPECT_EQ(out[1].samples[0].finish, FinishReason::Error);
  EXPECT_THAT(out[1].samples[0].error, HasSubstr("needs 10 KV blocks of 4 tokens, the cache has 8"));
  // 30 prompt tokens fit; the sequence outgrows the cache at its 33rd token.
  EXPECT_EQ(out[2].samples[0].finish, FinishReason::Error);
  EXPECT_THAT(out[2].samples[0].error, HasSubstr("needs 9 KV blocks of 4 tokens, the cache has 8"));
  EXPECT_THAT(out[3].samples[0].ids, ElementsAre(5, 5));
  ASSERT_EQ(out[4].samples.size(), 3u);
  for (const Completion& c : out[4].samples) EXPECT_THAT(c.error, HasSubstr("the cache has 8"));
  EXPECT_EQ(f.stats.open, 0);

  std::vector<LoglikelihoodRequest> lls{{std::vector<int32_t>(30, 3), {{4, 5}, std::vector<int32_t>(5, 4)}},
                                        {{2, 3}, {{4}}}};
  auto ll = f.engine->loglikelihood(lls);
  EXPECT_THAT(ll[0].error, HasSubstr("needs 9 KV blocks of 4 tokens, the cache has 8"));
  EXPECT_TRUE(ll[1].error.empty());
  EXPECT_EQ(ll[1].scores.size(), 1u);
  EXPECT_EQ(f.stats.open, 0);
}

TEST(EngineKvMemory, ASharedPrefixIsLetGoWhenTheRunningSampleNeedsItsBlocks) {
  // One sequence at a time: the prefix (9 tokens, 3 blocks) waits for samples 1 and 2 while
  // sample 0 grows to 29 tokens, 8 blocks of its own table of which 2 are shared with the
  // prefix: with the prefix's last block that is 9 of the 8 the cache has, so the prefix must
  // go and samples 1 and 2 prefill on their own.
  FakeSetup s;
  s.model = script_model({}, 5);
  s.options.max_batch = 1;
  const std::vector<GenerateRequest> reqs{sampled(std::vector<int32_t>(10, 2), 20, 3, 3)};
  FakeEngine roomy(s);
  const auto want = ids_of(roomy.engine->generate(reqs));
  s.kv = PagedKv{kBlock, 8};
  FakeEngine tight(s);
  EXPECT_EQ(ids_of(tight.engine->generate(reqs)), want);
  EXPECT_EQ(tight.stats.tokens_fed, roomy.stats.tokens_fed + 2 * 9);
  EXPECT_EQ(tight.stats.open, 0);
}

TEST(EngineKvMemory, WorkStarvedByMemoryHeldOutsideTheEngineFailsInsteadOfWaiting) {
  FakeSetup s;
  s.model = script_model({}, 5);
  s.kv = PagedKv{kBlock, 8};
  FakeEngine f(s);
  const std::vector<GenerateRequest> reqs{greedy({2}, 1), greedy(std::vector<int32_t>(8, 2), 20)};
  std::vector<GenerateResult> out(reqs.size());
  SeqId outside = -1;
  f.engine->generate(reqs, [&](size_t i, GenerateResult r) {
    out[i] = std::move(r);
    if (i != 0) return;
    // Someone else takes 4 of the 8 blocks while request 1 is running.
    Backend& b = f.engine->backend();
    outside = b.open_sequence();
    const std::vector<int32_t> tokens(16, 3);
    const ForwardChunk c{outside, tokens, 16};
    std::vector<float> logits;
    b.forward(std::span(&c, 1), logits);
  });
  EXPECT_THAT(out[0].samples[0].ids, ElementsAre(5));
  EXPECT_EQ(out[1].samples[0].finish, FinishReason::Error);
  EXPECT_THAT(out[1].samples[0].error, HasSubstr("of the cache's 8 are free for it"));
  f.engine->backend().close_sequence(outside);
  EXPECT_EQ(f.stats.open, 0);
}

TEST(EngineKvMemory, SchedulerReducesRowsThroughForwardPick) {
  FakeEngine f(FakeSetup{});
  f.engine->generate(mixed_requests());
  f.engine->loglikelihood(scoring_requests());
  EXPECT_GT(f.stats.forward_calls, 0);
  EXPECT_EQ(f.stats.plain_forward_calls, 0);
  EXPECT_EQ(f.engine->stats().steps, f.stats.forward_calls);
}

// The CPU backend on the GQA fixture, under a paged KV limit: its logits don't depend on
// chunking or batching, so a preempted and re-fed request must give exactly what it gives with
// unlimited memory.
std::unique_ptr<Backend> fixture_backend() {
  const std::filesystem::path dir = test::fixtures_dir() / "llama_gqa" / "single";
  const ModelConfig cfg = load_model_config(dir);
  CpuBackendOptions o;
  o.threads = 1;
  return std::make_unique<CpuBackend>(cfg, Weights::load(dir, cfg), o);
}

TEST(EngineKvMemory, CpuBackendUnderTightMemoryGivesWhatItGivesUnlimited) {
  std::ifstream in(test::fixtures_dir() / "llama_gqa" / "reference.json");
  const nlohmann::json ref = nlohmann::json::parse(in);
  std::vector<GenerateRequest> gens;
  for (const auto& p : ref["prompts"]) {
    const auto ids = p["ids"].get<std::vector<int32_t>>();
    gens.push_back(greedy(ids, 60));
    GenerateRequest s = sampled(ids, 60, 11, 3);
    s.sampling.temperature = 0.8f;
    gens.push_back(s);
  }
  std::vector<LoglikelihoodRequest> lls;
  for (const auto& ll : ref["loglikelihood"]) {
    LoglikelihoodRequest r;
    r.context_ids = ll["context"].get<std::vector<int32_t>>();
    for (const auto& c : ll["continuations"]) r.continuations.push_back(c["ids"].get<std::vector<int32_t>>());
    for (int i = 0; i < 6; ++i) {
      lls.push_back(r);
      r.context_ids.insert(r.context_ids.end(), r.context_ids.begin(), r.context_ids.begin() + 7);
    }
  }

  Engine unlimited(fixture_backend(), nullptr, EngineOptions{8, 64});
  const auto want_ids = ids_of(unlimited.generate(gens));
  const auto want_lps = logprobs_of(unlimited.loglikelihood(lls));

  int64_t max_used = 0;
  // The longest generation holds 100 + 60 tokens: 10 blocks of 16.
  Engine tight(std::make_unique<PagedKvBackend>(fixture_backend(), PagedKv{16, 11}, &max_used), nullptr,
               EngineOptions{8, 64});
  EXPECT_EQ(ids_of(tight.generate(gens)), want_ids);
  EXPECT_EQ(logprobs_of(tight.loglikelihood(lls)), want_lps);
  EXPECT_GT(tight.stats().preemptions, 0);
  EXPECT_LE(max_used, 11);
}

}  // namespace
}  // namespace yardstick
