#include "harness/run.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <future>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "datasets/checkout.h"
#include "datasets/data_dir.h"
#include "engine/chat_template.h"
#include "engine/error.h"
#include "engine/gguf.h"
#include "engine/gguf_tokenizer.h"
#include "engine/sha256.h"
#include "engine/synthetic_model.h"
#include "engine/thread_pool.h"
#include "harness/choice_scoring.h"
#include "harness/digests.h"
#include "harness/progress.h"
#include "harness/sample_writer.h"
#include "harness/synth_model.h"
#include "reports/stats.h"
#include "scorers/code_exec.h"
#include "scorers/registry.h"
#include "tasks/prompt.h"
#include "tasks/task_data.h"

namespace yardstick {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------ the model

std::string sanitize_name(std::string s) {
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '-';
  return s;
}


struct ModelInfo {
  ModelRecord record;          // weights_digest is filled in later for a model directory
  bool gold = false;
  bool synthetic = false;
  std::string synthetic_spec;  // synthetic_config's spec
  uint64_t synthetic_seed = 0;
  std::filesystem::path dir;   // a model directory (neither gold nor synthetic)
  std::filesystem::path tokenizer;   // synthetic: tokenizer.json or its folder
  std::optional<ChatTemplate> chat_template;   // the tokenizer folder has one: a chat model
};

json read_json_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ModelFileError(fmt::format("{}: cannot be opened", file.string()));
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw ModelFileError(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
  }
}

// Whether a run of this database was made on the model directory at `path`.
bool model_dir_seen(Store& store, const std::string& path) {
  for (const auto& r : store.runs())
    if (r.config.contains("model") && r.config["model"].value("path", "") == path) return true;
  return false;
}

// The model's own chat template: a GGUF's tokenizer.chat_template, else where transformers puts it.
std::optional<ChatTemplate> model_chat_template(const std::filesystem::path& dir) {
  if (const auto gguf = gguf_model_file(dir)) {
    std::optional<std::string> source = gguf_chat_template(GgufFile(*gguf));
    if (!source) return std::nullopt;
    return ChatTemplate(*source, gguf->string() + " (tokenizer.chat_template)");
  }
  return find_chat_template(dir);
}

// "synthetic:SPEC[:seed=N]" -> spec, seed.
std::pair<std::string, uint64_t> parse_synthetic_model(const std::string& model) {
  std::string spec = model.substr(std::string_view(kSyntheticPrefix).size());
  uint64_t seed = 0;
  if (size_t at = spec.find(":seed="); at != std::string::npos) {
    const std::string value = spec.substr(at + 6);
    size_t used = 0;
    try {
      seed = std::stoull(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (value.empty() || used != value.size())
      throw InputError(fmt::format("--model {}: the seed '{}' is not a number", model, value));
    spec.resize(at);
  }
  if (spec.empty()) throw InputError(fmt::format("--model {}: expected synthetic:tiny, synthetic:7b, synthetic:67b "
                                                 "or synthetic:key=value,...", model));
  return {spec, seed};
}

// Everything about the model that is cheap to learn (configs, the tokenizer, the list of weight
// files), and checked, before any weight file is read: a bad model fails in milliseconds. The
// weights' digest of a model directory comes later (PendingWeightsDigest), alongside loading.
ModelInfo inspect_model(Store& store, const RunOptions& options) {
  const std::string& model = options.model;
  ModelInfo info;
  if (model == kGoldModel) {
    info.gold = true;
    info.record.name = kGoldModel;
    info.record.weights_digest = "builtin:gold";
    info.record.config = {{"builtin", kGoldModel}, {"answers_with", "the dataset's reference solution"}};
    return info;
  }
  if (model.rfind(kSyntheticPrefix, 0) == 0) {
    info.synthetic = true;
    std::tie(info.synthetic_spec, info.synthetic_seed) = parse_synthetic_model(model);
    const json cfg = synthetic_config(info.synthetic_spec);
    (void)parse_model_config(cfg, model);   // an unsupported shape fails now
    info.tokenizer = options.tokenizer.empty() ? default_tokenizer_dir() : std::filesystem::path(options.tokenizer);
    const std::optional<std::filesystem::path> tok_gguf = gguf_model_file(info.tokenizer);
    const bool tok_dir = std::filesystem::is_directory(info.tokenizer) && !tok_gguf;
    const auto tok_file = tok_gguf ? *tok_gguf : tok_dir ? info.tokenizer / "tokenizer.json" : info.tokenizer;
    if (!std::filesystem::is_regular_file(tok_file))
      throw InputError(fmt::format("--tokenizer {}: no tokenizer.json (nor .gguf) there", info.tokenizer.string()));
    const auto tok_folder = tok_dir ? info.tokenizer : info.tokenizer.parent_path();
    info.record.name = sanitize_name("synthetic-" + info.synthetic_spec);
    info.record.weights_digest = synthetic_weights_id(info.synthetic_spec, info.synthetic_seed, options.backend);
    info.record.tokenizer_digest = tok_gguf || tok_dir ? tokenizer_digest(store, tok_gguf ? *tok_gguf : info.tokenizer)
                                                       : cached_file_digest(store, info.tokenizer);
    info.chat_template = model_chat_template(tok_gguf ? *tok_gguf : tok_folder);
    info.record.config = {{"synthetic",
                           {{"spec", info.synthetic_spec},
                            {"seed", info.synthetic_seed},
                            {"weights_hashed", false},
                            {"weights", "random, made in memory by the " +
                                            std::string(options.backend == BackendKind::Cuda ? "cuda" : "cpu") +
                                            " backend's generator"},
                            {"tokenizer", tok_file.string()}}},
                          {"config.json", cfg},
                          {"config_files_digest", sha256_hex(cfg.dump())}};
    return info;
  }
  std::error_code ec;
  info.dir = std::filesystem::canonical(model, ec);
  const std::optional<std::filesystem::path> gguf = ec ? std::nullopt : gguf_model_file(info.dir);
  if (ec || !(std::filesystem::is_directory(info.dir) || gguf))
    throw InputError(fmt::format("--model {}: not a model directory nor a .gguf file (nor \"{}\", the built-in "
                                 "model, nor {}SPEC)",
                                 model, kGoldModel, kSyntheticPrefix));
  // Parsing the config now gives a clear error for an unsupported model before any hashing.
  (void)load_model_config(info.dir);
  (void)weight_files(info.dir);   // none: fails now (listing reads no weights)
  info.record.name = gguf && !std::filesystem::is_directory(info.dir) ? info.dir.stem().string()
                                                                       : info.dir.filename().string();
  info.record.path = info.dir.string();
  info.record.tokenizer_digest = tokenizer_digest(store, info.dir);
  info.chat_template = model_chat_template(info.dir);
  if (gguf) {
    // The shapes and special tokens are in the GGUF's metadata, which the weights digest covers.
    info.record.config = {{"gguf", gguf->filename().string()},
                          {"config", model_config_json(load_model_config(*gguf))}};
  } else {
    info.record.config = {{"config.json", read_json_file(info.dir / "config.json")},
                          {"config_files_digest", model_config_digest(store, info.dir)}};
  }
  return info;
}

// ------------------------------------------------------------------ the plan

struct TaskPlan {
  TaskSpec spec;
  TaskData data;
  int shots = 0;
  int max_new_tokens = 0;
  std::vector<std::string> stop;
  // Multiple choice through the chat template: a choice follows the generation prompt as the
  // template writes a reply (after a space for DeepSeek's "Assistant:"; ChatTemplate::reply_prefix).
  std::string choice_prefix;
};

struct PendingSample {
  const TaskPlan* task = nullptr;
  const Doc* doc = nullptr;
  int sample_idx = 0;
  std::string prompt;
};

// Paths ("/tasks/0/shots") where two configurations differ, for the refusal message.
std::string describe_differences(const json& stored, const json& wanted) {
  std::vector<std::string> paths;
  for (const auto& op : json::diff(stored, wanted)) {
    std::string path = op.value("path", std::string("/"));
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
  }
  if (paths.size() > 6) {
    size_t more = paths.size() - 6;
    paths.resize(6);
    paths.push_back(fmt::format("and {} more", more));
  }
  return fmt::to_string(fmt::join(paths, ", "));
}

// The family each of a run's tasks is graded with, from its stored configuration.
std::map<std::string, std::string> scorer_families(const RunRecord& run) {
  std::map<std::string, std::string> out;
  for (const auto& t : run.config.value("tasks", json::array()))
    out[t.at("name").get<std::string>()] = t.at("spec").at("scorer").get<std::string>();
  return out;
}

// Re-grades every stored output of the run (one transaction) and recomputes its metrics.
int64_t regrade(Store& store, const RunRecord& run) {
  auto families = scorer_families(run);
  auto samples = store.samples(run.id);
  // All submitted first: code is graded by the sandbox's workers in parallel.
  std::vector<std::pair<int64_t, PendingVerdicts>> grading;
  grading.reserve(samples.size());
  for (const auto& s : samples) {
    auto family = families.find(s.task);
    if (family == families.end())
      throw Error(fmt::format("database {}: run \"{}\" has samples of task \"{}\", which its configuration lacks",
                              store.path().string(), run.name, s.task));
    grading.emplace_back(s.id, grade_async(family->second, s.output, s.gold));
  }
  std::vector<std::pair<int64_t, std::vector<Verdict>>> by_sample;
  by_sample.reserve(samples.size());
  for (auto& [id, verdicts] : grading) by_sample.emplace_back(id, verdicts.get());
  store.replace_verdicts(by_sample);
  return static_cast<int64_t>(samples.size());
}

// A run whose stored verdicts a different scorer version made can't be resumed: the new samples
// would be graded by this version and the old ones not, and the metrics would mix the two.
void refuse_older_verdicts(Store& store, const RunRecord& run, const std::vector<TaskPlan>& plans) {
  auto stored = store.verdict_scorer_versions(run.id);
  for (const auto& plan : plans) {
    auto it = stored.find(plan.spec.name);
    if (it == stored.end()) continue;
    const int current = scorer_version(plan.spec.scorer);
    std::set<int> others = it->second;
    others.erase(current);
    if (others.empty()) continue;
    throw InputError(fmt::format(
        "run \"{}\" in {}: task {}'s stored verdicts were graded by {} scorer version {}, this yardstick grades "
        "with version {}; re-grade them first (yardstick run --rescore --run-name {} --db {}), then resume",
        run.name, store.path().string(), plan.spec.name, plan.spec.scorer, fmt::join(others, ", "), current,
        run.name, store.path().string()));
  }
}

// Fills in what the plan knows of a sample and hands it to the writer thread.
void submit(SampleWriter& writer, const PendingSample& p, SampleRecord s, int64_t run_id) {
  s.run_id = run_id;
  s.task = p.task->spec.name;
  s.doc_id = p.doc->doc_id;
  s.sample_idx = p.sample_idx;
  s.prompt = p.prompt;
  s.gold = p.doc->gold;
  writer.submit(p.task->spec.scorer, std::move(s));
}

void answer_with_reference(const std::vector<PendingSample>& pending, SampleWriter& writer, int64_t run_id) {
  for (const auto& p : pending) {
    if (writer.failed()) return;   // finish() rethrows
    SampleRecord s;
    s.output = p.doc->reference;
    s.finish_reason = "reference";
    submit(writer, p, std::move(s), run_id);
  }
}

uint64_t doc_seed(uint64_t run_seed, const std::string& task, const std::string& doc_id) {
  // A doc's sampling seed depends only on the run seed and the doc, never on the plan's order,
  // so a resumed run samples a doc exactly as an uninterrupted one would.
  std::string digest = sha256_hex(fmt::format("{}\n{}\n{}", run_seed, task, doc_id));
  return std::stoull(digest.substr(0, 15), nullptr, 16);
}

// Builds one request per item on all cores (tokenising thousands of few-shot prompts takes
// seconds on one); make(i) must be safe to call concurrently (Tokenizer::encode is).
template <class Request, class Make>
std::vector<Request> build_in_parallel(size_t n, const Make& make) {
  std::vector<Request> out(n);
  ThreadPool pool;
  pool.parallel_for(static_cast<int64_t>(n), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[size_t(i)] = make(size_t(i));
  }, /*grain=*/16);
  return out;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The ids before a prompt's text. Base style: the special tokens HF's tokenizer adds to a text
// (tokenizer(prompt)). Chat style: what apply_chat_template gives, the rendered text without
// special tokens added, after the BOS id where the template opens with one (the text's BOS is cut
// by build_prompt).
struct PromptLead {
  bool chat = false;
  std::vector<int32_t> chat_ids;
};

// Multiple choice: one loglikelihood request per doc (the prompt prefilled once, every choice a
// continuation), plus one with the unconditional context when the task normalises by it. All go
// to the engine in one call, so its batch stays full to the end; each doc is handed to the
// writer as soon as its requests are done (the progress line moves question by question).
void score_choices_with_engine(LoadedModel& lm, const PromptLead& lead, const std::vector<PendingSample>& pending,
                               SampleWriter& writer, int64_t run_id) {
  if (pending.empty()) return;
  // The context is led by the special tokens HF's tokenizer puts before a text (DeepSeek's BOS;
  // none for SmolLM2), or a chat prompt's own lead; the choices are bare continuations of it.
  const std::span<const int32_t> first = lead.chat ? std::span<const int32_t>(lead.chat_ids) : lm.tokenizer->special_prefix();
  auto context_ids = [&](const std::string& text) {
    std::vector<int32_t> ids(first.begin(), first.end());
    auto body = lm.tokenizer->encode(text);
    ids.insert(ids.end(), body.begin(), body.end());
    return ids;
  };
  // Request k belongs to doc owner[k]; a doc's unconditional request (if any) follows its own.
  std::vector<size_t> owner, first_request(pending.size());
  for (size_t i = 0; i < pending.size(); ++i) {
    first_request[i] = owner.size();
    owner.push_back(i);
    if (pending[i].task->spec.choice.normalization == "unconditional") owner.push_back(i);
  }
  std::vector<LoglikelihoodRequest> requests = build_in_parallel<LoglikelihoodRequest>(owner.size(), [&](size_t k) {
    const PendingSample& p = pending[owner[k]];
    LoglikelihoodRequest r;
    const bool unconditional = k != first_request[owner[k]];
    r.context_ids = context_ids(unconditional ? p.task->spec.choice.unconditional_context : p.prompt);
    for (const auto& choice : p.doc->choices) r.continuations.push_back(lm.tokenizer->encode(p.task->choice_prefix + choice));
    return r;
  });

  std::vector<LoglikelihoodResult> results(requests.size());
  std::vector<int> outstanding(pending.size(), 0);
  for (size_t i : owner) ++outstanding[i];
  const auto submitted = Clock::now();
  // Runs on the engine's thread: cheap work only (picking a choice), then a hand-over.
  lm.engine->loglikelihood(requests, [&](size_t k, LoglikelihoodResult result) {
    const size_t i = owner[k];
    results[k] = std::move(result);
    if (--outstanding[i] > 0 || writer.failed()) return;
    const PendingSample& p = pending[i];
    const size_t first = first_request[i];
    const LoglikelihoodResult& conditional = results[first];
    const bool has_unconditional = first + 1 < owner.size() && owner[first + 1] == i;
    const LoglikelihoodResult* unconditional = has_unconditional ? &results[first + 1] : nullptr;
    SampleRecord s;
    s.prompt_tokens = static_cast<int64_t>(requests[first].context_ids.size());
    s.latency_s = seconds_since(submitted);
    std::string error = !conditional.error.empty() ? conditional.error : unconditional ? unconditional->error : "";
    if (!error.empty()) {
      s.finish_reason = finish_reason_name(FinishReason::Error);
      s.error = error;
    } else {
      s.output = choice_output(p.task->spec.choice, pick_choice(p.task->spec.choice, conditional, unconditional)).dump();
      s.finish_reason = "scored";
    }
    submit(writer, p, std::move(s), run_id);
  });
}

// Generation: every request in one call (prompts are small; the engine admits them as KV memory
// allows), so the batch never drains before the run's tail. Results are handed to the writer
// as they finish.
void generate_with_engine(LoadedModel& lm, const PromptLead& lead, const RunOptions& options,
                          const std::vector<PendingSample>& generation, SampleWriter& writer, int64_t run_id) {
  if (generation.empty()) return;
  std::vector<GenerateRequest> requests = build_in_parallel<GenerateRequest>(generation.size(), [&](size_t i) {
    const PendingSample& p = generation[i];
    GenerateRequest r;
    if (lead.chat) {   // as apply_chat_template: the rendered text, no special tokens added
      r.prompt_ids = lead.chat_ids;
      auto ids = lm.tokenizer->encode(p.prompt);
      r.prompt_ids.insert(r.prompt_ids.end(), ids.begin(), ids.end());
    } else {
      r.prompt_ids = lm.tokenizer->encode_with_special_tokens(p.prompt);   // as HF's tokenizer(prompt)
    }
    r.max_new_tokens = p.task->max_new_tokens;
    r.stop = p.task->stop;
    r.sampling.temperature = static_cast<float>(p.task->spec.sampling.temperature);
    r.sampling.top_p = static_cast<float>(p.task->spec.sampling.top_p);
    r.sampling.top_k = p.task->spec.sampling.top_k;
    r.sampling.seed = doc_seed(options.seed, p.task->spec.name, p.doc->doc_id) + static_cast<uint64_t>(p.sample_idx);
    r.n = 1;
    return r;
  });
  const auto submitted = Clock::now();
  lm.engine->generate(requests, [&](size_t index, GenerateResult result) {
    if (writer.failed()) return;
    SampleRecord s;
    s.prompt_tokens = static_cast<int64_t>(requests[index].prompt_ids.size());
    s.latency_s = seconds_since(submitted);
    if (result.samples.empty()) {
      s.finish_reason = finish_reason_name(FinishReason::Error);
      s.error = "the engine returned no completion";
    } else {
      Completion& c = result.samples.front();
      s.output = std::move(c.text);
      s.output_tokens = static_cast<int64_t>(c.ids.size());
      s.finish_reason = finish_reason_name(c.finish);
      s.error = std::move(c.error);
    }
    submit(writer, generation[index], std::move(s), run_id);
  });
}

// Both kinds of work of a run on the loaded model; the engine's counters into `out`.
// chat: the prompts are chat-template renderings (PromptLead); prompt_bos: their template opens
// with the BOS (false for ChatML, as apply_chat_template gives none).
void run_on_engine(LoadedModel& lm, const RunOptions& options, const std::vector<PendingSample>& pending,
                   bool chat, bool prompt_bos, SampleWriter& writer, int64_t run_id, RunOutcome& out) {
  PromptLead lead;
  lead.chat = chat;
  if (chat && prompt_bos && lm.config.bos_token_id >= 0) lead.chat_ids.push_back(lm.config.bos_token_id);
  else if (chat && prompt_bos && lm.tokenizer->bos_id()) lead.chat_ids.push_back(*lm.tokenizer->bos_id());
  std::vector<PendingSample> choice_samples, generation;
  for (const auto& p : pending) (p.task->spec.multiple_choice() ? choice_samples : generation).push_back(p);
  score_choices_with_engine(lm, lead, choice_samples, writer, run_id);
  generate_with_engine(lm, lead, options, generation, writer, run_id);
  const EngineStats& st = lm.engine->stats();
  out.engine_steps = st.steps;
  out.preemptions = st.preemptions;
  out.prefill_tokens = st.prefill_tokens;
  out.cached_tokens = st.cached_tokens;
  out.decode_tokens = st.decode_tokens;
  out.forward_seconds = st.forward_seconds;
  out.prefill_step_seconds = st.prefill_step_seconds;
  out.host_seconds = st.host_seconds;
  out.prefix_hit_rate = st.prefix_hit_rate();
  out.prefix_blocks_reused = st.prefix_cache.blocks_reused;
}

ModelOptions model_options(const RunOptions& o) {
  ModelOptions m;
  m.backend = o.backend;
  m.threads = o.threads;
  m.max_batch = o.max_batch;
  m.prefix_cache = o.prefix_cache;
  m.max_prefill_tokens = o.max_prefill_tokens;
  return m;
}

LoadedModel load_model(const ModelInfo& model, const RunOptions& options, std::FILE* log) {
  LoadedModel lm = model.synthetic ? open_synthetic_model(model.synthetic_spec, model.synthetic_seed, model.tokenizer,
                                                          model_options(options))
                                   : open_model(model.dir, model_options(options));
  if (!lm.tokenizer) throw ModelFileError(lm.no_tokenizer_reason("yardstick run's text prompts"));
  if (const std::string report = lm.engine->backend().startup_report(); !report.empty())
    fmt::print(log, "yardstick: {}\n", report);
  return lm;
}

}  // namespace

std::filesystem::path default_tasks_dir() {
  for (const auto& dir : checkout_candidates())
    if (std::filesystem::is_directory(dir / "configs" / "tasks")) return dir / "configs" / "tasks";
  std::vector<std::string> tried;
  for (const auto& dir : checkout_candidates()) tried.push_back((dir / "configs" / "tasks").string());
  throw Error(fmt::format("no configs/tasks directory found (tried {})", fmt::join(tried, ", ")));
}

std::string engine_build_string(const std::string& backend) {
#if defined(__clang__)
  std::string compiler = fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  std::string compiler = fmt::format("gcc {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  std::string compiler = "unknown compiler";
#endif
  if (backend == "none") return fmt::format("yardstick {} (no engine, {})", YARDSTICK_VERSION, compiler);
  return fmt::format("yardstick {} ({} backend, {})", YARDSTICK_VERSION, backend, compiler);
}

std::vector<MetricRecord> compute_metrics(Store& store, int64_t run_id) {
  std::vector<MetricRecord> metrics;
  for (const auto& t : store.tally_verdicts(run_id)) {
    Estimate e = proportion_estimate(static_cast<size_t>(t.correct), static_cast<size_t>(t.n));
    metrics.push_back({t.task, t.scorer, "acc", t.rank, e.mean, e.std_error, e.ci_low, e.ci_high, t.n});
  }
  store.replace_metrics(run_id, metrics);
  return metrics;
}

RunOutcome run_benchmarks(const RunOptions& options, std::FILE* log) {
  Store store(options.db);
  RunOutcome out;
  if (options.allow_unsandboxed) {
    PythonExecutorOptions code;
    code.allow_unsandboxed = true;
    configure_shared_python_executor(code);
  }

  // Re-scoring a named (or the latest) run needs neither the model nor the data.
  if (options.rescore && options.model.empty()) {
    auto run = options.run_name.empty() ? store.latest_run() : store.find_run(options.run_name);
    if (!run)
      throw InputError(options.run_name.empty()
                           ? fmt::format("database {} has no runs to re-score", options.db.string())
                           : fmt::format("database {} has no run named \"{}\"", options.db.string(), options.run_name));
    out.run_name = run->name;
    out.written = regrade(store, *run);
    out.metrics = compute_metrics(store, run->id);
    return out;
  }

  if (options.model.empty()) throw InputError("--model is required (a model directory or \"gold\")");
  if (options.tasks.empty()) throw InputError("--tasks is required (e.g. --tasks gsm8k)");
  if (options.limit && *options.limit < 0) throw InputError("--limit must be >= 0");

  // Cheap checks first (the model's configs and tokenizer, then the tasks, their data files and
  // shots): a typo fails in milliseconds, before a byte of the weights is read.
  ModelInfo model = inspect_model(store, options);
  PromptStyle style = options.style.value_or(model.chat_template ? PromptStyle::Chat : PromptStyle::Base);
  std::string backend = model.gold ? "none" : (options.backend == BackendKind::Cuda ? "cuda" : "cpu");
  auto data_dir = resolve_data_dir(options.data_dir);
  auto tasks_dir = default_tasks_dir();

  // Everything that changes a result, resolved; its digest is the run's identity.
  std::vector<TaskPlan> plans;
  json task_records = json::array();
  for (const auto& name : options.tasks) {
    TaskPlan plan;
    plan.spec = find_task_spec(name, tasks_dir);
    if (!has_grader(plan.spec.scorer))
      throw InputError(fmt::format("task {}: no scorer family \"{}\" (known: {})", plan.spec.name, plan.spec.scorer,
                                   fmt::join(grader_families(), ", ")));
    if (std::any_of(plans.begin(), plans.end(), [&](const TaskPlan& p) { return p.spec.name == plan.spec.name; }))
      throw InputError(fmt::format("task {} is listed twice", plan.spec.name));
    plan.data = load_task_data(plan.spec, data_dir);
    const StyleSpec& st = plan.spec.style(style);
    auto suite_shots = options.task_shots.find(plan.spec.name);
    plan.shots = suite_shots != options.task_shots.end() ? suite_shots->second : options.shots.value_or(st.shots);
    // Exemplars are the task's, or each doc's own (C-Eval's per-subject dev questions): the
    // fewest any doc has is the most shots a run can ask for.
    size_t available = SIZE_MAX;
    for (const auto& doc : plan.data.docs)
      available = std::min(available, doc.exemplars.empty() ? plan.data.exemplars.size() : doc.exemplars.size());
    if (plan.data.docs.empty()) available = plan.data.exemplars.size();
    if (plan.shots < 0 || static_cast<size_t>(plan.shots) > available)
      throw InputError(fmt::format("task {}: --shots {} but the task has {} exemplars", plan.spec.name, plan.shots,
                                   available));
    plan.max_new_tokens = options.max_new_tokens.value_or(st.max_new_tokens);
    if (options.cap_new_tokens) plan.max_new_tokens = std::min(plan.max_new_tokens, *options.cap_new_tokens);
    if (plan.max_new_tokens < 1) throw InputError("--max-new-tokens and --cap-new-tokens must be >= 1");
    plan.stop = st.stop;
    task_records.push_back({{"name", plan.spec.name},
                            {"version", plan.spec.version},
                            {"shots", plan.shots},
                            {"max_new_tokens", plan.max_new_tokens},
                            {"stop", plan.stop},
                            {"data_files", plan.data.file_digests},
                            {"spec", task_spec_to_json(plan.spec)}});
    plans.push_back(std::move(plan));
  }
  // The weights: hashed in the background (files not in the digest cache, in parallel) while
  // the model loads. When every digest is cached the identity comes first and the model loads
  // only if there is work left. On a checkpoint's first use the identity waits for the hashing,
  // one thread a file (a 10 GB shard takes ~4 s), unless this database has never run the model's
  // directory (nor holds a run of the --run-name given): then no sample of the run can be stored
  // yet (the directory's path is in its identity), so the engine starts on every planned sample
  // at once and the writer's thread opens the run when the digest is done, before it stores
  // anything.
  std::optional<LoadedModel> lm;
  std::optional<PendingWeightsDigest> digest;
  if (!model.dir.empty()) {
    digest.emplace(store, model.dir);
    out.weights_hashed = !digest->all_cached();
  }
  const bool first_use = digest && !digest->all_cached() && !options.rescore;
  const bool defer_identity = first_use && !model_dir_seen(store, model.record.path) &&
                              (options.run_name.empty() || !store.find_run(options.run_name));
  if (first_use) {
    const auto load_started = Clock::now();
    lm = load_model(model, options, log);
    out.load_seconds = seconds_since(load_started);
  }

  std::vector<std::string> task_names;
  for (const auto& p : plans) task_names.push_back(p.spec.name);
  // The run's identity, from the weights' digest on; the run found by its name (or nullopt).
  json config;
  std::string config_digest;
  auto identify = [&]() -> std::optional<RunRecord> {
    if (digest) {
      const auto wait_started = Clock::now();
      model.record.weights_digest = digest->get();
      out.hash_wait_seconds = seconds_since(wait_started);
    }
    config = {{"schema_version", kSchemaVersion},
              {"model",
               {{"name", model.record.name},
                {"path", model.record.path},
                {"weights_digest", model.record.weights_digest},
                {"tokenizer_digest", model.record.tokenizer_digest},
                {"config_files_digest", model.record.config.value("config_files_digest", "")}}},
              {"engine", {{"backend", backend}, {"build", engine_build_string(backend)}}},
              {"prompt_style", prompt_style_name(style)},
              {"seed", options.seed},
              {"tasks", task_records}};
    if (!options.suite.empty()) config["suite"] = options.suite;   // only when set: older runs keep their identity
    // Code tasks: the interpreter and the sandbox's limits decide verdicts too (only then: other
    // runs keep their identity).
    if (std::any_of(plans.begin(), plans.end(), [](const TaskPlan& p) { return grades_by_execution(p.spec.scorer); }))
      config["code_execution"] = execution_record(shared_python_executor());
    config_digest = sha256_hex(config.dump());
    out.run_name = options.run_name.empty()
                       ? sanitize_name(fmt::format("{}-{}-{}", model.record.name, fmt::join(task_names, "+"),
                                                   config_digest.substr(0, 8)))
                       : options.run_name;
    auto found = store.find_run(out.run_name);
    if (found && found->config_digest != config_digest)
      throw InputError(fmt::format(
          "run \"{}\" in {} was made with a different configuration (differs at {}); resume it with the options "
          "it was started with, or give a new --run-name",
          out.run_name, options.db.string(), describe_differences(found->config, config)));
    return found;
  };
  // The run's record, made or marked running again.
  auto open_record = [&](std::optional<RunRecord> run) -> RunRecord {
    if (!run) {
      RunRecord r;
      r.name = out.run_name;
      r.model_id = store.upsert_model(model.record);
      r.tasks = fmt::to_string(fmt::join(task_names, ","));
      r.config = config;
      r.config_digest = config_digest;
      r.engine_build = engine_build_string(backend);
      r.seed = options.seed;
      r.limit = options.limit;
      r.status = "running";
      r.id = store.create_run(r);
      run = r;
      out.created = true;
    } else {
      refuse_older_verdicts(store, *run, plans);
      store.set_run_limit(run->id, options.limit);
      store.set_run_status(run->id, "running");
    }
    fmt::print(log, "yardstick: run \"{}\" ({}) in {}\n", out.run_name, out.created ? "new" : "resuming",
               options.db.string());
    return *run;
  };

  std::optional<RunRecord> run;
  std::set<SampleKey> done;
  if (!defer_identity) {
    run = identify();
    if (options.rescore) {
      if (!run) throw InputError(fmt::format("database {} has no run named \"{}\" to re-score", options.db.string(),
                                             out.run_name));
      out.written = regrade(store, *run);
      out.metrics = compute_metrics(store, run->id);
      return out;
    }
    run = open_record(std::move(run));
    done = store.sample_keys(run->id);
  }

  // The plan, minus what the database already holds.
  std::vector<PendingSample> pending;
  for (const auto& plan : plans) {
    size_t n_docs = plan.data.docs.size();
    if (options.limit) n_docs = std::min(n_docs, static_cast<size_t>(*options.limit));
    for (size_t d = 0; d < n_docs; ++d) {
      const Doc& doc = plan.data.docs[d];
      for (int k = 0; k < plan.spec.samples_per_doc; ++k) {
        ++out.planned;
        if (done.count({plan.spec.name, doc.doc_id, k})) {
          ++out.already_done;
          continue;
        }
        pending.push_back({&plan, &doc, k, ""});
      }
    }
  }
  bool prompt_bos = true;
  if (!pending.empty()) {
    PromptOptions prompt_options{style, 0, "", "", model.chat_template ? &*model.chat_template : nullptr};
    if (!model.gold && style == PromptStyle::Chat) {
      // The chat template closes assistant turns (exemplars) with the EOS text.
      std::optional<Tokenizer> read;
      if (!lm) read = Tokenizer::from_file(model.synthetic ? model.tokenizer : model.dir);
      const Tokenizer& tok = lm ? *lm->tokenizer : *read;
      prompt_options.eos_token = tok.eos_token();
      prompt_options.bos_token = tok.bos_token();
    }
    if (style == PromptStyle::Chat) {
      // A model's own template decides the BOS as apply_chat_template does (text only); DeepSeek's,
      // standing in for a model without one, keeps the BOS id a run always had.
      const ChatTemplate& tmpl = model.chat_template ? *model.chat_template : ChatTemplate::deepseek();
      prompt_bos = !model.chat_template || tmpl.opens_with_bos(prompt_options.bos_token, prompt_options.eos_token);
      for (auto& plan : plans)
        if (plan.spec.multiple_choice())
          plan.choice_prefix = tmpl.reply_prefix(prompt_options.bos_token, prompt_options.eos_token);
    }
    for (auto& p : pending) {
      prompt_options.shots = p.task->shots;
      p.prompt = build_prompt(p.task->spec, p.task->data.exemplars, *p.doc, prompt_options);
    }
  }
  if (defer_identity)
    fmt::print(log, "yardstick: {} samples planned, {} to generate ({} backend; the run opens when the weights' "
               "digest is done)\n", out.planned, pending.size(), backend);
  else
    fmt::print(log, "yardstick: {} samples planned, {} already stored, {} to generate ({})\n", out.planned,
               out.already_done, pending.size(), model.gold ? "gold model: reference answers" : backend + " backend");

  const std::string label = defer_identity ? fmt::format("{}-{}", model.record.name, fmt::join(task_names, "+"))
                                           : out.run_name;
  Progress progress(label, static_cast<int64_t>(pending.size()), log);
  auto started = Clock::now();
  try {
    if (!pending.empty() && !model.gold && !lm) {
      const auto load_started = Clock::now();
      lm = load_model(model, options, log);
      out.load_seconds = seconds_since(load_started);
    }
    progress.restart_clock();   // tokens per second and the ETA count generation only
    started = Clock::now();
    // Deferred: the writer's thread opens the run (the store is its own from here to finish()).
    std::function<int64_t()> open_run;
    if (defer_identity) open_run = [&] {
      run = open_record(identify());
      return run->id;
    };
    SampleWriter writer(store, progress, std::move(open_run));
    const int64_t run_id = run ? run->id : -1;   // -1: the writer fills it in
    try {
      if (pending.empty()) {
        // nothing to generate
      } else if (model.gold) {
        answer_with_reference(pending, writer, run_id);
      } else {
        out.engine_start_seconds = std::chrono::duration<double>(Clock::now() - options.started_at).count();
        run_on_engine(*lm, options, pending, style == PromptStyle::Chat, prompt_bos, writer, run_id, out);
      }
    } catch (...) {
      // The engine failed: what finished before is still stored, then the engine's error goes up.
      try {
        writer.finish();
      } catch (...) {
      }
      throw;
    }
    writer.finish();   // rethrows the writer's first error
    out.written = writer.written();
    out.generated_tokens = writer.tokens();
    if (auto first = writer.first_submitted())
      out.first_result_seconds = std::chrono::duration<double>(*first - options.started_at).count();
  } catch (...) {
    if (run) store.set_run_status(run->id, "failed");
    throw;
  }
  out.generate_seconds = seconds_since(started);
  const auto release_started = Clock::now();
  lm.reset();   // frees the device before the metrics (and a caller's next run)
  out.release_seconds = seconds_since(release_started);
  if (!pending.empty()) progress.finish();

  out.metrics = compute_metrics(store, run->id);
  // Finished when every planned sample is stored (another process may have written some).
  auto stored = store.sample_keys(run->id);
  bool complete = std::all_of(pending.begin(), pending.end(), [&](const PendingSample& p) {
    return stored.count({p.task->spec.name, p.doc->doc_id, p.sample_idx}) > 0;
  });
  store.set_run_status(run->id, complete ? "finished" : "failed");
  out.wall_seconds = std::chrono::duration<double>(Clock::now() - options.started_at).count();
  return out;
}

double RunOutcome::prefill_tokens_per_second() const {
  return prefill_step_seconds > 0 ? double(prefill_tokens) / prefill_step_seconds : 0.0;
}

double RunOutcome::decode_tokens_per_second() const {
  const double decode_seconds = forward_seconds - prefill_step_seconds;
  return decode_seconds > 0 ? double(decode_tokens) / decode_seconds : 0.0;
}

}  // namespace yardstick
