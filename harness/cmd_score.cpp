// yardstick score --model DIR [--input FILE] [--backend cpu|cuda] [--threads N] [--max-batch N]
// JSON lines {"context_ids": [...], "continuation_ids": [...]} or {"context": s, "continuation": s}
// -> {"logprobs": [...], "sum_logprob": x, "is_greedy": b}, or {"error": "..."} for a line that
// can't be served (too long for the context window, ids outside the vocabulary). Output is in
// input order. Text inputs need a tokenizer.json in the model directory; the context and the
// continuation are encoded separately, the context led by the special tokens HF's tokenizer puts
// before a text (DeepSeek's BOS; none for GPT-2 or SmolLM2), the continuation bare. Id inputs are
// used as given, and need no tokenizer (a tokenizer.json that cannot be loaded is no obstacle);
// an empty context means [BOS]. Lines with the same context share one prefill.
#include <map>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "engine/error.h"
#include "engine/model.h"
#include "harness/commands.h"
#include "harness/jsonl_tool.h"

namespace yardstick::cli {

namespace {

using json = nlohmann::ordered_json;   // output keys in the order of the contract

struct ScoreLine {
  std::vector<int32_t> context;
  std::vector<int32_t> continuation;
};

ScoreLine parse_line(const InputLine& line, const LoadedModel& model) {
  const LineReader r(line);
  const bool ids = r.has("context_ids") || r.has("continuation_ids");
  const bool text = r.has("context") || r.has("continuation");
  if (ids == text)
    r.fail(
        "give either \"context_ids\" and \"continuation_ids\", or \"context\" and "
        "\"continuation\"");
  ScoreLine s;
  if (ids) {
    s.context = r.ids("context_ids");
    s.continuation = r.ids("continuation_ids");
    return s;
  }
  if (!model.tokenizer) r.fail(model.no_tokenizer_reason("text inputs") + "; give ids");
  const Tokenizer& tok = *model.tokenizer;
  s.context.assign(tok.special_prefix().begin(), tok.special_prefix().end());
  const auto ctx = tok.encode(r.string("context"));
  s.context.insert(s.context.end(), ctx.begin(), ctx.end());
  s.continuation = tok.encode(r.string("continuation"));
  return s;
}

json score_json(const ContinuationScore& s) {
  json lps = json::array();
  // Printed as the shortest decimal that reads back as the same float.
  for (float lp : s.logprobs) lps.push_back(std::stod(fmt::format("{}", lp)));
  return json{{"logprobs", lps}, {"sum_logprob", s.sum_logprob}, {"is_greedy", s.is_greedy}};
}

void run_score(const ModelToolOptions& opts) {
  const auto input =
      read_input_lines(opts.input, {"context_ids", "continuation_ids", "context", "continuation"});
  LoadedModel model = open_model(opts.model, model_options(opts));
  if (!model.tokenizer_error.empty())
    fmt::print(stderr, "score: the tokenizer cannot be loaded, so only id inputs work: {}\n",
               model.tokenizer_error);

  // One request per distinct context, its continuations in line order.
  std::vector<LoglikelihoodRequest> requests;
  std::vector<std::vector<size_t>> lines_of;   // [request] -> input line indices
  std::map<std::vector<int32_t>, size_t> by_context;
  for (size_t i = 0; i < input.size(); ++i) {
    ScoreLine s = parse_line(input[i], model);
    auto [it, fresh] = by_context.try_emplace(s.context, requests.size());
    if (fresh) {
      requests.push_back({std::move(s.context), {}});
      lines_of.emplace_back();
    }
    requests[it->second].continuations.push_back(std::move(s.continuation));
    lines_of[it->second].push_back(i);
  }

  OrderedWriter out(input.size());
  std::vector<size_t> failed;   // requests to run again line by line
  model.engine->loglikelihood(requests, [&](size_t r, LoglikelihoodResult res) {
    if (!res.error.empty() && lines_of[r].size() > 1) {
      failed.push_back(r);
      return;
    }
    for (size_t j = 0; j < lines_of[r].size(); ++j)
      out.put(lines_of[r][j],
              res.error.empty() ? score_json(res.scores[j]) : error_json(res.error));
  });
  // A shared context failed as a whole (one continuation too long, say): give each line its
  // own answer.
  for (size_t r : failed) {
    std::vector<LoglikelihoodRequest> single;
    for (const auto& cont : requests[r].continuations)
      single.push_back({requests[r].context_ids, {cont}});
    model.engine->loglikelihood(single, [&](size_t j, LoglikelihoodResult res) {
      out.put(lines_of[r][j],
              res.error.empty() ? score_json(res.scores[0]) : error_json(res.error));
    });
  }
}

}  // namespace

void register_score(CLI::App& app) {
  register_model_tool(
      app, "score",
      "Log-likelihood of continuations: JSON lines {\"context_ids\": [...], \"continuation_ids\": "
      "[...]} or {\"context\": s, \"continuation\": s} -> {\"logprobs\": [...], \"sum_logprob\": "
      "x, "
      "\"is_greedy\": b}",
      run_score);
}

}  // namespace yardstick::cli
