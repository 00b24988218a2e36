#include "harness/run.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <future>
#include <fstream>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "datasets/checkout.h"
#include "datasets/data_dir.h"
#include "engine/error.h"
#include "engine/sha256.h"
#include "harness/choice_scoring.h"
#include "harness/digests.h"
#include "harness/progress.h"
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

struct ModelInfo {
  ModelRecord record;
  bool gold = false;
  std::filesystem::path dir;
  bool chat_template = false;   // tokenizer_config.json carries one: a chat model
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

ModelInfo describe_model(Store& store, const std::string& model) {
  ModelInfo info;
  if (model == kGoldModel) {
    info.gold = true;
    info.record.name = kGoldModel;
    info.record.weights_digest = "builtin:gold";
    info.record.config = {{"builtin", kGoldModel}, {"answers_with", "the dataset's reference solution"}};
    return info;
  }
  std::error_code ec;
  info.dir = std::filesystem::canonical(model, ec);
  if (ec || !std::filesystem::is_directory(info.dir))
    throw InputError(fmt::format("--model {}: not a model directory (nor \"{}\", the built-in model)", model,
                                 kGoldModel));
  // Parsing the config now gives a clear error for an unsupported model before any hashing.
  (void)load_model_config(info.dir);
  info.record.name = info.dir.filename().string();
  info.record.path = info.dir.string();
  info.record.config = read_json_file(info.dir / "config.json");
  info.record.weights_digest = weights_digest(store, info.dir);
  info.record.tokenizer_digest = tokenizer_digest(store, info.dir);
  if (std::filesystem::is_regular_file(info.dir / "tokenizer_config.json"))
    info.chat_template = read_json_file(info.dir / "tokenizer_config.json").contains("chat_template");
  info.record.config = {{"config.json", info.record.config},
                        {"config_files_digest", model_config_digest(store, info.dir)}};
  return info;
}

// ------------------------------------------------------------------ the plan

struct TaskPlan {
  TaskSpec spec;
  TaskData data;
  int shots = 0;
  int max_new_tokens = 0;
  std::vector<std::string> stop;
  // Multiple choice through the chat template: the assistant turn is "Assistant: " + content, so a
  // choice follows the generation prompt "Assistant:" after a space.
  std::string choice_prefix;
};

struct PendingSample {
  const TaskPlan* task = nullptr;
  const Doc* doc = nullptr;
  int sample_idx = 0;
  std::string prompt;
};

std::string sanitize_name(std::string s) {
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '-';
  return s;
}

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
  std::vector<std::pair<int64_t, std::future<std::vector<Verdict>>>> grading;
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

// One pass of generation with the engine; each result is graded and stored as it arrives.
// Grading that takes a while (code runs in the sandbox) goes on in the background while the
// engine keeps generating; a sample is stored once its verdicts are in, in arrival order.
struct Writer {
  Store& store;
  int64_t run_id;
  Progress& progress;
  std::mutex mu;
  int64_t written = 0;
  int64_t tokens = 0;
  std::exception_ptr failure;   // the first error inside a completion callback
  std::deque<std::pair<SampleRecord, std::future<std::vector<Verdict>>>> grading;   // oldest first

  void write(const PendingSample& p, SampleRecord s) {
    std::lock_guard lock(mu);
    if (failure) return;   // stop writing once something broke; generate() will rethrow
    try {
      s.run_id = run_id;
      s.task = p.task->spec.name;
      s.doc_id = p.doc->doc_id;
      s.sample_idx = p.sample_idx;
      s.prompt = p.prompt;
      s.gold = p.doc->gold;
      auto verdicts = grade_async(p.task->spec.scorer, s.output, s.gold);
      grading.emplace_back(std::move(s), std::move(verdicts));
      store_graded(/*wait=*/false);
    } catch (...) {
      failure = std::current_exception();
    }
  }

  // After the last write: waits for the grading still under way and stores those samples.
  void finish() {
    std::lock_guard lock(mu);
    if (failure) return;
    try {
      store_graded(/*wait=*/true);
    } catch (...) {
      failure = std::current_exception();
    }
  }

 private:
  // Stores the samples at the front whose verdicts are ready (with `wait`, all of them).
  void store_graded(bool wait) {
    while (!grading.empty()) {
      auto& [s, verdicts] = grading.front();
      if (!wait && verdicts.wait_for(std::chrono::seconds(0)) != std::future_status::ready) break;
      if (store.insert_sample(s, verdicts.get())) ++written;
      tokens += s.output_tokens;
      progress.advance(1, s.output_tokens);
      grading.pop_front();
    }
  }
};

void answer_with_reference(const std::vector<PendingSample>& pending, Writer& writer) {
  for (const auto& p : pending) {
    SampleRecord s;
    s.output = p.doc->reference;
    s.finish_reason = "reference";
    writer.write(p, std::move(s));
    if (writer.failure) std::rethrow_exception(writer.failure);
  }
}

uint64_t doc_seed(uint64_t run_seed, const std::string& task, const std::string& doc_id) {
  // A doc's sampling seed depends only on the run seed and the doc, never on the plan's order,
  // so a resumed run samples a doc exactly as an uninterrupted one would.
  std::string digest = sha256_hex(fmt::format("{}\n{}\n{}", run_seed, task, doc_id));
  return std::stoull(digest.substr(0, 15), nullptr, 16);
}

// Multiple choice: one loglikelihood request per doc (the prompt prefilled once, every choice a
// continuation), plus one with the unconditional context when the task normalises by it.
void score_choices_with_engine(LoadedModel& lm, std::optional<int32_t> bos, const std::vector<PendingSample>& pending,
                               const RunOptions& options, Writer& writer) {
  auto with_bos = [&](const std::string& text) {
    std::vector<int32_t> ids;
    if (bos) ids.push_back(*bos);
    auto body = lm.tokenizer->encode(text);
    ids.insert(ids.end(), body.begin(), body.end());
    return ids;
  };
  size_t group = static_cast<size_t>(std::max(1, options.max_batch)) * 4;
  for (size_t begin = 0; begin < pending.size(); begin += group) {
    size_t end = std::min(pending.size(), begin + group);
    std::vector<LoglikelihoodRequest> requests;
    std::vector<std::optional<size_t>> unconditional_of(end - begin);   // index into requests
    for (size_t i = begin; i < end; ++i) {
      const PendingSample& p = pending[i];
      LoglikelihoodRequest r;
      r.context_ids = with_bos(p.prompt);
      for (const auto& choice : p.doc->choices)
        r.continuations.push_back(lm.tokenizer->encode(p.task->choice_prefix + choice));
      requests.push_back(r);
      if (p.task->spec.choice.normalization == "unconditional") {
        r.context_ids = with_bos(p.task->spec.choice.unconditional_context);
        unconditional_of[i - begin] = requests.size();
        requests.push_back(std::move(r));
      }
    }
    auto submitted = Clock::now();
    std::vector<LoglikelihoodResult> results = lm.engine->loglikelihood(requests);
    for (size_t i = begin, k = 0; i < end; ++i, ++k) {
      const PendingSample& p = pending[i];
      SampleRecord s;
      s.prompt_tokens = static_cast<int64_t>(requests[k].context_ids.size());
      s.latency_s = std::chrono::duration<double>(Clock::now() - submitted).count();
      const LoglikelihoodResult& conditional = results[k];
      const LoglikelihoodResult* unconditional = nullptr;
      if (auto u = unconditional_of[i - begin]) {
        unconditional = &results[*u];
        ++k;
      }
      std::string error = !conditional.error.empty() ? conditional.error : unconditional ? unconditional->error : "";
      if (!error.empty()) {
        s.finish_reason = finish_reason_name(FinishReason::Error);
        s.error = error;
      } else {
        s.output = choice_output(p.task->spec.choice, pick_choice(p.task->spec.choice, conditional, unconditional)).dump();
        s.finish_reason = "scored";
      }
      writer.write(p, std::move(s));
      if (writer.failure) std::rethrow_exception(writer.failure);
    }
  }
}

// What the run's summary reports of the engine.
struct EngineRun {
  EngineStats stats;          // forward steps, KV preemptions
  double load_seconds = 0.0;  // opening the model: weights read, converted, uploaded
};

EngineRun generate_with_engine(const ModelInfo& model, const RunOptions& options,
                               const std::vector<PendingSample>& pending, Writer& writer) {
  EngineRun result;
  const auto load_started = Clock::now();
  LoadedModel lm = open_model(model.dir, ModelOptions{options.backend, options.threads, options.max_batch});
  result.load_seconds = std::chrono::duration<double>(Clock::now() - load_started).count();
  writer.progress.restart_clock();   // tokens per second and the ETA count generation only
  if (!lm.tokenizer)
    throw ModelFileError(fmt::format("{}: no tokenizer.json; yardstick run builds text prompts and needs one",
                                     model.dir.string()));
  std::optional<int32_t> bos;
  if (lm.config.bos_token_id >= 0) bos = lm.config.bos_token_id;
  else bos = lm.tokenizer->bos_id();

  // Multiple-choice samples are scored, not generated.
  std::vector<PendingSample> choice_samples;
  for (const auto& p : pending)
    if (p.task->spec.multiple_choice()) choice_samples.push_back(p);
  score_choices_with_engine(lm, bos, choice_samples, options, writer);
  std::vector<PendingSample> generation;
  for (const auto& p : pending)
    if (!p.task->spec.multiple_choice()) generation.push_back(p);

  // Requests go in groups a few times the engine's batch, so the engine can keep its batch full
  // while memory for prompts stays bounded; results are stored one by one as they finish.
  size_t group = static_cast<size_t>(std::max(1, options.max_batch)) * 4;
  for (size_t begin = 0; begin < generation.size(); begin += group) {
    size_t end = std::min(generation.size(), begin + group);
    std::vector<GenerateRequest> requests;
    std::vector<int64_t> prompt_tokens;
    for (size_t i = begin; i < end; ++i) {
      const PendingSample& p = generation[i];
      GenerateRequest r;
      if (bos) r.prompt_ids.push_back(*bos);
      auto ids = lm.tokenizer->encode(p.prompt);
      r.prompt_ids.insert(r.prompt_ids.end(), ids.begin(), ids.end());
      r.max_new_tokens = p.task->max_new_tokens;
      r.stop = p.task->stop;
      r.sampling.temperature = static_cast<float>(p.task->spec.sampling.temperature);
      r.sampling.top_p = static_cast<float>(p.task->spec.sampling.top_p);
      r.sampling.top_k = p.task->spec.sampling.top_k;
      r.sampling.seed = doc_seed(options.seed, p.task->spec.name, p.doc->doc_id) + static_cast<uint64_t>(p.sample_idx);
      r.n = 1;
      prompt_tokens.push_back(static_cast<int64_t>(r.prompt_ids.size()));
      requests.push_back(std::move(r));
    }
    auto submitted = Clock::now();
    lm.engine->generate(requests, [&](size_t index, GenerateResult result) {
      SampleRecord s;
      s.prompt_tokens = prompt_tokens[index];
      s.latency_s = std::chrono::duration<double>(Clock::now() - submitted).count();
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
      writer.write(generation[begin + index], std::move(s));
    });
    if (writer.failure) std::rethrow_exception(writer.failure);
  }
  result.stats = lm.engine->stats();
  return result;
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

  ModelInfo model = describe_model(store, options.model);
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
    if (plan.max_new_tokens < 1) throw InputError("--max-new-tokens must be >= 1");
    plan.stop = st.stop;
    if (plan.spec.multiple_choice() && style == PromptStyle::Chat) plan.choice_prefix = " ";
    task_records.push_back({{"name", plan.spec.name},
                            {"version", plan.spec.version},
                            {"shots", plan.shots},
                            {"max_new_tokens", plan.max_new_tokens},
                            {"stop", plan.stop},
                            {"data_files", plan.data.file_digests},
                            {"spec", task_spec_to_json(plan.spec)}});
    plans.push_back(std::move(plan));
  }
  json config = {{"schema_version", kSchemaVersion},
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
  std::string config_digest = sha256_hex(config.dump());

  std::vector<std::string> task_names;
  for (const auto& p : plans) task_names.push_back(p.spec.name);
  out.run_name = options.run_name.empty()
                     ? sanitize_name(fmt::format("{}-{}-{}", model.record.name, fmt::join(task_names, "+"),
                                                 config_digest.substr(0, 8)))
                     : options.run_name;

  auto run = store.find_run(out.run_name);
  if (run && run->config_digest != config_digest)
    throw InputError(fmt::format(
        "run \"{}\" in {} was made with a different configuration (differs at {}); resume it with the options "
        "it was started with, or give a new --run-name",
        out.run_name, options.db.string(), describe_differences(run->config, config)));
  if (options.rescore) {
    if (!run) throw InputError(fmt::format("database {} has no run named \"{}\" to re-score", options.db.string(),
                                           out.run_name));
    out.written = regrade(store, *run);
    out.metrics = compute_metrics(store, run->id);
    return out;
  }

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
    store.set_run_limit(run->id, options.limit);
    store.set_run_status(run->id, "running");
  }
  fmt::print(log, "yardstick: run \"{}\" ({}) in {}\n", out.run_name, out.created ? "new" : "resuming",
             options.db.string());

  // The plan, minus what the database already holds.
  auto done = store.sample_keys(run->id);
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
  if (!pending.empty()) {
    std::string eos_token;
    if (!model.gold && style == PromptStyle::Chat) {
      // The chat template closes assistant turns (exemplars) with the EOS text.
      eos_token = Tokenizer::from_file(model.dir).eos_token();
    }
    for (auto& p : pending)
      p.prompt = build_prompt(p.task->spec, p.task->data.exemplars, *p.doc,
                              PromptOptions{style, p.task->shots, eos_token});
  }
  fmt::print(log, "yardstick: {} samples planned, {} already stored, {} to generate ({})\n", out.planned,
             out.already_done, pending.size(), model.gold ? "gold model: reference answers" : backend + " backend");

  Progress progress(out.run_name, static_cast<int64_t>(pending.size()), log);
  Writer writer{store, run->id, progress};
  auto started = Clock::now();
  try {
    if (pending.empty()) {
      // nothing to generate
    } else if (model.gold) {
      answer_with_reference(pending, writer);
    } else {
      const EngineRun er = generate_with_engine(model, options, pending, writer);
      out.engine_steps = er.stats.steps;
      out.preemptions = er.stats.preemptions;
      out.load_seconds = er.load_seconds;
    }
    writer.finish();
    if (writer.failure) std::rethrow_exception(writer.failure);
  } catch (...) {
    store.set_run_status(run->id, "failed");
    throw;
  }
  out.generate_seconds = std::chrono::duration<double>(Clock::now() - started).count() - out.load_seconds;
  if (!pending.empty()) progress.finish();
  out.written = writer.written;
  out.generated_tokens = writer.tokens;

  out.metrics = compute_metrics(store, run->id);
  // Finished when every planned sample is stored (another process may have written some).
  auto stored = store.sample_keys(run->id);
  bool complete = std::all_of(pending.begin(), pending.end(), [&](const PendingSample& p) {
    return stored.count({p.task->spec.name, p.doc->doc_id, p.sample_idx}) > 0;
  });
  store.set_run_status(run->id, complete ? "finished" : "failed");
  return out;
}

}  // namespace yardstick
