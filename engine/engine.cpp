// Request semantics over the scheduler: generate_until samples and loglikelihood scoring.
//
// generate_until, per sample:
//   - A prompt must leave room for at least one new token in the window (prompt length <
//     max_sequence_length), else the request gets Completion::error. Generation stops with
//     Length after max_new_tokens, or when prompt + output fill the window.
//   - EOS (any of the config's eos ids) ends it with Eos; the EOS id is not in ids or text.
//   - Stop strings are matched on the decoded text after every token, so one may span tokens.
//     text is cut before the earliest stop string found; ids run up to and including the token
//     that completed it (that token's text may reach past the cut). Empty stop strings are ignored.
//   - Sample i draws with seed + i; with a forking backend all samples share one prefill.
// loglikelihood: the context is prefilled once; each continuation is then fed (all but its last
// token), scored from the logits, and the sequence truncated back to the context. An empty
// context means [BOS]; context + continuation must fit in max_sequence_length.
#include "engine/engine.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <utility>

#include <fmt/core.h>

#include "engine/error.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"

namespace yardstick {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Length: return "length";
    case FinishReason::Stop: return "stop";
    case FinishReason::Eos: return "eos";
    case FinishReason::Error: return "error";
  }
  return "?";
}

namespace {

// "" when every id is in the vocabulary, else what is wrong.
std::string check_ids(std::span<const int32_t> ids, int vocab_size, const char* what) {
  for (int32_t id : ids)
    if (id < 0 || id >= vocab_size)
      return fmt::format("{} has token id {}, outside the model's vocabulary of {}", what, id,
                         vocab_size);
  return "";
}

// ---------------------------------------------------------------- generate_until

// What the samples of one request share: the request, the result being filled in, and, when the
// backend can fork, the prompt's prefill (done by sample 0, then forked by the others).
struct GenerateGroup {
  const GenerateRequest* request = nullptr;
  size_t index = 0;
  GenerateResult result;
  int unfinished = 0;
  const Engine::GenerateCallback* on_done = nullptr;

  bool share_prefill = false;
  bool prefix_ready = false;
  SeqId prefix = -1;                  // the prompt's KV state, until every sample has forked it
  std::vector<float> prefix_logits;   // [V] logits after the prompt
  int forks_left = 0;
};

class SampleWork final : public SeqWork {
 public:
  SampleWork(GenerateGroup& group, int sample, const Tokenizer* tokenizer, int max_len)
      : g_(group), req_(*group.request), sample_(sample), max_len_(max_len) {
    if (tokenizer) decoder_.emplace(*tokenizer);
    for (const std::string& s : req_.stop) max_stop_ = std::max(max_stop_, s.size());
  }

  bool ready() const override { return !g_.share_prefill || sample_ == 0 || g_.prefix_ready; }

  void start(Backend& backend) override {
    if (g_.share_prefill && sample_ > 0) {
      seq = backend.fork_sequence(g_.prefix);
      if (--g_.forks_left == 0) close_prefix(backend);
      next_token(backend, g_.prefix_logits);
      return;
    }
    seq = backend.open_sequence();
    feed = req_.prompt_ids;
    want_from = feed.size() - 1;
  }

  void on_logits(Backend& backend, size_t, std::span<const float> row) override {
    if (g_.share_prefill && !g_.prefix_ready) {   // sample 0 has just prefilled the prompt
      g_.prefix = backend.fork_sequence(seq);
      g_.prefix_logits.assign(row.begin(), row.end());
      g_.prefix_ready = true;
      g_.forks_left = req_.n - 1;
    }
    next_token(backend, row);
  }

  void release(Backend& backend) override {
    if (seq >= 0) backend.close_sequence(std::exchange(seq, -1));
    close_prefix(backend);
  }

 private:
  void close_prefix(Backend& backend) {
    if (g_.prefix >= 0) backend.close_sequence(std::exchange(g_.prefix, -1));
  }

  void next_token(Backend& backend, std::span<const float> logits) {
    const uint64_t stream = req_.sampling.seed + uint64_t(sample_);
    const int32_t tok = sample_token(logits, req_.sampling, stream, out_.ids.size());
    if (backend.config().is_eos(tok)) return finish(backend, FinishReason::Eos);
    out_.ids.push_back(tok);
    if (decoder_) {
      const size_t old_len = out_.text.size();
      out_.text += decoder_->push(tok);
      if (size_t cut = find_stop(old_len); cut != std::string::npos) {
        out_.text.resize(cut);
        return finish(backend, FinishReason::Stop);
      }
    }
    const size_t total = req_.prompt_ids.size() + out_.ids.size();
    if (out_.ids.size() >= size_t(req_.max_new_tokens) || total >= size_t(max_len_))
      return finish(backend, FinishReason::Length);
    feed.assign(1, tok);
    fed = 0;
    want_from = 0;
  }

  // Where the earliest stop string starts in the text, if one has appeared since the text was
  // old_len bytes long (before that none had).
  size_t find_stop(size_t old_len) const {
    const size_t from = old_len >= max_stop_ ? old_len - max_stop_ + 1 : 0;
    size_t best = std::string::npos;
    for (const std::string& s : req_.stop)
      if (!s.empty()) best = std::min(best, out_.text.find(s, from));
    return best;
  }

  void finish(Backend& backend, FinishReason reason) {
    if (decoder_ && reason != FinishReason::Stop) out_.text += decoder_->flush();
    out_.finish = reason;
    if (seq >= 0) backend.close_sequence(std::exchange(seq, -1));
    done = true;
    g_.result.samples[size_t(sample_)] = std::move(out_);
    if (--g_.unfinished == 0) (*g_.on_done)(g_.index, std::move(g_.result));
  }

  GenerateGroup& g_;
  const GenerateRequest& req_;
  const int sample_;
  const int max_len_;
  std::optional<IncrementalDecoder> decoder_;
  size_t max_stop_ = 0;
  Completion out_;
};

// Why a request can't be served as it is, or "".
std::string check_generate(const GenerateRequest& r, const ModelConfig& cfg, int max_len) {
  if (r.n < 1) return fmt::format("n is {}; it must be at least 1", r.n);
  if (r.max_new_tokens < 0) return fmt::format("max_new_tokens is {}", r.max_new_tokens);
  if (!(r.sampling.temperature >= 0.0f))
    return fmt::format("temperature is {}; it must be >= 0", r.sampling.temperature);
  if (!(r.sampling.top_p > 0.0f && r.sampling.top_p <= 1.0f))
    return fmt::format("top_p is {}; it must be in (0, 1]", r.sampling.top_p);
  if (r.sampling.top_k < 0) return fmt::format("top_k is {}; it must be >= 0", r.sampling.top_k);
  if (r.prompt_ids.empty()) return "the prompt is empty";
  if (std::string e = check_ids(r.prompt_ids, cfg.vocab_size, "the prompt"); !e.empty()) return e;
  if (r.prompt_ids.size() >= size_t(max_len))
    return fmt::format("the prompt has {} tokens and leaves no room in the context window of {}",
                       r.prompt_ids.size(), max_len);
  return "";
}

GenerateResult error_result(int n, const std::string& error) {
  GenerateResult result;
  result.samples.resize(size_t(std::max(n, 1)));
  for (Completion& c : result.samples) {
    c.finish = FinishReason::Error;
    c.error = error;
  }
  return result;
}

// ---------------------------------------------------------------- loglikelihood

class LoglikelihoodWork final : public SeqWork {
 public:
  LoglikelihoodWork(const LoglikelihoodRequest& request, std::vector<int32_t> context, size_t index,
                    const Engine::LoglikelihoodCallback& on_done)
      : req_(request), context_(std::move(context)), index_(index), on_done_(on_done) {
    result_.scores.resize(req_.continuations.size());
  }

  void start(Backend& backend) override {
    seq = backend.open_sequence();
    feed = context_;
    want_from = feed.size() - 1;
  }

  void on_logits(Backend& backend, size_t i, std::span<const float> row) override {
    if (cont_ < 0) {   // the context is in: its last row predicts every continuation's first token
      context_logits_.assign(row.begin(), row.end());
      return begin_continuation(backend, 0);
    }
    // feed[i] is continuation token i, so its row scores token i + 1.
    const auto& cont = req_.continuations[size_t(cont_)];
    score(row, cont[i + 1]);
    if (i + 2 == cont.size()) {
      backend.truncate(seq, int(context_.size()));
      begin_continuation(backend, cont_ + 1);
    }
  }

  void release(Backend& backend) override {
    if (seq >= 0) backend.close_sequence(std::exchange(seq, -1));
  }

 private:
  // Scores continuations from j on, until one needs tokens fed (or all are done).
  void begin_continuation(Backend& backend, int j) {
    for (cont_ = j; size_t(cont_) < req_.continuations.size(); ++cont_) {
      const auto& cont = req_.continuations[size_t(cont_)];
      score(context_logits_, cont[0]);
      if (cont.size() > 1) {
        feed.assign(cont.begin(), cont.end() - 1);
        fed = 0;
        want_from = 0;
        return;
      }
    }
    release(backend);
    done = true;
    on_done_(index_, std::move(result_));
  }

  // log_softmax(row)[token], added to the current continuation's score.
  void score(std::span<const float> row, int32_t token) {
    ContinuationScore& s = result_.scores[size_t(cont_)];
    const double lp = double(row[size_t(token)]) - logsumexp(row);
    if (s.logprobs.empty()) s.is_greedy = true;
    s.logprobs.push_back(float(lp));
    s.sum_logprob += lp;
    s.is_greedy = s.is_greedy && argmax(row) == token;
  }

  const LoglikelihoodRequest& req_;
  const std::vector<int32_t> context_;   // [BOS] when the request's is empty
  const size_t index_;
  const Engine::LoglikelihoodCallback& on_done_;
  LoglikelihoodResult result_;
  int cont_ = -1;                       // the continuation being scored; -1: context first
  std::vector<float> context_logits_;   // [V]
};

// The context to prefill, or an error: an empty context becomes [BOS].
std::string check_loglikelihood(const LoglikelihoodRequest& r, const ModelConfig& cfg, int max_len,
                                std::vector<int32_t>& context) {
  context = r.context_ids;
  if (context.empty()) {
    if (cfg.bos_token_id < 0) return "the context is empty and the model has no BOS token";
    context.push_back(cfg.bos_token_id);
  }
  if (std::string e = check_ids(context, cfg.vocab_size, "the context"); !e.empty()) return e;
  for (size_t j = 0; j < r.continuations.size(); ++j) {
    const auto& cont = r.continuations[j];
    const std::string what = fmt::format("continuation {}", j);
    if (cont.empty()) return what + " is empty";
    if (std::string e = check_ids(cont, cfg.vocab_size, what.c_str()); !e.empty()) return e;
    if (context.size() + cont.size() > size_t(max_len))
      return fmt::format("context ({} tokens) + {} ({} tokens) exceed the context window of {}",
                         context.size(), what, cont.size(), max_len);
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------- Engine

Engine::Engine(std::unique_ptr<Backend> backend, const Tokenizer* tokenizer, EngineOptions options)
    : backend_(std::move(backend)), tokenizer_(tokenizer), options_(options) {}

Engine::~Engine() = default;

const ModelConfig& Engine::config() const { return backend_->config(); }
Backend& Engine::backend() { return *backend_; }

void Engine::generate(std::span<const GenerateRequest> requests, const GenerateCallback& on_done) {
  if (!tokenizer_)
    for (size_t i = 0; i < requests.size(); ++i)
      if (!requests[i].stop.empty())
        throw InputError(fmt::format(
            "request {} has stop strings, which need a tokenizer, and this model has none", i));

  const ModelConfig& cfg = config();
  const int max_len = backend_->max_sequence_length();
  std::deque<GenerateGroup> groups;   // a deque: works point into it
  std::deque<std::unique_ptr<SeqWork>> works;
  for (size_t i = 0; i < requests.size(); ++i) {
    const GenerateRequest& r = requests[i];
    if (std::string e = check_generate(r, cfg, max_len); !e.empty()) {
      on_done(i, error_result(r.n, e));
      continue;
    }
    if (r.max_new_tokens == 0) {
      on_done(i, GenerateResult{std::vector<Completion>(size_t(r.n))});
      continue;
    }
    GenerateGroup& g = groups.emplace_back();
    g.request = &r;
    g.index = i;
    g.result.samples.resize(size_t(r.n));
    g.unfinished = r.n;
    g.on_done = &on_done;
    g.share_prefill = r.n > 1 && backend_->can_fork();
    for (int s = 0; s < r.n; ++s)
      works.push_back(std::make_unique<SampleWork>(g, s, tokenizer_, max_len));
  }
  run_scheduler(*backend_, std::move(works), {options_.max_batch, options_.max_prefill_tokens});
}

void Engine::loglikelihood(std::span<const LoglikelihoodRequest> requests,
                           const LoglikelihoodCallback& on_done) {
  const ModelConfig& cfg = config();
  const int max_len = backend_->max_sequence_length();
  std::deque<std::unique_ptr<SeqWork>> works;
  for (size_t i = 0; i < requests.size(); ++i) {
    const LoglikelihoodRequest& r = requests[i];
    std::vector<int32_t> context;
    if (std::string e = check_loglikelihood(r, cfg, max_len, context); !e.empty()) {
      LoglikelihoodResult result;
      result.error = e;
      on_done(i, std::move(result));
      continue;
    }
    if (r.continuations.empty()) {
      on_done(i, LoglikelihoodResult{});
      continue;
    }
    works.push_back(std::make_unique<LoglikelihoodWork>(r, std::move(context), i, on_done));
  }
  run_scheduler(*backend_, std::move(works), {options_.max_batch, options_.max_prefill_tokens});
}

std::vector<GenerateResult> Engine::generate(std::span<const GenerateRequest> requests) {
  std::vector<GenerateResult> out(requests.size());
  generate(requests, [&](size_t i, GenerateResult r) { out[i] = std::move(r); });
  return out;
}

std::vector<LoglikelihoodResult> Engine::loglikelihood(
    std::span<const LoglikelihoodRequest> requests) {
  std::vector<LoglikelihoodResult> out(requests.size());
  loglikelihood(requests, [&](size_t i, LoglikelihoodResult r) { out[i] = std::move(r); });
  return out;
}

}  // namespace yardstick
