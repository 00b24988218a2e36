// The CLUE / FewCLUE benchmarks the paper reports: CHID (idiom cloze), C3 (reading comprehension),
// CCPM (classical poem lines) scored by log-likelihood with length normalisation, and CLUEWSC
// (pronoun reference) by generation (PROTOCOL.md). Fields each adapter provides to templates are
// listed with it; the gold of a multiple-choice doc is the index of its right choice.
#pragma once

#include <filesystem>

#include "tasks/task_data.h"
#include "tasks/task_spec.h"

namespace yardstick {

// dataset.file: chid/test_public.json (JSON lines: candidates, content with one "#idiom#", answer).
// Fields: before (the text up to the blank). Choices: each candidate idiom followed by the rest of
// the text, so a choice is scored as the whole passage it completes. Doc id: the record's id.
void load_chid(const TaskSpec& spec, const std::filesystem::path& data_dir, TaskData& data);

// dataset.file: "c3" with dataset.split "test" or "dev": c3/c3-m-<split>.json and c3/c3-d-<split>.json
// ([[paragraphs], [{question, choice, answer}], id] items). One doc per question; fields: passage
// (paragraphs joined by newlines), question. Choices: the answer texts. Doc id "<m|d>-<item>-<question>";
// group "source" ("m" mixed-genre, "d" dialogue).
void load_c3(const TaskSpec& spec, const std::filesystem::path& data_dir, TaskData& data);

// dataset.file: ccpm/valid.jsonl (JSON lines: translation, choices, answer; the labelled split).
// Fields: translation. Choices: the four poem lines. Doc id: the line index.
void load_ccpm(const TaskSpec& spec, const std::filesystem::path& data_dir, TaskData& data);

// dataset.file: cluewsc/test_public.json (JSON lines: text, target {span1_text, span2_text}, label).
// Generation: the model names what the pronoun refers to. Fields: text, pronoun (span2), candidate
// (span1). Gold: {"candidate": span1, "label": true|false} as JSON (scorers/cluewsc.h); reference:
// span1 when the label is true, else "不是" + span1. Exemplars (fewshot.split "train":
// cluewsc/train_few_all.json, the items labelled true, in file order): text, pronoun, referent.
void load_cluewsc(const TaskSpec& spec, const std::filesystem::path& data_dir, TaskData& data);

}  // namespace yardstick
