// Request semantics over the scheduler: generate_until samples and loglikelihood scoring. Every
// wanted logits row is reduced by the backend to a PickedToken (Backend::forward_pick), so no
// vocabulary-sized row reaches the host.
//
// generate_until, per sample:
//   - A prompt must leave room for at least one new token in the window (prompt length <
//     max_sequence_length), else the request gets Completion::error. Generation stops with
//     Length after max_new_tokens, or when prompt + output fill the window.
//   - EOS (any of the config's eos ids) ends it with Eos; the EOS id is not in ids or text.
//   - Stop strings are matched on the decoded text after every token, so one may span tokens.
//     text is cut before the earliest stop string found; ids run up to and including the token
//     that completed it (that token's text may reach past the cut). Empty stop strings are ignored.
//   - Token k of sample i is PickedToken::token of a pick with stream seed + i and step k
//     (sample_token's semantics). With n > 1, a forking backend and a prompt of 2+ tokens,
//     prompt[:-1] is prefilled once and forked; every sample feeds the last prompt token itself.
//   - A sample preempted for KV memory re-feeds prompt + its tokens so far and goes on with the
//     same stream and step, so its output is what it would have been.
//   - A sample whose sequence needs more KV blocks than the whole cache has gets
//     Completion::error ("needs N KV blocks of B tokens, the cache has M"); the others go on.
// loglikelihood: context[:-1] is prefilled once; each continuation then feeds
// [context.back()] + cont[:-1], row j picking target cont[j] (log-prob = target_logprob,
// is_greedy = every argmax is its target), and the sequence is truncated back to
// context.size() - 1. An empty context means [BOS]; context + continuation must fit in
// max_sequence_length, and in the KV cache (else the request gets LoglikelihoodResult::error).
// A preempted request re-feeds the context and starts the continuation in progress afresh.
#include "engine/engine.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <stdexcept>
#include <utility>

#include <fmt/core.h>

#include "engine/error.h"
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

// KV blocks a sequence of `total` tokens takes when it starts empty and attaches the cached
// blocks `attachable` (the part of its feed the scheduler may attach) begins with: blocks it
// shares with running sequences cost nothing, evictable cached ones cost what a new block does.
int64_t blocks_with_cache(const Backend& backend, std::span<const int32_t> attachable, int64_t total) {
  const int bs = backend.kv_block_size();
  const int64_t all = kv_blocks_to_grow(0, total, bs);
  if (!backend.prefix_caching()) return all;
  const CachedPrefix cached = backend.find_cached_prefix(attachable);
  return all - kv_blocks_to_grow(0, cached.tokens, bs) + cached.blocks_from_free;
}

// ---------------------------------------------------------------- generate_until

// What the samples of one request share: the request, the result being filled in, and, when the
// backend can fork, the prompt's prefill: a PrefillWork feeds prompt[:-1] into a sequence that
// becomes `prefix`; each sample's first start forks it and feeds the last prompt token itself,
// so that every sample (0 included) gets its own logits row and pick.
struct GenerateGroup {
  const GenerateRequest* request = nullptr;
  size_t index = 0;
  GenerateResult result;
  int unfinished = 0;
  const Engine::GenerateCallback* on_done = nullptr;

  bool share_prefill = false;
  bool prefix_ready = false;   // the prefill is done, or failed (prefill_error)
  std::string prefill_error;
  SeqId prefix = -1;           // prompt[:-1]'s KV state, until every sample has started
  int unstarted = 0;           // samples yet to start for the first time

  void close_prefix(Backend& backend) {
    if (prefix >= 0) backend.close_sequence(std::exchange(prefix, -1));
  }
  // A sample starts (or fails) for the first time; the last one lets the prefix go.
  void leave_prefix(Backend& backend) {
    if (--unstarted == 0) close_prefix(backend);
  }
};

// The shared prefill of a forking request: prompt[:-1], no rows wanted; its sequence becomes
// the group's prefix.
class PrefillWork final : public SeqWork {
 public:
  explicit PrefillWork(GenerateGroup& group) : g_(group) {}

  int64_t admission_blocks(const Backend& backend) const override {
    const std::span<const int32_t> prompt(g_.request->prompt_ids);
    return blocks_with_cache(backend, prompt.first(prompt.size() - 2), int64_t(prompt.size()) - 1);
  }

  void start(Backend& backend) override {
    seq = backend.open_sequence();
    feed.assign(g_.request->prompt_ids.begin(), g_.request->prompt_ids.end() - 1);
    fed = 0;
    want_from = feed.size();
  }

  TokenPick pick(size_t) const override {
    throw std::logic_error("engine: a prompt prefill wants no logits rows");
  }
  void on_picked(size_t, const PickedToken&) override {
    throw std::logic_error("engine: a prompt prefill wants no logits rows");
  }

  void advance(Backend&) override {
    g_.prefix = std::exchange(seq, -1);
    g_.prefix_ready = true;
    done = true;
  }

  void preempt(Backend& backend) override { release(backend); }

  void fail(Backend& backend, const std::string& error) override {
    release(backend);
    g_.prefill_error = error;   // every sample reports it
    g_.prefix_ready = true;
    done = true;
  }

  void release(Backend& backend) override {
    if (seq >= 0) backend.close_sequence(std::exchange(seq, -1));
  }

 private:
  GenerateGroup& g_;
};

class SampleWork final : public SeqWork {
 public:
  SampleWork(GenerateGroup& group, int sample, const Tokenizer* tokenizer, int max_len)
      : g_(group), req_(*group.request), sample_(sample), max_len_(max_len) {
    if (tokenizer) decoder_.emplace(*tokenizer);
    for (const std::string& s : req_.stop) max_stop_ = std::max(max_stop_, s.size());
  }

  bool ready() const override { return !g_.share_prefill || g_.prefix_ready; }

  int64_t admission_blocks(const Backend& backend) const override {
    const int bs = backend.kv_block_size();
    if (forks()) {
      // A fork copies the prefix's partly filled last block, then takes the last prompt token.
      const int64_t len = backend.sequence_length(g_.prefix);
      return (len % bs != 0 ? 1 : 0) + kv_blocks_to_grow(len, 1, bs);
    }
    // The scheduler may attach cached blocks within the prompt (never its last token).
    const std::span<const int32_t> prompt(req_.prompt_ids);
    return blocks_with_cache(backend, prompt.first(prompt.size() - 1),
                             int64_t(req_.prompt_ids.size() + out_.ids.size()));
  }

  void start(Backend& backend) override {
    if (!g_.prefill_error.empty()) return fail(backend, g_.prefill_error);
    // After a preemption, or once the prefix is gone, the sample re-feeds all it had on its own.
    if (forks()) {
      seq = backend.fork_sequence(g_.prefix);
      feed.assign(1, req_.prompt_ids.back());
    } else {
      seq = backend.open_sequence();
      feed = req_.prompt_ids;
      feed.insert(feed.end(), out_.ids.begin(), out_.ids.end());
    }
    first_start(backend);
    fed = 0;
    want_from = feed.size() - 1;
  }

  TokenPick pick(size_t) const override {
    TokenPick p;
    p.sampling = req_.sampling;
    p.stream = req_.sampling.seed + uint64_t(sample_);
    p.step = out_.ids.size();
    return p;
  }

  void on_picked(size_t, const PickedToken& picked) override { next_ = picked.token; }

  void advance(Backend& backend) override { next_token(backend, next_); }

  void preempt(Backend& backend) override {
    if (seq >= 0) backend.close_sequence(std::exchange(seq, -1));
    feed.clear();
    fed = 0;
  }

  void fail(Backend& backend, const std::string& error) override {
    first_start(backend);
    out_ = Completion{};
    out_.error = error;
    finish(backend, FinishReason::Error);
  }

  bool drop_shared(Backend& backend) override {
    if (g_.prefix < 0) return false;
    g_.close_prefix(backend);
    return true;
  }

  void release(Backend& backend) override {
    if (seq >= 0) backend.close_sequence(std::exchange(seq, -1));
    g_.close_prefix(backend);
  }

 private:
  bool forks() const { return !started_ && g_.prefix >= 0; }

  void first_start(Backend& backend) {
    if (std::exchange(started_, true)) return;
    if (g_.share_prefill) g_.leave_prefix(backend);
  }

  void next_token(Backend& backend, int32_t tok) {
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
    if (decoder_ && reason != FinishReason::Stop && reason != FinishReason::Error)
      out_.text += decoder_->flush();
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
  bool started_ = false;   // started (or failed) at least once
  int32_t next_ = -1;      // the token picked from the row of the feed's last token
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

// One request: the sequence holds context[:-1]; each continuation feeds
// [context.back()] + cont[:-1], whose rows score cont, and is then truncated away again. The
// first feed (and the first after a preemption) also carries context[:-1].
class LoglikelihoodWork final : public SeqWork {
 public:
  LoglikelihoodWork(const LoglikelihoodRequest& request, std::vector<int32_t> context, size_t index,
                    const Engine::LoglikelihoodCallback& on_done)
      : req_(request), context_(std::move(context)), index_(index), on_done_(on_done) {
    result_.scores.resize(req_.continuations.size());
  }

  int64_t admission_blocks(const Backend& backend) const override {
    const std::span<const int32_t> context(context_);
    return blocks_with_cache(backend, context.first(context.size() - 1),
                             int64_t(context_.size() + continuation().size()) - 1);
  }

  // Starts (or restarts, scoring it afresh) the continuation in progress.
  void start(Backend& backend) override {
    seq = backend.open_sequence();
    feed = context_;
    feed.insert(feed.end(), continuation().begin(), continuation().end() - 1);
    fed = 0;
    want_from = context_.size() - 1;
  }

  TokenPick pick(size_t i) const override {
    TokenPick p;   // greedy sampling: the picked token is the argmax, and nothing is drawn
    p.target = continuation()[i - want_from];
    return p;
  }

  void on_picked(size_t i, const PickedToken& picked) override {
    ContinuationScore& s = result_.scores[cont_];
    if (s.logprobs.empty()) s.is_greedy = true;
    s.logprobs.push_back(picked.target_logprob);
    s.sum_logprob += double(picked.target_logprob);
    s.is_greedy = s.is_greedy && picked.argmax == continuation()[i - want_from];
  }

  void advance(Backend& backend) override {
    if (++cont_ == req_.continuations.size()) {
      release(backend);
      done = true;
      return on_done_(index_, std::move(result_));
    }
    backend.truncate(seq, int(context_.size()) - 1);
    feed.assign(1, context_.back());
    feed.insert(feed.end(), continuation().begin(), continuation().end() - 1);
    fed = 0;
    want_from = 0;
  }

  void preempt(Backend& backend) override {
    release(backend);
    result_.scores[cont_] = ContinuationScore{};
  }

  void fail(Backend& backend, const std::string& error) override {
    release(backend);
    result_ = LoglikelihoodResult{};
    result_.error = error;
    done = true;
    on_done_(index_, std::move(result_));
  }

  void release(Backend& backend) override {
    if (seq >= 0) backend.close_sequence(std::exchange(seq, -1));
  }

 private:
  const std::vector<int32_t>& continuation() const { return req_.continuations[cont_]; }

  const LoglikelihoodRequest& req_;
  const std::vector<int32_t> context_;   // [BOS] when the request's is empty
  const size_t index_;
  const Engine::LoglikelihoodCallback& on_done_;
  LoglikelihoodResult result_;
  size_t cont_ = 0;   // the continuation being scored
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

void schedule(Backend& backend, std::deque<std::unique_ptr<SeqWork>> works,
              const EngineOptions& options, EngineStats& stats) {
  const SchedulerStats s =
      run_scheduler(backend, std::move(works), {options.max_batch, options.max_prefill_tokens});
  stats.steps += s.steps;
  stats.preemptions += s.preemptions;
  stats.prefill_tokens += s.prefill_tokens;
  stats.cached_tokens += s.cached_tokens;
  stats.decode_tokens += s.decode_tokens;
  stats.forward_seconds += s.forward_seconds;
  stats.prefill_step_seconds += s.prefill_step_seconds;
  stats.prefill_steps += s.prefill_steps;
  stats.host_seconds += s.total_seconds - s.forward_seconds;
  stats.prefix_cache = backend.prefix_cache_stats();
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
    g.share_prefill = r.n > 1 && r.prompt_ids.size() > 1 && backend_->can_fork();
    g.unstarted = r.n;
    if (g.share_prefill) works.push_back(std::make_unique<PrefillWork>(g));
    for (int s = 0; s < r.n; ++s)
      works.push_back(std::make_unique<SampleWork>(g, s, tokenizer_, max_len));
  }
  schedule(*backend_, std::move(works), options_, stats_);
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
  schedule(*backend_, std::move(works), options_, stats_);
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
