// yardstick generate --model DIR [--input FILE] [--backend cpu|cuda] [--threads N] [--max-batch N]
// JSON lines {"prompt_ids": [...]} or {"prompt": s}, with optional "max_new_tokens" (default
// 256), "stop" (a string or an array), "temperature" (default 0: greedy), "top_p", "top_k" and
// "seed" -> {"ids": [...], "text": s, "finish_reason": "length"|"stop"|"eos"}, or
// {"error": "..."} for a line that can't be served (a prompt too long for the context window).
// Output is in input order. A text prompt is encoded as HF's tokenizer(prompt) encodes it, with
// the special tokens its post-processor adds: DeepSeek's BOS, none for GPT-2 or SmolLM2.
// prompt_ids are used as given. `text` is the decoded output cut before the stop string (empty
// when the model has no usable tokenizer); `ids` end with the token that completed the stop
// string. Stop strings and text prompts need a tokenizer.json in the
// model directory; id prompts work without one, and despite one that cannot be loaded (a note
// on stderr says so).
#include <limits>
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

GenerateRequest parse_line(const InputLine& line, const LoadedModel& model) {
  const LineReader r(line);
  if (r.has("prompt_ids") == r.has("prompt")) r.fail("give either \"prompt_ids\" or \"prompt\"");
  const auto need_tokenizer = [&](const char* what) {
    if (!model.tokenizer) r.fail(model.no_tokenizer_reason(what));
  };
  GenerateRequest g;
  if (r.has("prompt_ids")) {
    g.prompt_ids = r.ids("prompt_ids");
  } else {
    need_tokenizer("text prompts");
    g.prompt_ids = model.tokenizer->encode_with_special_tokens(r.string("prompt"));
  }
  if (r.has("max_new_tokens")) g.max_new_tokens = int(r.integer("max_new_tokens", 0, 1 << 30));
  if (r.has("stop")) {
    g.stop = r.strings("stop");
    if (!g.stop.empty()) need_tokenizer("stop strings");
  }
  if (r.has("temperature")) g.sampling.temperature = float(r.number("temperature"));
  if (r.has("top_p")) g.sampling.top_p = float(r.number("top_p"));
  if (r.has("top_k")) g.sampling.top_k = int(r.integer("top_k", 0, 1 << 30));
  if (r.has("seed"))
    g.sampling.seed = uint64_t(r.integer("seed", 0, std::numeric_limits<int64_t>::max()));
  return g;
}

json completion_json(const Completion& c) {
  if (c.finish == FinishReason::Error) return error_json(c.error);
  return json{{"ids", c.ids}, {"text", c.text}, {"finish_reason", finish_reason_name(c.finish)}};
}

void run_generate(const ModelToolOptions& opts) {
  const auto input = read_input_lines(opts.input, {"prompt_ids", "prompt", "max_new_tokens", "stop",
                                                   "temperature", "top_p", "top_k", "seed"});
  LoadedModel model = open_model(opts.model, model_options(opts));
  if (!model.tokenizer_error.empty())
    fmt::print(stderr, "generate: the tokenizer cannot be loaded, so only id inputs work; output text is empty: {}\n",
               model.tokenizer_error);
  std::vector<GenerateRequest> requests;
  for (const InputLine& line : input) requests.push_back(parse_line(line, model));

  OrderedWriter out(input.size());
  model.engine->generate(requests, [&](size_t i, GenerateResult res) {
    out.put(i, completion_json(res.samples.at(0)));
  });
}

}  // namespace

void register_generate(CLI::App& app) {
  register_model_tool(
      app, "generate",
      "Generate continuations: JSON lines {\"prompt_ids\": [...]} or {\"prompt\": s} with optional "
      "max_new_tokens, stop, temperature, top_p, top_k, seed -> {\"ids\": [...], \"text\": s, "
      "\"finish_reason\": ...}",
      run_generate);
}

}  // namespace yardstick::cli
