// One evaluation item of a task, as the prompt builder and the scorer see it.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace yardstick {

// Template fields by name (the task spec maps them from dataset keys).
using Fields = std::map<std::string, std::string>;

struct Doc {
  std::string doc_id;   // the dataset's own id, else the 0-based line index (DESIGN.md)
  Fields fields;        // what the prompt templates may use, e.g. {question}
  std::string gold;     // what the scorer grades against (GSM8K: the reference answer text)
  std::string reference;   // the reference solution; the built-in "gold" model answers with it
  // Values that break a task's accuracy down, by name: {"level": "Level 3", "subject": "Algebra"}.
  std::map<std::string, std::string> groups;
  // Multiple-choice tasks: the texts scored as continuations of the prompt; `gold` and
  // `reference` are then the index of the right one ("0", "1", ...).
  std::vector<std::string> choices;
  // Exemplars of this doc alone (C-Eval and CMMLU take them from the subject's dev split); when
  // empty the task's exemplars are used.
  std::vector<Fields> exemplars;
};

}  // namespace yardstick
