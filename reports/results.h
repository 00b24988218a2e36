// A run's results from its per-doc outcomes: one metric per scorer with its 95% interval, and the
// primary scorer's accuracy broken down by the docs' groups (subject, level, category) with the
// average over each key's groups. Pure functions: harness/report_data.h reads the outcomes from
// SQLite.
//
// Which interval:
//   - one sample per doc: the metric is "acc", a proportion over questions, Wilson interval;
//   - several samples per doc (code, pass@k): the metric is "pass@1", the mean over problems of
//     c/n (the unbiased pass@1 of Chen et al. 2021), with a bootstrap interval over problems.
// Averages, as the C-Eval and CMMLU tables compute them: a task's headline number is over
// questions (what lm-evaluation-harness and Hendrycks' MMLU code report, and what the paper's
// single number per benchmark is read as; PROTOCOL.md does not state otherwise); each breakdown
// key also gets the unweighted average over its groups ("average over subjects"), whose interval
// is a stratified bootstrap. Reports show both, so either reading of a paper's table can be
// checked. A group of another key whose docs carry a subject (C-Eval's category) also gets the
// average over its subjects, as those benchmarks compute a category's score.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "reports/markdown.h"
#include "reports/stats.h"

namespace yardstick {

// One doc as one scorer graded it.
struct DocOutcome {
  std::string doc_id;
  int64_t samples = 0;   // samples graded (1 unless the task samples several per doc)
  int64_t correct = 0;   // of which correct
  std::map<std::string, std::string> groups;   // {"subject": "Algebra"}; empty when unknown
  int64_t unanswered = 0;   // of which the extractor found no answer (verdict status "no_answer")
};

// One scorer's outcomes over a task's docs, in a stable order (by doc_id).
struct ScorerOutcomes {
  std::string scorer;
  int rank = 0;   // 0: the task's primary scorer
  std::vector<DocOutcome> docs;
};

// Per doc: the fraction of its samples that were correct (0/1 with one sample).
std::vector<double> per_doc_values(const ScorerOutcomes& outcomes);

// True when every doc has exactly one sample, so the metric is a plain proportion.
bool single_sample(const ScorerOutcomes& outcomes);

// One metric per scorer, in rank order (see the header comment for which metric and interval).
std::vector<ReportMetric> summarize_metrics(const std::vector<ScorerOutcomes>& scorers,
                                            double confidence = kDefaultConfidence);

// The outcomes' breakdown by every group key their docs carry, keys and values sorted.
std::vector<Breakdown> summarize_breakdowns(const ScorerOutcomes& outcomes, double confidence = kDefaultConfidence);

}  // namespace yardstick
